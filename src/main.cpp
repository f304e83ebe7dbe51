// clsync: wires the parts together. Reads the options, detaches, takes the pid file,
// drops privileges, checks the watch dir and the destination (startup_checks.h),
// starts the watcher and the coordinator, runs the GLib main loop until a signal
// (signals.h) or an exit condition, then stops everything in order.
#include <glib.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "child_registry.h"
#include "cluster_notifier.h"
#include "cluster_runner.h"
#include "config.h"
#include "config_file.h"
#include "daemon.h"
#include "destination_set.h"
#include "exit_codes.h"
#include "fanotify_watcher.h"
#include "handler_runner.h"
#include "heap.h"
#include "inotify_watcher.h"
#include "lists_dir.h"
#include "local_runner.h"
#include "log.h"
#include "options.h"
#include "overtaken_writes.h"
#include "rsync_runner.h"
#include "rules.h"
#include "scanner.h"
#include "signals.h"
#include "stale_entries.h"
#include "startup_checks.h"
#include "state_store.h"
#include "sync_coordinator.h"
#include "unique_fd.h"
#include "unsyncable_dirs.h"
#include "worker_pool.h"

namespace clsync {
namespace {

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

// The node whose tree the i-th destination is (--cluster-peer, which names it as -D
// spelt it); empty when not given.
std::string peer_of(const Options& options, std::size_t i) {
    if (i >= options.destinations.size()) return {};
    auto it = options.cluster_peers.find(options.destinations[i]);
    return it == options.cluster_peers.end() ? std::string() : it->second;
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

// -M librsync: clsync writes the local destination itself, keeping its state in the
// state dir.
std::unique_ptr<SyncRunner> make_local_runner(const Options& options, const std::string& watch_dir,
                                              const std::string& destination, const UnsyncableDirs& unsyncable,
                                              const Rules& rules, StateStore& state) {
    if (is_remote_destination(destination))
        throw StartupError{kExitUsage, "option --destination-dir: mode librsync writes local destinations only ('" +
                                           destination + "' is remote; use -M rsyncdirect)"};
    LocalSettings settings;
    settings.source = watch_dir;
    settings.destination = destination;
    settings.one_file_system = options.one_file_system;
    settings.exclude_mount_points = options.exclude_mount_points;
    settings.rules = &rules;
    settings.full_initialsync = options.full_initialsync;
    settings.fsync = options.fsync;
    settings.state = &state;
    return std::make_unique<LocalRunner>(std::move(settings), unsyncable);
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
        // As rsync does without -e: $RSYNC_RSH, else ssh.
        const char* rsync_rsh = g_getenv("RSYNC_RSH");
        if (is_ssh_destination(destination))
            settings.ssh_command = options.ssh_command.empty() && rsync_rsh ? rsync_rsh : options.ssh_command;
        settings.one_file_system = options.one_file_system;
        settings.exclude_mount_points = options.exclude_mount_points;
        settings.timeout = options.timeout_sync;
        settings.ignored_exit_codes = options.ignore_exitcodes;
        settings.rules = &rules;
        settings.full_initialsync = options.full_initialsync;
        settings.cluster = !options.cluster_key.empty();
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
    if (options.background) detacher.detach();  // closes inherited descriptors: first
    // Before anything can take a while: an early SIGQUIT must not dump core.
    UniqueFd sigquit_fd = block_sigquit();
    Identity identity = resolve_identity(options.uid, options.gid);
    if (!options.chroot_dir.empty()) enter_chroot(options.chroot_dir);
    // Root's to read: read before the switch, and before anything is created.
    std::string cluster_key = options.cluster_key.empty() ? std::string() : read_cluster_key(options.cluster_key);
    // Before the long start-up walk: a second instance is refused at once.
    std::optional<PidFile> pid_file;
    if (!options.pid_file.empty()) pid_file.emplace(options.pid_file);
    std::optional<StatusFile> status_file;
    if (!options.status_file.empty()) {
        status_file.emplace(options.status_file, identity);
        status_file->write(format_status({"starting", {}, std::nullopt}, options.status_format, std::time(nullptr)));
    }
    // librsync needs its state; the other modes can do without the default one (a
    // user whose home cannot be written, say), keeping pending paths in memory only.
    bool state_required = options.mode == Mode::Librsync || !options.state_dir.empty();
    auto without_state = [&state_required](const std::string& why) {
        if (state_required) throw StartupError{kExitCantCreate, why};
        log_warning("%s: the paths still to be synced are kept in memory only (give --state-dir)", why.c_str());
    };
    std::string state_dir;
    try {
        state_dir = prepare_state_dir(options, identity);
    } catch (const StartupError& e) {
        without_state(e.message);
    }
    // Everything else (watches, lists, handlers, rsync) runs as -u/-g already.
    drop_privileges(identity);
    raise_open_file_limit();
    std::string watch_dir = canonical_watch_dir(options.watch_dir);
    std::vector<std::string> destinations = checked_destinations(watch_dir, options.destinations);
    ExitHooks hooks = find_hooks(options);

    Rules rules;
    if (!options.rules_file.empty()) rules.set(RuleSet::load(options.rules_file));

    MainLoop main_loop;
    ChildRegistry children;
    UnsyncableDirs unsyncable;
    std::optional<ListsDir> lists;
    std::optional<StateStore> state;
    try {
        if (!state_dir.empty()) state.emplace(state_dir);
    } catch (const StateDirInUse& e) {
        throw StartupError{kExitCantCreate, e.what()};
    } catch (const StateStoreError& e) {
        without_state(e.what());
    }
    WorkerPool hook_pool(1);
    // Before the destinations, whose runners use it, and so destroyed after them.
    std::optional<ExpectedChanges> expected;
    std::optional<ConflictKeeper> conflicts;  // before the notifier, which calls it
    std::optional<ClusterNotifier> cluster;
    std::optional<OvertakenWrites> overtaken;
    if (!cluster_key.empty()) {
        expected.emplace();
        const char* host = g_get_host_name();
        std::string node = options.cluster_node_name.empty() ? host : options.cluster_node_name;
        for (const auto& [destination, peer] : options.cluster_peers)
            if (peer == node)
                throw StartupError{kExitUsage, "option --cluster-peer: " + peer + " is this node's own name ('" +
                                                   destination + "' would never be asked for anything)"};
        cluster.emplace(ClusterSettings{options.cluster_iface, options.cluster_ip,
                                        static_cast<std::uint16_t>(options.cluster_port), node, cluster_key},
                        *expected);
        // A change waits at most the longer delay before its notice, and its sync takes a
        // moment more: within that window it may not have reached the peers yet.
        Millis window = std::max(options.delay_collect, options.delay_collect_bigfile) + kConflictSlack;
        conflicts.emplace(watch_dir, node, window, *expected);
        cluster->set_on_notice(
            [&conflicts](const std::string& peer, const std::vector<NoticeEntry>& entries, std::int64_t arrived_us) {
                conflicts->keep_conflicting(peer, entries, arrived_us);
            });
        overtaken.emplace(watch_dir);
        cluster->set_on_settled([&expected, &cluster, &overtaken, watch_dir](const SettledBatch& batch) {
            run_on_main_thread_after(
                static_cast<unsigned>(kStaleCheckDelay.count()), [&expected, &cluster, &overtaken, watch_dir, batch] {
                    remove_stale_entries(watch_dir, batch, *expected);
                    for (const auto& [node, paths] : overtaken->to_ask(batch.contested, Clock::now()))
                        cluster->ask_resend(node, paths);
                });
        });
    }

    std::function<void(int)> finish;
    Daemon* daemon_ptr = nullptr;
    DestinationSet sinks([&finish](int code) { finish(code); });
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
    settings.state = state ? &*state : nullptr;
    settings.track_deletion_candidates = !cluster_key.empty();
    if (cluster)
        settings.peer_delivery = [&expected, &cluster, &conflicts](const PathEvent& event) {
            if (is_peer_delivery(event, *expected, *cluster)) return true;
            // Not this node's version for that: a path a peer asked for again, nor a
            // writer's temporary file renamed into place while a peer was writing (its
            // notice after the run names it).
            if (!event.requested && !expected->delivery_noted(event.path, Clock::now())) conflicts->touched(event);
            return false;
        };
    std::unique_ptr<Watcher> watcher;
    std::optional<SourceGuard> guard;
    if (options.source_guard) {
        // A file system mounted anew has no watches: watched again, and synced whole.
        guard.emplace(watch_dir, settings.own_paths, [&watcher] {
            if (watcher) watcher->request_rescan();
        });
        settings.guard = &*guard;
    }
    settings.on_change = [&daemon_ptr] {
        if (daemon_ptr) daemon_ptr->write_status();
    };
    // Handler modes have one "destination": the handler, given -D (if any) as its argument.
    if (destinations.empty()) destinations.emplace_back();
    for (std::size_t i = 0; i < destinations.size(); ++i) {
        const std::string& destination = destinations[i];
        std::unique_ptr<SyncRunner> runner =
            options.mode == Mode::Librsync
                ? make_local_runner(options, watch_dir, destination, unsyncable, rules, *state)
                : make_runner(options, watch_dir, destination, children, unsyncable, rules, lists);
        if (cluster)
            runner =
                std::make_unique<ClusterRunner>(std::move(runner), watch_dir, destination, peer_of(options, i),
                                                *cluster, *expected, *conflicts, !is_remote_destination(destination));
        settings.destination = options.mode == Mode::RsyncDirect || options.mode == Mode::Librsync
                                   ? destination
                                   : "handler " + options.sync_handler;
        settings.guarded_destination = destination;
        sinks.add(std::move(runner), options.threads, settings);
    }

    if (!options.only_initialsync) {
        WatcherSettings watcher_settings{watch_dir, options.threshold_bigfile, options.one_file_system, &rules};
        watcher = start_watcher(options, watcher_settings, sinks, unsyncable);
    } else {
        walk_directories(
            watch_dir, "", [](const std::string&, int) { return true; },
            [&unsyncable](const std::string& path) { unsyncable.add(path); });
    }

    Daemon daemon{main_loop,
                  sinks,
                  watcher.get(),
                  rules,
                  options,
                  argc,
                  argv,
                  std::move(status_file),
                  guard ? &*guard : nullptr,
                  cluster ? &*cluster : nullptr};
    daemon_ptr = &daemon;
    if (cluster) {
        cluster->set_on_change([&daemon] { daemon.write_status(); });
        cluster->set_on_resend(
            [&sinks, &expected, watch_dir](const std::string& peer, const std::vector<NoticeEntry>& asked) {
                queue_resends(watch_dir, peer, asked, *expected, sinks);
            });
    }
    // --pre-exit-hook: before exiting on its own, clsync runs the hook, then syncs what
    // is queued (what the hook changed too), then exits.
    bool pre_exit_done = hooks.pre_exit.empty();
    finish = [&](int code) {
        if (code != kExitOk || pre_exit_done) return main_loop.quit(code);
        pre_exit_done = true;
        daemon.write_status("preexit");
        // On a worker, so that TERM still stops clsync (and the hook) meanwhile.
        hook_pool.submit([&] {
            run_hook("pre-exit hook", hooks.pre_exit, options.label, options.timeout_sync, children);
            run_on_main_thread([&sinks] {
                // A moment for the watcher to pass on the hook's changes.
                g_timeout_add(
                    200,
                    [](gpointer s) -> gboolean {
                        static_cast<DestinationSet*>(s)->finish_queued_then_exit();
                        return G_SOURCE_REMOVE;
                    },
                    &sinks);
            });
        });
    };
    install_signal_handlers(daemon);
    watch_sigquit(sigquit_fd.get(), daemon);
    for (const DestinationStatus& d : sinks.status().destinations)
        log_info("clsync %s: %s -> %s (mode %s)", PACKAGE_VERSION, watch_dir.c_str(), d.destination.c_str(),
                 mode_name(options.mode));
    detacher.report(kExitOk);
    // Before the first sync: the peers hear of this node's first writes.
    if (cluster) cluster->start();
    // Started from inside the loop, so that an exit condition met at once can quit it.
    run_on_main_thread([&sinks, &options] { sinks.start(!options.skip_initialsync); });
    g_main_loop_run(main_loop.loop);

    // Orderly stop: no new events, no new batches, running handlers stopped and reaped.
    daemon.write_status("terminating");
    if (watcher) watcher->stop();
    sinks.stop();
    stop_children(children);
    sinks.cancel_and_join();
    if (cluster) cluster->stop();
    hook_pool.shutdown();
    daemon.write_status("exiting");
    bool synced_once = sinks.whole_tree_synced() || options.skip_initialsync;
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
    limit_heap_arenas();
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
