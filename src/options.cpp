#include "options.h"

#include <getopt.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace clsync {
namespace {

[[noreturn]] void bad_value(const char* option, const char* value, const char* expected) {
    throw OptionError(std::string("option --") + option + ": invalid value '" + value + "' (expected " + expected +
                      ")");
}

void set_mode(Options& o, const char* v) {
    static const char* const known[] = {"rsyncdirect", "librsync", "rsyncshell", "shell", "direct", "simple"};
    for (const char* m : known)
        if (std::strcmp(v, m) == 0) {
            o.mode = v;
            return;
        }
    bad_value("mode", v, "rsyncdirect, librsync, rsyncshell, shell, direct or simple");
}

void set_monitor(Options& o, const char* v) {
    if (std::strcmp(v, "inotify") == 0)
        o.monitor = Monitor::Inotify;
    else if (std::strcmp(v, "fanotify") == 0)
        o.monitor = Monitor::Fanotify;
    else if (std::strcmp(v, "auto") == 0)
        o.monitor = Monitor::Auto;
    else
        bad_value("monitor", v, "inotify, fanotify or auto");
}

void set_threading(Options& o, const char* v) {
    // The original clsync took off/safe/full; map them onto a worker count.
    if (std::strcmp(v, "off") == 0)
        o.threads = 1;
    else if (std::strcmp(v, "safe") == 0 || std::strcmp(v, "full") == 0)
        o.threads = 2;
    else
        o.threads = parse_count("threading", v, 1);
    if (o.threads > 64) bad_value("threading", v, "at most 64 workers");
}

const std::vector<OptionSpec> kOptions = {
    {"watch-dir", 'W', ArgKind::Required, "DIR", nullptr, "directory tree to watch and mirror (required)",
     [](Options& o, const char* v) { o.watch_dir = v; }},
    {"destination-dir", 'D', ArgKind::Required, "DEST", nullptr, "destination directory (rsync syntax)",
     [](Options& o, const char* v) { o.destinations.emplace_back(v); }},
    {"mode", 'M', ArgKind::Required, "MODE", "rsyncdirect", "sync mode; only rsyncdirect is implemented yet", set_mode},
    {"sync-handler", 'S', ArgKind::Required, "PATH", "rsync", "rsync binary used by rsyncdirect",
     [](Options& o, const char* v) { o.sync_handler = v; }},
    {"delay-collect", 't', ArgKind::Required, "SECONDS", "1", "batching window for ordinary files (fractions allowed)",
     [](Options& o, const char* v) { o.delay_collect = parse_seconds("delay-collect", v); }},
    {"delay-collect-bigfile", 'T', ArgKind::Required, "SECONDS", "30", "batching window for big files",
     [](Options& o, const char* v) { o.delay_collect_bigfile = parse_seconds("delay-collect-bigfile", v); }},
    {"threshold-bigfile", 'B', ArgKind::Required, "SIZE", "128M",
     "size (suffixes K, M, G, T) from which a file is big; 0 disables",
     [](Options& o, const char* v) { o.threshold_bigfile = parse_size("threshold-bigfile", v); }},
    {"delay-sync", 'w', ArgKind::Required, "SECONDS", "0", "minimum gap between two syncs of a destination",
     [](Options& o, const char* v) { o.delay_sync = parse_seconds("delay-sync", v); }},
    {"threading", 'p', ArgKind::Required, "N", "2", "number of sync workers (off = 1)", set_threading},
    {"monitor", 0, ArgKind::Required, "BACKEND", "inotify",
     "kernel interface: inotify (a watch per directory), fanotify (one mark per file system; root, Linux 5.9) "
     "or auto (fanotify where it works)",
     set_monitor},
    {"one-file-system", 0, ArgKind::None, nullptr, nullptr,
     "do not cross into other mounts (their mount point directories are synced empty)",
     [](Options& o, const char*) { o.one_file_system = true; }},
    {"exclude-mount-points", 'X', ArgKind::None, nullptr, nullptr,
     "like --one-file-system, and leave out the mount point directories too",
     [](Options& o, const char*) { o.exclude_mount_points = o.one_file_system = true; }},
    {"exit-on-no-events", 0, ArgKind::None, nullptr, nullptr,
     "exit once the initial sync and all events queued so far are synced",
     [](Options& o, const char*) { o.exit_on_no_events = true; }},
    {"max-iterations", 0, ArgKind::Required, "N", "0", "exit after N sync batches (0: never)",
     [](Options& o, const char* v) { o.max_iterations = parse_count("max-iterations", v, 0); }},
    {"skip-initialsync", 0, ArgKind::None, nullptr, nullptr, "do not sync the whole tree at start",
     [](Options& o, const char*) { o.skip_initialsync = true; }},
    {"only-initialsync", 0, ArgKind::None, nullptr, nullptr, "sync the whole tree once and exit",
     [](Options& o, const char*) { o.only_initialsync = true; }},
    {"debug", 'd', ArgKind::None, nullptr, nullptr, "log debugging detail",
     [](Options& o, const char*) { o.log_level = LogLevel::Debug; }},
    {"verbose", 'v', ArgKind::None, nullptr, nullptr, "log every synced path",
     [](Options& o, const char*) {
         if (o.log_level < LogLevel::Verbose) o.log_level = LogLevel::Verbose;
     }},
    {"quiet", 'q', ArgKind::None, nullptr, nullptr, "log errors only",
     [](Options& o, const char*) { o.log_level = LogLevel::Error; }},
    {"help", 'h', ArgKind::None, nullptr, nullptr, "print this help and exit",
     [](Options& o, const char*) { o.show_help = true; }},
    {"version", 'V', ArgKind::None, nullptr, nullptr, "print the version and exit",
     [](Options& o, const char*) { o.show_version = true; }},
};

void check_combination(const Options& o) {
    if (o.show_help || o.show_version) return;
    if (o.watch_dir.empty()) throw OptionError("option --watch-dir (-W) is required");
    if (o.mode != "rsyncdirect")
        throw OptionError("option --mode: mode '" + o.mode + "' is not implemented yet (use rsyncdirect)");
    if (o.destinations.empty()) throw OptionError("option --destination-dir (-D) is required in mode rsyncdirect");
    if (o.destinations.size() > 1) throw OptionError("option --destination-dir: only one destination is supported yet");
    if (o.skip_initialsync && o.only_initialsync)
        throw OptionError("options --skip-initialsync and --only-initialsync exclude each other");
}

}  // namespace

const std::vector<OptionSpec>& option_table() { return kOptions; }

Millis parse_seconds(const char* option, const char* value) {
    errno = 0;
    char* end = nullptr;
    double seconds = std::strtod(value, &end);
    if (errno != 0 || end == value || *end != '\0' || !std::isfinite(seconds) || seconds < 0 || seconds > 86400.0 * 365)
        bad_value(option, value, "a number of seconds such as 1 or 0.2");
    return Millis(static_cast<long long>(std::llround(seconds * 1000)));
}

std::uint64_t parse_size(const char* option, const char* value) {
    errno = 0;
    char* end = nullptr;
    if (*value == '-') bad_value(option, value, "a size in bytes, optionally with K, M, G or T");
    unsigned long long number = std::strtoull(value, &end, 10);
    if (errno != 0 || end == value) bad_value(option, value, "a size in bytes, optionally with K, M, G or T");
    unsigned shift = 0;
    switch (*end) {
        case '\0':
            break;
        case 'K':
        case 'k':
            shift = 10;
            ++end;
            break;
        case 'M':
        case 'm':
            shift = 20;
            ++end;
            break;
        case 'G':
        case 'g':
            shift = 30;
            ++end;
            break;
        case 'T':
        case 't':
            shift = 40;
            ++end;
            break;
        default:
            bad_value(option, value, "a size in bytes, optionally with K, M, G or T");
    }
    if (*end != '\0' || (shift && number > (~0ull >> shift)))
        bad_value(option, value, "a size in bytes, optionally with K, M, G or T");
    return number << shift;
}

unsigned parse_count(const char* option, const char* value, unsigned min) {
    errno = 0;
    char* end = nullptr;
    long long number = std::strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || number < static_cast<long long>(min) || number > 1000000)
        bad_value(option, value, min == 0 ? "a whole number >= 0" : "a whole number >= 1");
    return static_cast<unsigned>(number);
}

Options parse_command_line(int argc, char* const argv[]) {
    std::string short_spec = "+:";  // '+': stop at the first non-option; ':': report missing arguments
    std::vector<struct option> long_options;
    for (const OptionSpec& spec : kOptions) {
        int has_arg = spec.arg == ArgKind::Required ? required_argument : no_argument;
        long_options.push_back({spec.long_name, has_arg, nullptr, spec.short_name ? spec.short_name : 0});
        if (spec.short_name) {
            short_spec += spec.short_name;
            if (has_arg == required_argument) short_spec += ':';
        }
    }
    long_options.push_back({nullptr, 0, nullptr, 0});

    Options options;
    optind = 0;  // full reinitialisation, so the parser can run more than once (tests)
    opterr = 0;
    for (;;) {
        int long_index = -1;
        int c = getopt_long(argc, argv, short_spec.c_str(), long_options.data(), &long_index);
        if (c == -1) break;
        if (c == '?') {
            std::string name = optopt ? std::string("-") + static_cast<char>(optopt) : argv[optind - 1];
            throw OptionError("unknown option '" + name + "'");
        }
        if (c == ':') {
            std::string name = optopt ? std::string("-") + static_cast<char>(optopt) : argv[optind - 1];
            throw OptionError("option '" + name + "' needs a value");
        }
        const OptionSpec* spec = nullptr;
        if (long_index >= 0)
            spec = &kOptions[long_index];
        else
            for (const OptionSpec& s : kOptions)
                if (s.short_name == c) spec = &s;
        if (!spec) throw OptionError("unknown option");
        spec->apply(options, optarg);
    }
    for (int i = optind; i < argc; ++i) {
        if (i == optind && std::strcmp(argv[i - 1], "--") != 0)
            throw OptionError(std::string("unexpected argument '") + argv[i] + "' (handler arguments go after --)");
        options.handler_args.emplace_back(argv[i]);
    }
    check_combination(options);
    return options;
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
        if (left.size() < 34)
            left.resize(34, ' ');
        else
            left += "\n" + std::string(34, ' ');
        text += left + spec.help;
        if (spec.default_text) text += std::string(" (default ") + spec.default_text + ")";
        text += "\n";
    }
    text +=
        "\nExit codes: 0 ok, 64 usage error, 66 watch dir unusable, 69 rsync missing or too old,\n"
        "70 internal error, 71 system error. See clsync(1).\n";
    return text;
}

}  // namespace clsync
