// The options: one table defines every option once (name, letter, argument, default,
// help text, parser). It drives getopt_long, the config file keys (config_file.h),
// --help and the man page check.
//
// Options arrive as raw settings (name = text, with where they came from); resolve()
// merges the config file's with the command line's (the command line wins), expands
// %option% references and parses the values. Pure: no file system access.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "clock.h"
#include "log.h"
#include "status_report.h"

namespace clsync {

enum class Monitor { Inotify, Fanotify, Auto };
enum class Mode { RsyncDirect, RsyncShell, Shell, Direct, Simple, Librsync };
// When -M librsync makes written files durable (--fsync).
enum class FsyncPolicy {
    Batch,  // one syncfs of the destination before a group of temp files is renamed (default)
    File,   // an fdatasync of each temp file before its rename
    None,   // never: after a power cut a renamed file may be empty
};

const char* mode_name(Mode mode);

struct Options {
    std::string watch_dir;
    std::vector<std::string> destinations;
    Mode mode = Mode::RsyncDirect;
    std::string sync_handler;               // rsync binary or handler; empty: "rsync" from PATH
    std::string ssh_command;                // remote shell for host:path destinations; empty: rsync's default
    std::vector<std::string> handler_args;  // after "--" (or the config key "--")
    std::string rules_file;
    Millis delay_collect{1000};
    Millis delay_collect_bigfile{30000};
    std::uint64_t threshold_bigfile = 128ull << 20;  // 0: no big-file queue
    Millis delay_sync{0};
    Millis timeout_sync{86400 * 1000};  // 0: none
    unsigned threads = 2;
    unsigned retries = 0;  // failed runs of one batch before giving up; 0: never give up
    bool ignore_failures = false;
    std::vector<int> ignore_exitcodes;
    std::string lists_dir;  // empty: a private temporary directory
    std::string state_dir;  // empty: the default for the label (default_state_dir)
    FsyncPolicy fsync = FsyncPolicy::Batch;
    bool dont_unlink_lists = false;
    bool synclist_simplify = false;
    std::string label = "nolabel";
    std::string config_file;  // what -H said ("" = search; "/NULL/" = none)
    bool background = false;
    std::string pid_file;
    std::string status_file;
    StatusFormat status_format = StatusFormat::Text;
    LogOutput output = LogOutput::Stderr;
    LogLevel log_level = LogLevel::Info;
    bool exit_on_no_events = false;
    unsigned max_iterations = 0;  // 0: unlimited
    Monitor monitor = Monitor::Inotify;
    bool one_file_system = false;
    bool exclude_mount_points = false;  // implies one_file_system
    bool source_guard = true;           // hold syncs while the watch dir is not itself (source_guard.h)
    bool skip_initialsync = false;
    bool only_initialsync = false;
    bool full_initialsync = false;  // rules do not apply to the initial sync
    std::string modification_signature;
    std::string exit_hook;
    std::string pre_exit_hook;
    std::string standby_file;
    bool sync_on_quit = false;
    std::string uid;
    std::string gid;
    std::string chroot_dir;
    // The cluster notifier (cluster_notifier.h): on when a key is given.
    std::string cluster_iface;
    std::string cluster_ip = "227.108.115.121";
    unsigned cluster_port = 40079;
    std::string cluster_node_name;  // empty: the host name
    std::string cluster_key;        // the file holding the shared secret
    // --cluster-peer: the node whose tree each destination is, by destination (as -D gives it).
    std::map<std::string, std::string> cluster_peers;
    bool show_help = false;
    bool show_version = false;
};

// A bad command line; what() names the option and the problem. Exit code 64.
struct OptionError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A bad config file; what() names the file, the line and the key. Exit code 78.
struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Optional: a flag that also takes "=1"/"=0" (the original's "-b1", "background = 1").
enum class ArgKind { None, Optional, Required };

struct OptionSpec {
    const char* long_name;
    char short_name;  // 0: long only
    ArgKind arg;
    const char* arg_name;
    const char* default_text;  // nullptr: no default worth printing
    const char* help;
    // Parses `value` into `options`; throws OptionError naming the option. A repeatable
    // option (several -D) adds to a list, and an empty value clears the list.
    void (*apply)(Options& options, const std::string& value);
    bool repeatable = false;
};

const std::vector<OptionSpec>& option_table();
const OptionSpec* find_option(const std::string& long_name);

// Options of the original clsync 0.4 that this clsync does not have, with the reason;
// nullptr if `long_name` is not one of them.
const char* unsupported_original_option(const std::string& long_name);

// One "name = value" from the command line or a config file.
struct Setting {
    const OptionSpec* spec;
    std::string value;
    std::string origin;  // "file:line" for config files; empty for the command line
};

struct CommandLine {
    std::vector<Setting> settings;
    std::vector<std::string> handler_args;
    bool has_handler_args = false;  // "--" was given (even with nothing after it)
};

// Splits argv into settings; throws OptionError on unknown options or missing values.
CommandLine read_command_line(int argc, char* const argv[]);

// The value the command line gives `long_name` (the last one), or nullptr.
const std::string* command_line_value(const CommandLine& line, const char* long_name);

// Merges, expands and parses: config file settings first, the command line over them
// (a repeatable option given on the command line replaces the file's list). `%name%`
// in a value is replaced by the option `name`'s value (or its default); names that
// are not options (%INCLUDE-LIST-PATH%, ...) are left for the handler. Errors in a
// file's value are ConfigErrors naming file:line; others are OptionErrors.
Options resolve_options(const std::vector<Setting>& file_settings, const std::vector<std::string>* file_handler_args,
                        const CommandLine& line);

// Command line only (tests, and when no config file is read).
Options parse_command_line(int argc, char* const argv[]);

// "--help" text, generated from the option table.
std::string help_text(const char* program);

// Value parsers, exposed for tests. Each throws OptionError naming `option`.
Millis parse_seconds(const char* option, const std::string& value);
std::uint64_t parse_size(const char* option, const std::string& value);
unsigned parse_count(const char* option, const std::string& value, unsigned min);
bool parse_bool(const char* option, const std::string& value);

}  // namespace clsync
