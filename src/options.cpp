#include "options.h"

#include <getopt.h>
#include <glib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include "cluster_packet.h"
#include "substitute.h"

namespace clsync {
namespace {

[[noreturn]] void bad_value(const char* option, const std::string& value, const char* expected) {
    throw OptionError(std::string("option --") + option + ": invalid value '" + value + "' (expected " + expected +
                      ")");
}

void set_cluster_peer(Options& o, const std::string& v) {
    if (v.empty()) return o.cluster_peers.clear();
    std::size_t equals = v.find('=');
    if (equals == 0 || equals == std::string::npos || equals > kMaxNodeName || equals + 1 == v.size())
        bad_value("cluster-peer", v, "NAME=DEST, a node name of 1 to 64 bytes without '=' and a destination");
    std::string node = v.substr(0, equals), destination = v.substr(equals + 1);
    auto [it, added] = o.cluster_peers.emplace(destination, node);
    if (!added && it->second != node)
        throw OptionError("option --cluster-peer: destination '" + destination + "' is given two nodes, " + it->second +
                          " and " + node);
}

void set_mode(Options& o, const std::string& v) {
    for (Mode m : {Mode::RsyncDirect, Mode::RsyncShell, Mode::Shell, Mode::Direct, Mode::Simple, Mode::Librsync})
        if (v == mode_name(m)) {
            o.mode = m;
            return;
        }
    bad_value("mode", v, "rsyncdirect, librsync, rsyncshell, shell, direct or simple");
}

void set_monitor(Options& o, const std::string& v) {
    if (v == "inotify")
        o.monitor = Monitor::Inotify;
    else if (v == "fanotify")
        o.monitor = Monitor::Fanotify;
    else if (v == "auto")
        o.monitor = Monitor::Auto;
    else
        bad_value("monitor", v, "inotify, fanotify or auto");
}

void set_output(Options& o, const std::string& v) {
    if (v == "stderr")
        o.output = LogOutput::Stderr;
    else if (v == "stdout")
        o.output = LogOutput::Stdout;
    else if (v == "syslog")
        o.output = LogOutput::Syslog;
    else
        bad_value("output", v, "stderr, stdout or syslog");
}

void set_threading(Options& o, const std::string& v) {
    // The original clsync took off/safe/full; map them onto a worker count.
    if (v == "off")
        o.threads = 1;
    else if (v == "safe" || v == "full")
        o.threads = 2;
    else
        o.threads = parse_count("threading", v, 1);
    if (o.threads > 64) bad_value("threading", v, "at most 64 workers");
}

void set_debug(Options& o, const std::string& v) {
    unsigned level = parse_count("debug", v, 0);
    if (level > 0)
        o.log_level = LogLevel::Debug;
    else if (o.log_level == LogLevel::Debug)
        o.log_level = LogLevel::Info;
}

// The comma-separated items of `v`, each without the blanks around it.
std::vector<std::string> comma_list(const std::string& v) {
    gchar** parts = g_strsplit(v.c_str(), ",", -1);
    std::vector<std::string> items;
    for (gchar** p = parts; *p; ++p) items.emplace_back(g_strstrip(*p));
    g_strfreev(parts);
    return items;
}

// "23,24" adds 23 and 24; a 0 in the list drops what was there (as in the original).
void set_ignore_exitcode(Options& o, const std::string& v) {
    if (v.empty()) {
        o.ignore_exitcodes.clear();
        return;
    }
    std::vector<int> codes;
    bool drop = false;
    for (const std::string& item : comma_list(v)) {
        unsigned code = parse_count("ignore-exitcode", item, 0);
        if (code > 255) bad_value("ignore-exitcode", v, "exit codes from 1 to 255, separated by commas");
        if (code == 0)
            drop = true;
        else
            codes.push_back(static_cast<int>(code));
    }
    if (drop) o.ignore_exitcodes.clear();
    o.ignore_exitcodes.insert(o.ignore_exitcodes.end(), codes.begin(), codes.end());
}

// Fields of struct stat, as the original names them; "*" is all of them.
void set_modification_signature(Options& o, const std::string& v) {
    static const char* const fields[] = {"dev",  "ino",   "mode",  "nlink", "uid",     "gid",   "rdev",
                                         "size", "atime", "mtime", "ctime", "blksize", "blocks"};
    if (v != "*" && !v.empty()) {
        for (const std::string& part : comma_list(v)) {
            bool known = false;
            for (const char* field : fields) known = known || part == field;
            if (!known)
                throw OptionError("option --modification-signature: unknown stat field '" + part +
                                  "' (expected '*' or fields of: dev, ino, mode, nlink, uid, gid, rdev, size, atime, "
                                  "mtime, ctime, blksize, blocks)");
        }
    }
    o.modification_signature = v;
}

#define FLAG(name, field) [](Options& o, const std::string& v) { o.field = parse_bool(name, v); }
#define TEXT(field) [](Options& o, const std::string& v) { o.field = v; }

const std::vector<OptionSpec>
    kOptions =
        {
            // What to sync, and how.
            {"watch-dir", 'W', ArgKind::Required, "DIR", nullptr, "directory tree to watch and mirror (required)",
             TEXT(watch_dir)},
            {"destination-dir", 'D', ArgKind::Required, "DEST", nullptr,
             "destination: a directory, [user@]host:path (rsync over ssh) or rsync://host/module/path; repeat for "
             "several",
             [](Options& o, const std::string& v) {
                 if (v.empty())
                     o.destinations.clear();
                 else
                     o.destinations.push_back(v);
             },
             true},
            {"mode", 'M', ArgKind::Required, "MODE", "rsyncdirect",
             "how to sync: rsyncdirect, librsync (in process, local destinations), rsyncshell, shell, direct or simple",
             set_mode},
            {"sync-handler", 'S', ArgKind::Required, "PATH", "rsync",
             "rsync binary (rsyncdirect) or handler program (other modes)", TEXT(sync_handler)},
            {"ssh-command", 'e', ArgKind::Required, "COMMAND", "ssh",
             "remote shell for [user@]host:path destinations, with its options (rsync's -e)",
             [](Options& o, const std::string& v) {
                 gchar** words = nullptr;
                 GError* error = nullptr;
                 if (!v.empty() && !g_shell_parse_argv(v.c_str(), nullptr, &words, &error)) {
                     std::string why = error->message;
                     g_error_free(error);
                     throw OptionError("option --ssh-command: " + why);
                 }
                 g_strfreev(words);
                 o.ssh_command = v;
             }},
            {"rules-file", 'R', ArgKind::Required, "FILE", nullptr, "filter rules: [+-][fdswmW*]regex per line",
             TEXT(rules_file)},
            {"lists-dir", 'L', ArgKind::Required, "DIR", nullptr,
             "where list files for handlers are written (default: a private temporary directory)", TEXT(lists_dir)},
            {"state-dir", 0, ArgKind::Required, "DIR", nullptr,
             "where the paths still to be synced (and, with librsync, block signatures) are kept (default: "
             "/var/lib/clsync/LABEL for root, else $XDG_STATE_HOME/clsync/LABEL; without -l, LABEL is nolabel-HASH)",
             TEXT(state_dir)},
            {"fsync", 0, ArgKind::Required, "POLICY", "batch",
             "librsync mode: make files durable before they are renamed into place: batch (one syncfs per group), file "
             "(each file) or none",
             [](Options& o, const std::string& v) {
                 if (v == "batch")
                     o.fsync = FsyncPolicy::Batch;
                 else if (v == "file")
                     o.fsync = FsyncPolicy::File;
                 else if (v == "none")
                     o.fsync = FsyncPolicy::None;
                 else
                     bad_value("fsync", v, "batch, file or none");
             }},
            {"dont-unlink-lists", 'U', ArgKind::Optional, nullptr, nullptr, "keep list files after the handler ran",
             FLAG("dont-unlink-lists", dont_unlink_lists)},
            {"synclist-simplify", 0, ArgKind::Optional, nullptr, nullptr,
             "shell mode: list files hold bare paths, not \"sync LABEL MASK PATH\" lines",
             FLAG("synclist-simplify", synclist_simplify)},
            // Timing.
            {"delay-collect", 't', ArgKind::Required, "SECONDS", "1",
             "batching window for ordinary files (fractions allowed)",
             [](Options& o, const std::string& v) { o.delay_collect = parse_seconds("delay-collect", v); }},
            {"delay-collect-bigfile", 'T', ArgKind::Required, "SECONDS", "30", "batching window for big files",
             [](Options& o, const std::string& v) {
                 o.delay_collect_bigfile = parse_seconds("delay-collect-bigfile", v);
             }},
            {"threshold-bigfile", 'B', ArgKind::Required, "SIZE", "128M",
             "size (suffixes K, M, G, T) from which a file is big; 0 disables",
             [](Options& o, const std::string& v) { o.threshold_bigfile = parse_size("threshold-bigfile", v); }},
            {"delay-sync", 'w', ArgKind::Required, "SECONDS", "0", "minimum gap between two syncs of a destination",
             [](Options& o, const std::string& v) { o.delay_sync = parse_seconds("delay-sync", v); }},
            {"timeout-sync", 'k', ArgKind::Required, "SECONDS", "86400",
             "kill a sync run (its whole process group) after this long and retry it; 0: no limit",
             [](Options& o, const std::string& v) { o.timeout_sync = parse_seconds("timeout-sync", v); }},
            {"threading", 'p', ArgKind::Required, "N", "2", "number of sync workers (off = 1, safe and full = 2)",
             set_threading},
            // Failures.
            {"retries", 'r', ArgKind::Required, "N", "0",
             "failed runs of one batch before giving up (exit 75, or drop it with --ignore-failures); 0: retry forever",
             [](Options& o, const std::string& v) { o.retries = parse_count("retries", v, 0); }},
            {"ignore-failures", 0, ArgKind::Optional, nullptr, nullptr,
             "after --retries failed runs, log the batch as dropped and go on instead of exiting",
             FLAG("ignore-failures", ignore_failures)},
            {"ignore-exitcode", 'x', ArgKind::Required, "CODE[,CODE]", nullptr,
             "handler exit codes that count as success (0 clears the list)", set_ignore_exitcode, true},
            // Watching.
            {"monitor", 0, ArgKind::Required, "BACKEND", "inotify",
             "kernel interface: inotify (a watch per directory), fanotify (one mark per file system; root, Linux 5.9) "
             "or auto (fanotify where it works)",
             set_monitor},
            {"one-file-system", 0, ArgKind::Optional, nullptr, nullptr,
             "do not cross into other mounts (their mount point directories are synced empty)",
             [](Options& o, const std::string& v) { o.one_file_system = parse_bool("one-file-system", v); }},
            {"exclude-mount-points", 'X', ArgKind::Optional, nullptr, nullptr,
             "like --one-file-system, and leave out the mount point directories too",
             [](Options& o, const std::string& v) {
                 o.exclude_mount_points = parse_bool("exclude-mount-points", v);
                 if (o.exclude_mount_points) o.one_file_system = true;
             }},
            {"source-guard", 0, ArgKind::Optional, nullptr, "1",
             "hold a destination while the watch dir is unmounted, replaced or empty (=0: off)",
             FLAG("source-guard", source_guard)},
            {"modification-signature", 0, ArgKind::Required, "FIELDS", nullptr,
             "accepted for compatibility: every event is synced (rsync skips unchanged files itself)",
             set_modification_signature},
            // Start and exit.
            {"skip-initialsync", 0, ArgKind::Optional, nullptr, nullptr, "do not sync the whole tree at start",
             FLAG("skip-initialsync", skip_initialsync)},
            {"only-initialsync", 0, ArgKind::Optional, nullptr, nullptr, "sync the whole tree once and exit",
             FLAG("only-initialsync", only_initialsync)},
            {"full-initialsync", 'F', ArgKind::Optional, nullptr, nullptr,
             "ignore the rules file during the initial sync", FLAG("full-initialsync", full_initialsync)},
            {"exit-on-no-events", 0, ArgKind::Optional, nullptr, nullptr,
             "exit once the initial sync and all events queued so far are synced",
             FLAG("exit-on-no-events", exit_on_no_events)},
            {"max-iterations", 0, ArgKind::Required, "N", "0", "exit after N sync runs (0: never)",
             [](Options& o, const std::string& v) { o.max_iterations = parse_count("max-iterations", v, 0); }},
            {"sync-on-quit", 0, ArgKind::Optional, nullptr, nullptr, "on SIGQUIT, sync what is queued before exiting",
             FLAG("sync-on-quit", sync_on_quit)},
            {"pre-exit-hook", 0, ArgKind::Required, "PROGRAM", nullptr,
             "run \"PROGRAM LABEL\" before the last sync when exiting", TEXT(pre_exit_hook)},
            {"exit-hook", 0, ArgKind::Required, "PROGRAM", nullptr, "run \"PROGRAM LABEL\" when exiting",
             TEXT(exit_hook)},
            {"standby-file", 0, ArgKind::Required, "FILE", nullptr, "hold every sync while FILE exists",
             TEXT(standby_file)},
            // Configuration.
            {"config-file", 'H', ArgKind::Required, "FILE", nullptr,
             "config file (default: ~/.clsync.conf, /etc/clsync/clsync.conf, /etc/clsync.conf; /NULL/: none)",
             TEXT(config_file)},
            {"config-block", 'K', ArgKind::Required, "NAME", "default", "config block to use",
             [](Options&, const std::string&) {}},  // read before the options are resolved (config_file.cpp)
            {"config-block-inherits", 0, ArgKind::Required, "NAME", nullptr,
             "config file only: the block whose settings this block inherits", [](Options&, const std::string&) {}},
            {"label", 'l', ArgKind::Required, "LABEL", "nolabel", "instance name, for logs, handlers and %label%",
             TEXT(label)},
            // Running as a daemon.
            {"background", 'b', ArgKind::Optional, nullptr, nullptr, "detach and run in the background",
             FLAG("background", background)},
            {"pid-file", 'z', ArgKind::Required, "FILE", nullptr, "write the process id to FILE (removed at exit)",
             TEXT(pid_file)},
            {"status-file", 0, ArgKind::Required, "FILE", nullptr,
             "keep the current state (starting, running, ...) in FILE", TEXT(status_file)},
            {"status-format", 0, ArgKind::Required, "FORMAT", "text",
             "--status-file as text (the original's lines, then one per destination) or json",
             [](Options& o, const std::string& v) {
                 if (v == "text")
                     o.status_format = StatusFormat::Text;
                 else if (v == "json")
                     o.status_format = StatusFormat::Json;
                 else
                     bad_value("status-format", v, "text or json");
             }},
            {"uid", 'u', ArgKind::Required, "USER", nullptr, "switch to this user (name or number) after start-up",
             TEXT(uid)},
            {"gid", 'g', ArgKind::Required, "GROUP", nullptr, "switch to this group (name or number) after start-up",
             TEXT(gid)},
            {"chroot", 0, ArgKind::Required, "DIR", nullptr,
             "chroot to DIR first thing (-W, -D, -S, -R and -L are paths inside it)", TEXT(chroot_dir)},
            // Cluster.
            {"cluster-key", 0, ArgKind::Required, "FILE", nullptr,
             "run as a node of a cluster syncing both ways; FILE holds the shared secret (mode 0600)",
             TEXT(cluster_key)},
            {"cluster-node-name", 0, ArgKind::Required, "NAME", "the host name", "this node's name in the cluster",
             [](Options& o, const std::string& v) {
                 if (v.empty() || v.size() > kMaxNodeName) bad_value("cluster-node-name", v, "1 to 64 bytes");
                 o.cluster_node_name = v;
             }},
            {"cluster-peer", 0, ArgKind::Required, "NAME=DEST", nullptr,
             "destination DEST (a -D) is node NAME's tree: what NAME asks for again goes there only; repeat for "
             "several (an empty value clears the list)",
             set_cluster_peer, true},
            {"cluster-iface", 0, ArgKind::Required, "IFACE", nullptr,
             "network interface of the cluster (default: the route to --cluster-ip)", TEXT(cluster_iface)},
            {"cluster-ip", 0, ArgKind::Required, "ADDRESS", "227.108.115.121", "multicast group of the cluster",
             TEXT(cluster_ip)},
            {"cluster-port", 0, ArgKind::Required, "PORT", "40079", "UDP port of the cluster",
             [](Options& o, const std::string& v) {
                 o.cluster_port = parse_count("cluster-port", v, 1);
                 if (o.cluster_port > 65535) bad_value("cluster-port", v, "a port from 1 to 65535");
             }},
            // Logging.
            {"output", 'Y', ArgKind::Required, "WHERE", "stderr", "log to stderr, stdout or syslog", set_output},
            {"debug", 'd', ArgKind::Optional, "LEVEL", nullptr, "log debugging detail (-d0 turns it off)", set_debug},
            {"verbose", 'v', ArgKind::Optional, nullptr, nullptr, "log every synced path",
             [](Options& o, const std::string& v) {
                 if (parse_bool("verbose", v) && o.log_level < LogLevel::Verbose) o.log_level = LogLevel::Verbose;
             }},
            {"quiet", 'q', ArgKind::Optional, nullptr, nullptr, "log errors only",
             [](Options& o, const std::string& v) {
                 if (parse_bool("quiet", v)) o.log_level = LogLevel::Error;
             }},
            {"help", 'h', ArgKind::None, nullptr, nullptr, "print this help and exit",
             [](Options& o, const std::string&) { o.show_help = true; }},
            {"version", 'V', ArgKind::None, nullptr, nullptr, "print the version and exit",
             [](Options& o, const std::string&) { o.show_version = true; }},
};

#undef FLAG
#undef TEXT

struct Unsupported {
    const char* name;
    const char* reason;
};

// The original's options that are not here. Refused rather than ignored: a config
// that relies on one of them would silently lose what it asked for.
const Unsupported kUnsupported[] = {
    {"socket", "the control socket is not implemented"},
    {"socket-own", "the control socket is not implemented"},
    {"socket-mod", "the control socket is not implemented"},
    {"custom-signals", "signals are fixed (see SIGNALS in clsync(1))"},
    {"dump-dir", "SIGUSR1 logs the state instead of dumping it"},
    {"cancel-syscalls", "there is nothing to cancel: sizes come from the events"},
    {"rsync-inclimit", "rsync gets its list on stdin; long lists become whole-tree runs"},
    {"rsync-prefer-include", "rsync lists are always include lists"},
    {"have-recursive-sync", "new directories are listed with their contents"},
    {"exit-on-sync-skip", "events are never skipped (overflows trigger a rescan)"},
    {"fts-experimental-optimization", "the tree walk does not use fts"},
    {"auto-add-rules-w", "rules are taken as written"},
    {"splitting", "privilege separation is not implemented; use --uid/--gid"},
    {"secure-splitting", "privilege separation is not implemented; use --uid/--gid"},
    {"check-execvp-arguments", "privilege separation is not implemented"},
    {"add-permitted-hook-files", "privilege separation is not implemented"},
    {"seccomp-filter", "seccomp filtering is not implemented"},
    {"permit-mprotect", "seccomp filtering is not implemented"},
    {"shm-mprotect", "privilege separation is not implemented"},
    {"privileged-uid", "privilege separation is not implemented"},
    {"privileged-gid", "privilege separation is not implemented"},
    {"sync-handler-uid", "handlers run with --uid/--gid"},
    {"sync-handler-gid", "handlers run with --uid/--gid"},
    {"preserve-capabilities", "capabilities are not managed"},
    {"inherit-capabilities", "capabilities are not managed"},
    {"pivot-root", "use --chroot"},
    {"mountpoints", "mount namespaces are not managed"},
    {"detach-network", "namespaces are not managed"},
    {"detach-ipc", "namespaces are not managed"},
    {"detach-miscellanea", "namespaces are not managed"},
    {"forbid-devices", "device access is not managed"},
    {"cgroup-group-name", "cgroups are not managed"},
};

void check_combination(const Options& o) {
    if (o.show_help || o.show_version) return;
    if (o.watch_dir.empty()) throw OptionError("option --watch-dir (-W) is required");
    // The modes in which clsync itself writes the destination.
    bool rsync_direct = o.mode == Mode::RsyncDirect || o.mode == Mode::Librsync;
    if (rsync_direct && o.destinations.empty())
        throw OptionError(std::string("option --destination-dir (-D) is required in mode ") + mode_name(o.mode));
    if (rsync_direct && !o.handler_args.empty())
        throw OptionError(std::string("arguments after -- are not taken in mode ") + mode_name(o.mode) +
                          " (clsync builds rsync's arguments; use -M rsyncshell for an rsync command of your own)");
    if (!rsync_direct && o.sync_handler.empty())
        throw OptionError(std::string("option --sync-handler (-S) is required in mode ") + mode_name(o.mode));
    if (!rsync_direct && o.destinations.size() > 1)
        throw OptionError(std::string("option --destination-dir: one destination only in mode ") + mode_name(o.mode) +
                          " (the handler is given it as its argument)");
    if (o.monitor == Monitor::Fanotify && !o.uid.empty())
        throw OptionError(
            "--monitor=fanotify cannot be used with --uid: after the switch it could not resolve "
            "directory handles (that needs CAP_DAC_READ_SEARCH); use inotify");
    for (const auto& [destination, node] : o.cluster_peers) {
        if (std::find(o.destinations.begin(), o.destinations.end(), destination) == o.destinations.end())
            throw OptionError("option --cluster-peer: '" + destination + "' (node " + node +
                              ") is not a destination: give it as -D too, spelt the same");
        for (const auto& [other, other_node] : o.cluster_peers)
            if (other != destination && other_node == node)
                throw OptionError("option --cluster-peer: node " + node + " is given two destinations, '" + other +
                                  "' and '" + destination + "'");
    }
    bool cluster_options = !o.cluster_iface.empty() || !o.cluster_node_name.empty() || !o.cluster_peers.empty() ||
                           o.cluster_ip != Options().cluster_ip || o.cluster_port != Options().cluster_port;
    if (cluster_options && o.cluster_key.empty())
        throw OptionError(
            "option --cluster-key is required with the other --cluster-* options: a cluster is never "
            "run without authentication");
    if (!o.cluster_key.empty() && o.mode != Mode::RsyncDirect)
        throw OptionError(std::string("option --cluster-key: a cluster node syncs in mode rsyncdirect only, not ") +
                          mode_name(o.mode));
    if (o.skip_initialsync && o.only_initialsync)
        throw OptionError("options --skip-initialsync and --only-initialsync exclude each other");
}

// The table's short options for getopt: "+:" stops at the first non-option and
// reports missing values; "b::" takes an optional attached value ("-b1").
std::string short_option_spec() {
    std::string spec = "+:";
    for (const OptionSpec& option : kOptions) {
        if (!option.short_name) continue;
        spec += option.short_name;
        if (option.arg == ArgKind::Required) spec += ':';
        if (option.arg == ArgKind::Optional) spec += "::";
    }
    return spec;
}

std::vector<struct option> long_option_array() {
    std::vector<struct option> array;
    for (const OptionSpec& option : kOptions) {
        int has_arg = option.arg == ArgKind::Required   ? required_argument
                      : option.arg == ArgKind::Optional ? optional_argument
                                                        : no_argument;
        array.push_back({option.long_name, has_arg, nullptr, option.short_name});
    }
    array.push_back({nullptr, 0, nullptr, 0});
    return array;
}

// The merged raw values: per option, in order, with their origin.
using RawValues = std::map<std::string, std::vector<Setting>>;

RawValues merge(const std::vector<Setting>& file_settings, const CommandLine& line) {
    RawValues raw;
    for (const Setting& s : file_settings) raw[s.spec->long_name].push_back(s);
    std::map<std::string, bool> replaced;
    for (const Setting& s : line.settings) {
        auto& values = raw[s.spec->long_name];
        // The command line wins: a single-valued option keeps only the last value
        // anyway; a list given on the command line replaces the file's list.
        if (!replaced[s.spec->long_name]) {
            values.clear();
            replaced[s.spec->long_name] = true;
        }
        values.push_back(s);
    }
    return raw;
}

// %name% of an option: its last value, itself expanded; or its default.
class Expander {
public:
    explicit Expander(const RawValues& raw) : raw_(raw) {}

    std::string expand(const Setting& setting) {
        return substitute(setting.value, [this, &setting](const std::string& name, std::string& out) {
            return lookup(name, setting, out);
        });
    }

private:
    bool lookup(const std::string& name, const Setting& from, std::string& out) {
        const OptionSpec* spec = find_option(name);
        if (!spec || spec->arg == ArgKind::None) return false;
        auto it = raw_.find(name);
        if (it == raw_.end() || it->second.empty()) {
            if (!spec->default_text) return false;
            out = spec->default_text;
            return true;
        }
        if (++depth_ > 16) {
            std::string message =
                "option --" + std::string(from.spec->long_name) + ": %" + name + "% refers back to itself";
            if (from.origin.empty()) throw OptionError(message);
            throw ConfigError(from.origin + ": " + message);
        }
        out = expand(it->second.back());
        --depth_;
        return true;
    }

    const RawValues& raw_;
    int depth_ = 0;
};

}  // namespace

const char* mode_name(Mode mode) {
    switch (mode) {
        case Mode::RsyncDirect:
            return "rsyncdirect";
        case Mode::RsyncShell:
            return "rsyncshell";
        case Mode::Shell:
            return "shell";
        case Mode::Direct:
            return "direct";
        case Mode::Simple:
            return "simple";
        case Mode::Librsync:
            return "librsync";
    }
    return "?";
}

const std::vector<OptionSpec>& option_table() { return kOptions; }

const OptionSpec* find_option(const std::string& long_name) {
    for (const OptionSpec& spec : kOptions)
        if (long_name == spec.long_name) return &spec;
    return nullptr;
}

const char* unsupported_original_option(const std::string& long_name) {
    for (const Unsupported& u : kUnsupported)
        if (long_name == u.name) return u.reason;
    return nullptr;
}

Millis parse_seconds(const char* option, const std::string& value) {
    errno = 0;
    char* end = nullptr;
    double seconds = std::strtod(value.c_str(), &end);
    if (errno != 0 || end == value.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds < 0 ||
        seconds > 86400.0 * 365)
        bad_value(option, value, "a number of seconds such as 1 or 0.2");
    return Millis(static_cast<long long>(std::llround(seconds * 1000)));
}

std::uint64_t parse_size(const char* option, const std::string& value) {
    static const char* const expected = "a size in bytes, optionally with K, M, G or T";
    errno = 0;
    char* end = nullptr;
    if (value.empty() || value[0] == '-') bad_value(option, value, expected);
    unsigned long long number = std::strtoull(value.c_str(), &end, 10);
    if (errno != 0 || end == value.c_str()) bad_value(option, value, expected);
    static const char suffixes[] = "KMGT";
    unsigned shift = 0;
    if (*end) {
        const char* suffix = std::strchr(suffixes, g_ascii_toupper(*end));
        if (!suffix) bad_value(option, value, expected);
        shift = 10 * static_cast<unsigned>(suffix - suffixes + 1);
        ++end;
    }
    if (*end != '\0' || (shift && number > (~0ull >> shift))) bad_value(option, value, expected);
    return number << shift;
}

unsigned parse_count(const char* option, const std::string& value, unsigned min) {
    errno = 0;
    char* end = nullptr;
    long long number = std::strtoll(value.c_str(), &end, 10);
    if (errno != 0 || end == value.c_str() || *end != '\0' || number < static_cast<long long>(min) || number > 1000000)
        bad_value(option, value, min == 0 ? "a whole number >= 0" : "a whole number >= 1");
    return static_cast<unsigned>(number);
}

bool parse_bool(const char* option, const std::string& value) {
    for (const char* yes : {"1", "yes", "true", "on"})
        if (g_ascii_strcasecmp(value.c_str(), yes) == 0) return true;
    for (const char* no : {"0", "no", "false", "off", ""})
        if (g_ascii_strcasecmp(value.c_str(), no) == 0) return false;
    bad_value(option, value, "1 or 0");
}

CommandLine read_command_line(int argc, char* const argv[]) {
    static const std::string short_spec = short_option_spec();
    static const std::vector<struct option> long_options = long_option_array();
    CommandLine line;
    optind = 0;  // full reinitialisation, so the parser can run more than once (tests)
    opterr = 0;
    for (;;) {
        int long_index = -1;
        int c = getopt_long(argc, argv, short_spec.c_str(), long_options.data(), &long_index);
        if (c == -1) break;
        if (c == '?' || c == ':') {
            std::string name = optopt ? std::string("-") + static_cast<char>(optopt) : argv[optind - 1];
            auto equals = name.find('=');
            if (equals != std::string::npos) name.resize(equals);
            if (c == ':') throw OptionError("option '" + name + "' needs a value");
            const char* reason = name.size() > 2 ? unsupported_original_option(name.substr(2)) : nullptr;
            if (reason) throw OptionError("option '" + name + "' of clsync 0.4 is not supported: " + reason);
            throw OptionError("unknown option '" + name + "'");
        }
        const OptionSpec* spec = nullptr;
        if (long_index >= 0)
            spec = &kOptions[long_index];
        else
            for (const OptionSpec& s : kOptions)
                if (s.short_name == c) spec = &s;
        if (!spec) throw OptionError("unknown option");
        line.settings.push_back({spec, optarg ? optarg : spec->arg == ArgKind::Optional ? "1" : "", ""});
    }
    line.has_handler_args = optind > 0 && optind <= argc && std::strcmp(argv[optind - 1], "--") == 0;
    for (int i = optind; i < argc; ++i) {
        if (!line.has_handler_args)
            throw OptionError(std::string("unexpected argument '") + argv[i] + "' (handler arguments go after --)");
        line.handler_args.emplace_back(argv[i]);
    }
    return line;
}

const std::string* command_line_value(const CommandLine& line, const char* long_name) {
    const std::string* value = nullptr;
    for (const Setting& s : line.settings)
        if (std::strcmp(s.spec->long_name, long_name) == 0) value = &s.value;
    return value;
}

Options resolve_options(const std::vector<Setting>& file_settings, const std::vector<std::string>* file_handler_args,
                        const CommandLine& line) {
    RawValues raw = merge(file_settings, line);
    Expander expander(raw);
    Options options;
    // Table order, so that a later option may refine an earlier one (-X sets -x too).
    for (const OptionSpec& spec : kOptions) {
        auto it = raw.find(spec.long_name);
        if (it == raw.end()) continue;
        for (const Setting& setting : it->second) {
            try {
                spec.apply(options, expander.expand(setting));
            } catch (const OptionError& e) {
                if (setting.origin.empty()) throw;
                throw ConfigError(setting.origin + ": " + e.what());
            }
        }
    }
    const std::vector<std::string>& args =
        line.has_handler_args || !file_handler_args ? line.handler_args : *file_handler_args;
    for (const std::string& arg : args)
        options.handler_args.push_back(expander.expand({find_option("sync-handler"), arg, ""}));
    check_combination(options);
    return options;
}

Options parse_command_line(int argc, char* const argv[]) {
    return resolve_options({}, nullptr, read_command_line(argc, argv));
}

std::string help_text(const char* program) {
    std::string text = std::string("Usage: ") + program +
                       " -W DIR -D DEST [OPTION...] [-- HANDLER-ARGS...]\n"
                       "Keeps DEST equal to the directory tree DIR, live.\n\nOptions:\n";
    for (const OptionSpec& spec : kOptions) {
        std::string left = "  ";
        left += spec.short_name ? std::string("-") + spec.short_name + ", " : std::string("    ");
        left += std::string("--") + spec.long_name;
        if (spec.arg == ArgKind::Required) left += std::string(" ") + spec.arg_name;
        if (spec.arg == ArgKind::Optional) left += std::string("[=") + (spec.arg_name ? spec.arg_name : "1|0") + "]";
        if (left.size() < 34)
            left.resize(34, ' ');
        else
            left += "\n" + std::string(34, ' ');
        text += left + spec.help;
        if (spec.default_text) text += std::string(" (default ") + spec.default_text + ")";
        text += "\n";
    }
    text +=
        "\nExit codes: 0 ok, 64 usage error, 66 watch dir unusable, 69 handler missing or unusable,\n"
        "70 internal error, 71 system error, 73 pid file or state dir held or not writable,\n"
        "75 sync failed --retries times, 77 lists dir or cluster key open to others,\n"
        "78 config or rules file error. See clsync(1).\n";
    return text;
}

}  // namespace clsync
