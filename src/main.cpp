// clsync: wires the parts together. Parses options, checks the watch dir and the
// destination, starts the watcher and the coordinator, runs the GLib main loop
// until a signal or an exit condition, then stops everything in order.
#include <glib-unix.h>
#include <glib.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "child_registry.h"
#include "config.h"
#include "config_file.h"
#include "daemon.h"
#include "exit_codes.h"
#include "fanotify_watcher.h"
#include "handler_runner.h"
#include "inotify_watcher.h"
#include "lists_dir.h"
#include "log.h"
#include "options.h"
#include "rsync_errors.h"
#include "rsync_runner.h"
#include "rules.h"
#include "scanner.h"
#include "sync_coordinator.h"
#include "unique_fd.h"
#include "unsyncable_dirs.h"
#include "worker_pool.h"

namespace clsync {
namespace {

std::string canonical_watch_dir(const std::string& dir) {
    char resolved[PATH_MAX];
    if (!realpath(dir.c_str(), resolved))
        throw StartupError{kExitNoInput, "watch dir '" + dir + "': " + strerror(errno)};
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
        throw StartupError{kExitNoInput, "watch dir '" + dir + "' is not a directory"};
    if (access(resolved, R_OK | X_OK) != 0)
        throw StartupError{kExitNoInput, "watch dir '" + dir + "' is not readable: " + strerror(errno)};
    return resolved;
}

// rsync reads "host:path" and "rsync://..." as remote; everything else is local.
bool is_remote_destination(const std::string& destination) {
    auto colon = destination.find(':');
    return colon != std::string::npos && destination.find('/') > colon;
}

// The destination's absolute path, resolving symlinks of the part that exists.
std::string resolve_local_path(const std::string& path) {
    std::string existing = path, rest;
    char resolved[PATH_MAX];
    while (!realpath(existing.c_str(), resolved)) {
        auto slash = existing.find_last_of('/');
        if (slash == std::string::npos) {
            if (!getcwd(resolved, sizeof resolved)) return path;
            return std::string(resolved) + '/' + existing + rest;
        }
        rest = existing.substr(slash) + rest;
        existing = slash == 0 ? "/" : existing.substr(0, slash);
    }
    return std::string(resolved) + rest;
}

// Whether the absolute `path` is `dir` or below it.
bool is_within(const std::string& path, const std::string& dir) {
    return path == dir || dir == "/" || path.compare(0, dir.size() + 1, dir + '/') == 0;
}

// The destination as rsync will get it: local paths made absolute (and refused when
// inside the watch dir, which would sync into itself); remote ones unchanged.
std::string checked_destination(const std::string& watch_dir, const std::string& destination) {
    if (is_remote_destination(destination)) return destination;
    std::string resolved = resolve_local_path(destination);
    while (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
    if (is_within(resolved, watch_dir))
        throw StartupError{kExitUsage, "destination '" + destination + "' is inside the watch dir '" + watch_dir +
                                           "': it would sync into itself"};
    // rsync --delete into a parent of the watch dir would delete everything beside it.
    if (is_within(watch_dir, resolved))
        throw StartupError{kExitUsage, "destination '" + destination + "' contains the watch dir '" + watch_dir +
                                           "': syncing would delete the rest of the destination"};
    return resolved;
}

std::string find_rsync(const std::string& configured) {
    std::string name = configured.empty() ? "rsync" : configured;
    char* found = g_find_program_in_path(name.c_str());
    if (!found)
        throw StartupError{kExitUnavailable,
                           "rsync binary '" + name + "' not found (install the rsync package or set -S)"};
    std::string path = found;
    g_free(found);

    char* output = nullptr;
    const char* argv[] = {path.c_str(), "--version", nullptr};
    gboolean ran = g_spawn_sync(nullptr, const_cast<char**>(argv), nullptr, G_SPAWN_STDERR_TO_DEV_NULL, nullptr,
                                nullptr, &output, nullptr, nullptr, nullptr);
    std::string version_output = ran && output ? output : "";
    g_free(output);
    std::string version;
    if (!rsync_version_supported(version_output, version))
        throw StartupError{kExitUnavailable, "'" + path + "' is rsync " +
                                                 (version.empty() ? "of unknown version" : version) +
                                                 "; clsync needs rsync 3.2.4 or later"};
    return path;
}

// The directory walk holds a descriptor per level of a deep tree: allow what the
// administrator allows (the hard limit) rather than the soft default of 1024.
void raise_open_file_limit() {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

// Starts the watcher the options ask for. --monitor=auto tries fanotify first.
std::unique_ptr<Watcher> start_watcher(const Options& options, const WatcherSettings& settings, EventSink& sink,
                                       UnsyncableDirs& unsyncable) {
    // fanotify turns directory handles into paths with open_by_handle_at, which needs
    // CAP_DAC_READ_SEARCH: gone once -u has switched user (options.cpp refuses
    // --monitor=fanotify with -u).
    bool drops_privileges = !options.uid.empty();
    if (options.monitor == Monitor::Auto && drops_privileges) log_info("--monitor=auto with --uid: using inotify");
    if (options.monitor != Monitor::Inotify && !drops_privileges) {
        auto watcher = std::make_unique<FanotifyWatcher>(settings, sink, unsyncable);
        try {
            watcher->start();
            return watcher;
        } catch (const MonitorUnavailable& e) {
            if (options.monitor == Monitor::Fanotify) throw StartupError{kExitUnavailable, e.what()};
            log_info("--monitor=auto: %s; using inotify", e.what());
        }
    }
    auto watcher = std::make_unique<InotifyWatcher>(settings, sink, unsyncable);
    watcher->start();
    return watcher;
}

struct MainLoop {
    GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
    int exit_code = kExitOk;
    ~MainLoop() { g_main_loop_unref(loop); }
    bool signalled = false;  // stopped by TERM or INT
    void quit(int code) {
        exit_code = code;
        g_main_loop_quit(loop);
    }
};

// What the signal handlers act on.
struct Daemon {
    MainLoop& main_loop;
    SyncCoordinator& coordinator;
    Watcher* watcher;  // null with --only-initialsync
    Rules& rules;
    Options options;  // as in force
    int argc;
    char** argv;
    std::optional<StatusFile> status_file;

    void write_status(const char* word = nullptr) const {
        if (!status_file) return;
        SyncCoordinator::State state = coordinator.state();
        status_file->write(word ? word : state.word, state.pending, state.running, state.iterations, state.failures);
    }
};

// SIGHUP: reads the config and the rules again. Nothing changes unless both are valid.
void reload(Daemon& daemon) {
    log_info("SIGHUP: reloading the configuration and the rules");
    daemon.write_status("rehashing");
    Options next;
    RuleSet rules;
    try {
        next = read_options(daemon.argc, daemon.argv, &daemon.options.config_file);
        if (!next.rules_file.empty()) rules = RuleSet::load(next.rules_file);
    } catch (const std::runtime_error& e) {
        log_error("SIGHUP: %s; keeping the configuration in force", e.what());
        daemon.write_status();
        return;
    }
    const Options& old = daemon.options;
    if (next.watch_dir != old.watch_dir || next.destinations != old.destinations || next.mode != old.mode ||
        next.sync_handler != old.sync_handler || next.handler_args != old.handler_args || next.label != old.label ||
        next.threshold_bigfile != old.threshold_bigfile || next.ignore_exitcodes != old.ignore_exitcodes ||
        next.timeout_sync != old.timeout_sync || next.monitor != old.monitor || next.lists_dir != old.lists_dir)
        log_warning(
            "SIGHUP: only --rules-file, -t, -T, -w, -r and --ignore-failures apply at once; the other "
            "changes take effect at the next start");
    daemon.coordinator.update_timing({next.delay_collect, next.delay_collect_bigfile}, next.delay_sync, next.retries,
                                     next.ignore_failures);
    log_info("rules: %zu from %s", rules.rule_count(), next.rules_file.empty() ? "nowhere" : next.rules_file.c_str());
    daemon.rules.set(std::move(rules));
    daemon.options.rules_file = next.rules_file;
    // What the new rules include may be unwatched and unsynced: walk and sync it all.
    if (daemon.watcher)
        daemon.watcher->request_rescan();
    else
        daemon.coordinator.sync_whole_tree_now();
    daemon.write_status();
}

// TERM/INT stop now; HUP reloads; USR1 logs the state; USR2 syncs the whole tree.
void install_signal_handlers(Daemon& daemon) {
    auto on_stop = [](gpointer data) -> gboolean {
        log_info("stopping on signal");
        static_cast<MainLoop*>(data)->signalled = true;
        static_cast<MainLoop*>(data)->quit(kExitOk);
        return G_SOURCE_CONTINUE;
    };
    g_unix_signal_add(SIGTERM, on_stop, &daemon.main_loop);
    g_unix_signal_add(SIGINT, on_stop, &daemon.main_loop);
    g_unix_signal_add(
        SIGHUP,
        [](gpointer data) -> gboolean {
            reload(*static_cast<Daemon*>(data));
            return G_SOURCE_CONTINUE;
        },
        &daemon);
    g_unix_signal_add(
        SIGUSR1,
        [](gpointer data) -> gboolean {
            auto* daemon = static_cast<Daemon*>(data);
            if (daemon->watcher) log_info("status: watching with %s", daemon->watcher->status().c_str());
            daemon->coordinator.log_status();
            daemon->write_status();
            return G_SOURCE_CONTINUE;
        },
        &daemon);
    g_unix_signal_add(
        SIGUSR2,
        [](gpointer data) -> gboolean {
            log_info("SIGUSR2: full resync");
            static_cast<Daemon*>(data)->coordinator.sync_whole_tree_now();
            return G_SOURCE_CONTINUE;
        },
        &daemon);
}

// GLib's unix signal sources do not cover SIGQUIT: it is blocked in every thread
// (before any starts) and read from a signalfd on the main loop instead.
UniqueFd block_sigquit() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return UniqueFd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
}

void watch_sigquit(int fd, Daemon& daemon) {
    if (fd < 0) return;
    g_unix_fd_add(
        fd, G_IO_IN,
        [](gint fd, GIOCondition, gpointer data) -> gboolean {
            struct signalfd_siginfo info;
            while (read(fd, &info, sizeof info) == sizeof info) {
            }
            auto* daemon = static_cast<Daemon*>(data);
            if (daemon->options.sync_on_quit) {
                log_info("SIGQUIT: syncing what is queued, then exiting (--sync-on-quit)");
                daemon->coordinator.finish_queued_then_exit();
            } else {
                log_info("SIGQUIT: exiting once the running sync is done");
                daemon->coordinator.finish_running_then_exit();
            }
            return G_SOURCE_CONTINUE;
        },
        &daemon);
}

// Asks running rsyncs to stop (they remove their temp files), then insists. Waits
// for their whole process groups: rsync's own children (the receiver) outlive it
// for a moment, and must not be left behind.
void stop_children(ChildRegistry& children) {
    std::vector<pid_t> groups = children.kill_all(SIGTERM);
    auto any_left = [&children, &groups] {
        if (!children.empty()) return true;
        for (pid_t group : groups)
            if (kill(-group, 0) == 0) return true;
        return false;
    };
    for (int waited_ms = 0; any_left() && waited_ms < 5000; waited_ms += 50) g_usleep(50 * 1000);
    if (any_left()) {
        log_warning("rsync did not stop within 5 s of SIGTERM: killing it");
        for (pid_t group : children.kill_all(SIGKILL)) groups.push_back(group);
        for (pid_t group : groups) kill(-group, SIGKILL);
    }
}

// The handler program: a name is looked up in PATH, a path made absolute (handlers
// run in the watch dir, where a relative path would mean something else).
std::string find_handler(const std::string& handler) {
    char* found = nullptr;
    if (handler.find('/') == std::string::npos) {
        found = g_find_program_in_path(handler.c_str());
    } else {
        char resolved[PATH_MAX];
        if (realpath(handler.c_str(), resolved)) found = g_strdup(resolved);
    }
    if (!found) throw StartupError{kExitUnavailable, "sync handler '" + handler + "' not found"};
    std::string path = found;
    g_free(found);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0)
        throw StartupError{kExitUnavailable, "sync handler '" + path + "' is not an executable file"};
    return path;
}

// What syncs the batches: rsync run by clsync (rsyncdirect) or the handler.
std::unique_ptr<SyncRunner> make_runner(const Options& options, const std::string& watch_dir,
                                        const std::string& destination, ChildRegistry& children,
                                        const UnsyncableDirs& unsyncable, const Rules& rules,
                                        std::optional<ListsDir>& lists) {
    if (options.mode == Mode::RsyncDirect) {
        RsyncSettings settings;
        settings.rsync_binary = find_rsync(options.sync_handler);
        settings.source = watch_dir;
        settings.destination = destination;
        settings.local_destination = !is_remote_destination(destination);
        settings.one_file_system = options.one_file_system;
        settings.exclude_mount_points = options.exclude_mount_points;
        settings.timeout = options.timeout_sync;
        settings.ignored_exit_codes = options.ignore_exitcodes;
        settings.rules = &rules;
        settings.full_initialsync = options.full_initialsync;
        return std::make_unique<RsyncRunner>(std::move(settings), children, unsyncable);
    }
    HandlerSettings settings;
    settings.mode = options.mode;
    settings.handler = find_handler(options.sync_handler);
    settings.arguments = options.handler_args;
    settings.watch_dir = watch_dir;
    settings.destination = destination;
    settings.label = options.label;
    settings.synclist_simplify = options.synclist_simplify;
    settings.ignored_exit_codes = options.ignore_exitcodes;
    settings.timeout = options.timeout_sync;
    settings.rules = &rules;
    settings.full_initialsync = options.full_initialsync;
    try {
        lists.emplace(options.lists_dir, options.dont_unlink_lists);
    } catch (const ListsDirError& e) {
        throw StartupError{kExitNoPerm, e.what()};
    }
    return std::make_unique<HandlerRunner>(std::move(settings), children, *lists, unsyncable);
}

// Those of `files` that lie inside the watch dir, relative to it.
std::vector<std::string> own_paths_in(const std::string& watch_dir, const std::vector<std::string>& files) {
    std::vector<std::string> inside;
    for (const std::string& file : files) {
        if (file.empty()) continue;
        std::string absolute = resolve_local_path(file);
        if (absolute != watch_dir && is_within(absolute, watch_dir))
            inside.push_back(absolute.substr(watch_dir == "/" ? 1 : watch_dir.size() + 1));
    }
    return inside;
}

// The exit hooks run at the end of a normal exit, not after a failure or a stop by
// TERM/INT; the exit hook only if the tree was synced whole once (as the original).
struct ExitHooks {
    std::string pre_exit;
    std::string exit;
};

ExitHooks find_hooks(const Options& options) {
    ExitHooks hooks;
    if (!options.pre_exit_hook.empty()) hooks.pre_exit = find_handler(options.pre_exit_hook);
    if (!options.exit_hook.empty()) hooks.exit = find_handler(options.exit_hook);
    return hooks;
}

int run(const Options& options, int argc, char** argv, Detacher& detacher) {
    if (options.background) detacher.detach();
    Identity identity = resolve_identity(options.uid, options.gid);
    if (!options.chroot_dir.empty()) enter_chroot(options.chroot_dir);
    // Before the long start-up walk: a second instance is refused at once.
    std::optional<PidFile> pid_file;
    if (!options.pid_file.empty()) pid_file.emplace(options.pid_file);
    std::optional<StatusFile> status_file;
    if (!options.status_file.empty()) {
        status_file.emplace(options.status_file, identity);
        status_file->write("starting", 0, 0, 0, 0);
    }
    // Everything else (watches, lists, handlers, rsync) runs as -u/-g already.
    drop_privileges(identity);
    UniqueFd sigquit_fd = block_sigquit();
    raise_open_file_limit();
    std::string watch_dir = canonical_watch_dir(options.watch_dir);
    std::string destination =
        options.destinations.empty() ? std::string() : checked_destination(watch_dir, options.destinations.front());
    ExitHooks hooks = find_hooks(options);

    Rules rules;
    if (!options.rules_file.empty()) rules.set(RuleSet::load(options.rules_file));

    MainLoop main_loop;
    ChildRegistry children;
    UnsyncableDirs unsyncable;
    std::optional<ListsDir> lists;
    std::unique_ptr<SyncRunner> runner =
        make_runner(options, watch_dir, destination, children, unsyncable, rules, lists);
    WorkerPool pool(options.threads);

    std::function<void(int)> finish;
    Daemon* daemon_ptr = nullptr;
    CoordinatorSettings settings;
    settings.delays = {options.delay_collect, options.delay_collect_bigfile};
    settings.delay_sync = options.delay_sync;
    settings.max_iterations = options.max_iterations;
    settings.exit_on_no_events = options.exit_on_no_events;
    settings.only_initialsync = options.only_initialsync;
    settings.retries = options.retries;
    settings.ignore_failures = options.ignore_failures;
    settings.standby_file = options.standby_file;
    settings.rules = &rules;
    settings.watch_dir = watch_dir;
    settings.own_paths = own_paths_in(watch_dir, {options.status_file, options.pid_file, options.lists_dir});
    settings.destination = options.mode == Mode::RsyncDirect ? destination : "handler " + options.sync_handler;
    settings.on_change = [&daemon_ptr] {
        if (daemon_ptr) daemon_ptr->write_status();
    };
    SyncCoordinator coordinator(settings, *runner, pool, [&finish](int code) { finish(code); });

    std::unique_ptr<Watcher> watcher;
    if (!options.only_initialsync) {
        WatcherSettings watcher_settings{watch_dir, options.threshold_bigfile, options.one_file_system, &rules};
        watcher = start_watcher(options, watcher_settings, coordinator, unsyncable);
    } else {
        walk_directories(
            watch_dir, "", [](const std::string&, int) { return true; },
            [&unsyncable](const std::string& path) { unsyncable.add(path); });
    }

    Daemon daemon{main_loop, coordinator, watcher.get(), rules, options, argc, argv, std::move(status_file)};
    daemon_ptr = &daemon;
    // --pre-exit-hook: before exiting on its own, clsync runs the hook, then syncs what
    // is queued (what the hook changed too), then exits.
    bool pre_exit_done = hooks.pre_exit.empty();
    finish = [&](int code) {
        if (code != kExitOk || pre_exit_done) return main_loop.quit(code);
        pre_exit_done = true;
        daemon.write_status("preexit");
        // On a worker, so that TERM still stops clsync (and the hook) meanwhile.
        pool.submit([&] {
            run_hook("pre-exit hook", hooks.pre_exit, options.label, options.timeout_sync, children);
            run_on_main_thread([&coordinator] {
                // A moment for the watcher to pass on the hook's changes.
                g_timeout_add(
                    200,
                    [](gpointer c) -> gboolean {
                        static_cast<SyncCoordinator*>(c)->finish_queued_then_exit();
                        return G_SOURCE_REMOVE;
                    },
                    &coordinator);
            });
        });
    };
    install_signal_handlers(daemon);
    watch_sigquit(sigquit_fd.get(), daemon);
    log_info("clsync %s: %s -> %s (mode %s)", PACKAGE_VERSION, watch_dir.c_str(), settings.destination.c_str(),
             mode_name(options.mode));
    detacher.report(kExitOk);
    // Started from inside the loop, so that an exit condition met at once can quit it.
    run_on_main_thread([&coordinator, &options] { coordinator.start(!options.skip_initialsync); });
    g_main_loop_run(main_loop.loop);

    // Orderly stop: no new events, no new batches, running handlers stopped and reaped.
    daemon.write_status("terminating");
    if (watcher) watcher->stop();
    coordinator.stop();
    stop_children(children);
    pool.shutdown();
    daemon.write_status("exiting");
    bool synced_once = coordinator.whole_tree_synced() || options.skip_initialsync;
    if (main_loop.exit_code == kExitOk && !main_loop.signalled && synced_once && !hooks.exit.empty()) {
        ChildRegistry hook_children;
        run_hook("exit hook", hooks.exit, options.label, options.timeout_sync, hook_children);
    }
    return main_loop.exit_code;
}

}  // namespace
}  // namespace clsync

int main(int argc, char* argv[]) {
    using namespace clsync;
    signal(SIGPIPE, SIG_IGN);
    Options options;
    try {
        options = read_options(argc, argv);
    } catch (const OptionError& e) {
        fprintf(stderr, "clsync: %s\nTry 'clsync --help'.\n", e.what());
        return kExitUsage;
    } catch (const ConfigError& e) {
        fprintf(stderr, "clsync: %s\n", e.what());
        return kExitConfig;
    }
    if (options.show_help) {
        fputs(help_text("clsync").c_str(), stdout);
        return kExitOk;
    }
    if (options.show_version) {
        printf("clsync %s\n", PACKAGE_VERSION);
        return kExitOk;
    }
    log_set_level(options.log_level);
    log_set_output(options.output, options.label);
    Detacher detacher;
    auto failed = [&detacher](int code, const char* message) {
        log_error("%s", message);
        detacher.report(code);
        return code;
    };
    try {
        return run(options, argc, argv, detacher);
    } catch (const ConfigError& e) {
        return failed(kExitConfig, e.what());
    } catch (const StartupError& e) {
        return failed(e.exit_code, e.message.c_str());
    } catch (const std::system_error& e) {
        return failed(kExitOsErr, e.what());
    } catch (const std::exception& e) {
        return failed(kExitSoftware, e.what());
    }
}
