// The command line: one table defines every option once (name, letter, argument,
// default, help text, parser). It drives getopt_long, --help and the man page check.
// Pure: no file system access; checks that need the file system live in main.cpp.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "clock.h"
#include "log.h"

namespace clsync {

enum class Monitor { Inotify, Fanotify, Auto };

struct Options {
    std::string watch_dir;
    std::vector<std::string> destinations;
    std::string mode = "rsyncdirect";
    std::string sync_handler;               // rsync binary; empty: "rsync" from PATH
    std::vector<std::string> handler_args;  // after "--"
    Millis delay_collect{1000};
    Millis delay_collect_bigfile{30000};
    std::uint64_t threshold_bigfile = 128ull << 20;  // 0: no big-file queue
    Millis delay_sync{0};
    unsigned threads = 2;
    LogLevel log_level = LogLevel::Info;
    bool exit_on_no_events = false;
    unsigned max_iterations = 0;  // 0: unlimited
    Monitor monitor = Monitor::Inotify;
    bool one_file_system = false;
    bool exclude_mount_points = false;  // implies one_file_system
    bool skip_initialsync = false;
    bool only_initialsync = false;
    bool show_help = false;
    bool show_version = false;
};

// A bad command line; what() names the option and the problem.
struct OptionError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class ArgKind { None, Required };

struct OptionSpec {
    const char* long_name;
    char short_name;  // 0: long only
    ArgKind arg;
    const char* arg_name;
    const char* default_text;  // nullptr: no default worth printing
    const char* help;
    void (*apply)(Options& options, const char* value);
};

const std::vector<OptionSpec>& option_table();

// Parses argv; throws OptionError on any problem. Does not touch the file system.
Options parse_command_line(int argc, char* const argv[]);

// "--help" text, generated from the option table.
std::string help_text(const char* program);

// Value parsers, exposed for tests. Each throws OptionError naming `option`.
Millis parse_seconds(const char* option, const char* value);
std::uint64_t parse_size(const char* option, const char* value);
unsigned parse_count(const char* option, const char* value, unsigned min);

}  // namespace clsync
