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
#include <memory>
#include <system_error>
#include <vector>

#include "child_registry.h"
#include "config.h"
#include "exit_codes.h"
#include "fanotify_watcher.h"
#include "inotify_watcher.h"
#include "log.h"
#include "options.h"
#include "rsync_errors.h"
#include "rsync_runner.h"
#include "scanner.h"
#include "sync_coordinator.h"
#include "unique_fd.h"
#include "unsyncable_dirs.h"
#include "worker_pool.h"

namespace clsync {
namespace {

struct StartupError {
    int exit_code;
    std::string message;
};

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

// The destination as rsync will get it: local paths made absolute (and refused when
// inside the watch dir, which would sync into itself); remote ones unchanged.
std::string checked_destination(const std::string& watch_dir, const std::string& destination) {
    if (is_remote_destination(destination)) return destination;
    std::string resolved = resolve_local_path(destination);
    while (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
    auto is_within = [](const std::string& path, const std::string& dir) {
        return path == dir || dir == "/" || path.compare(0, dir.size() + 1, dir + '/') == 0;
    };
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
    if (options.monitor != Monitor::Inotify) {
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
    void quit(int code) {
        exit_code = code;
        g_main_loop_quit(loop);
    }
};

// TERM/INT stop now; USR1 logs the state;
// USR2 syncs the whole tree; HUP has nothing to reload yet (no config file support).
struct StatusSources {
    SyncCoordinator& coordinator;
    const Watcher* watcher;  // null with --only-initialsync
};

void install_signal_handlers(MainLoop& main_loop, StatusSources& status) {
    auto on_stop = [](gpointer data) -> gboolean {
        log_info("stopping on signal");
        static_cast<MainLoop*>(data)->quit(kExitOk);
        return G_SOURCE_CONTINUE;
    };
    g_unix_signal_add(SIGTERM, on_stop, &main_loop);
    g_unix_signal_add(SIGINT, on_stop, &main_loop);
    g_unix_signal_add(
        SIGHUP,
        [](gpointer) -> gboolean {
            log_info("SIGHUP: nothing to reload (this version reads no config or rules file)");
            return G_SOURCE_CONTINUE;
        },
        nullptr);
    g_unix_signal_add(
        SIGUSR1,
        [](gpointer data) -> gboolean {
            auto* status = static_cast<StatusSources*>(data);
            if (status->watcher) log_info("status: watching with %s", status->watcher->status().c_str());
            status->coordinator.log_status();
            return G_SOURCE_CONTINUE;
        },
        &status);
    g_unix_signal_add(
        SIGUSR2,
        [](gpointer data) -> gboolean {
            log_info("SIGUSR2: full resync");
            static_cast<StatusSources*>(data)->coordinator.sync_whole_tree_now();
            return G_SOURCE_CONTINUE;
        },
        &status);
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

void watch_sigquit(int fd, SyncCoordinator& coordinator) {
    if (fd < 0) return;
    g_unix_fd_add(
        fd, G_IO_IN,
        [](gint fd, GIOCondition, gpointer data) -> gboolean {
            struct signalfd_siginfo info;
            while (read(fd, &info, sizeof info) == sizeof info) {
            }
            log_info("SIGQUIT: syncing what is queued, then exiting");
            static_cast<SyncCoordinator*>(data)->finish_queued_then_exit();
            return G_SOURCE_CONTINUE;
        },
        &coordinator);
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

int run(const Options& options) {
    UniqueFd sigquit_fd = block_sigquit();
    raise_open_file_limit();
    std::string watch_dir = canonical_watch_dir(options.watch_dir);
    std::string destination = checked_destination(watch_dir, options.destinations.front());
    std::string rsync = find_rsync(options.sync_handler);

    MainLoop main_loop;
    ChildRegistry children;
    UnsyncableDirs unsyncable;
    RsyncSettings rsync_settings{rsync, watch_dir, destination};
    rsync_settings.local_destination = !is_remote_destination(destination);
    rsync_settings.one_file_system = options.one_file_system;
    rsync_settings.exclude_mount_points = options.exclude_mount_points;
    RsyncRunner runner(rsync_settings, children, unsyncable);
    WorkerPool pool(options.threads);

    CoordinatorSettings settings;
    settings.delays = {options.delay_collect, options.delay_collect_bigfile};
    settings.delay_sync = options.delay_sync;
    settings.max_iterations = options.max_iterations;
    settings.exit_on_no_events = options.exit_on_no_events;
    settings.only_initialsync = options.only_initialsync;
    settings.destination = destination;
    SyncCoordinator coordinator(settings, runner, pool, [&main_loop](int code) { main_loop.quit(code); });

    std::unique_ptr<Watcher> watcher;
    if (!options.only_initialsync) {
        WatcherSettings watcher_settings{watch_dir, options.threshold_bigfile, options.one_file_system};
        watcher = start_watcher(options, watcher_settings, coordinator, unsyncable);
    } else {
        walk_directories(
            watch_dir, "", [](const std::string&, int) { return true; },
            [&unsyncable](const std::string& path) { unsyncable.add(path); });
    }

    StatusSources status{coordinator, watcher.get()};
    install_signal_handlers(main_loop, status);
    watch_sigquit(sigquit_fd.get(), coordinator);
    log_info("clsync %s: %s -> %s", PACKAGE_VERSION, watch_dir.c_str(), destination.c_str());
    if (!options.handler_args.empty())
        log_warning("arguments after -- are ignored: mode rsyncdirect builds rsync's arguments itself");
    // Started from inside the loop, so that an exit condition met at once can quit it.
    run_on_main_thread([&coordinator, &options] { coordinator.start(!options.skip_initialsync); });
    g_main_loop_run(main_loop.loop);

    // Orderly stop: no new events, no new batches, running rsyncs stopped and reaped.
    if (watcher) watcher->stop();
    coordinator.stop();
    stop_children(children);
    pool.shutdown();
    return main_loop.exit_code;
}

}  // namespace
}  // namespace clsync

int main(int argc, char* argv[]) {
    using namespace clsync;
    signal(SIGPIPE, SIG_IGN);
    Options options;
    try {
        options = parse_command_line(argc, argv);
    } catch (const OptionError& e) {
        fprintf(stderr, "clsync: %s\nTry 'clsync --help'.\n", e.what());
        return kExitUsage;
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
    try {
        return run(options);
    } catch (const StartupError& e) {
        log_error("%s", e.message.c_str());
        return e.exit_code;
    } catch (const std::system_error& e) {
        log_error("%s", e.what());
        return kExitOsErr;
    } catch (const std::exception& e) {
        log_error("%s", e.what());
        return kExitSoftware;
    }
}
