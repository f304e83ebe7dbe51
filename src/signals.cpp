#include "signals.h"

#include <glib-unix.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>

#include "config_file.h"
#include "log.h"

namespace clsync {
namespace {

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
    daemon.destinations.update_timing({next.delay_collect, next.delay_collect_bigfile}, next.delay_sync, next.retries,
                                      next.ignore_failures);
    log_info("rules: %zu from %s", rules.rule_count(), next.rules_file.empty() ? "nowhere" : next.rules_file.c_str());
    daemon.rules.set(std::move(rules));
    daemon.options.rules_file = next.rules_file;
    // What the new rules include may be unwatched and unsynced: walk and sync it all.
    if (daemon.watcher)
        daemon.watcher->request_rescan();
    else
        daemon.destinations.sync_whole_tree_now();
    daemon.write_status();
}

}  // namespace

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
            daemon->destinations.log_status();
            if (daemon->cluster) daemon->cluster->log_status();
            daemon->write_status();
            return G_SOURCE_CONTINUE;
        },
        &daemon);
    g_unix_signal_add(
        SIGUSR2,
        [](gpointer data) -> gboolean {
            auto* daemon = static_cast<Daemon*>(data);
            log_info("SIGUSR2: full resync, of the watch dir as it is now");
            // The admin's word that the tree is right as it is (the source guard's hold).
            if (daemon->guard) daemon->guard->accept_current();
            daemon->destinations.sync_whole_tree_now();
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
                // Changes made before the signal are in; later ones (a stopped container's
                // tree being destroyed, say) must not reach the destination.
                if (daemon->watcher) daemon->watcher->drain_and_stop();
                daemon->destinations.finish_queued_then_exit();
            } else {
                log_info("SIGQUIT: exiting once the running sync is done");
                daemon->destinations.finish_running_then_exit();
            }
            return G_SOURCE_CONTINUE;
        },
        &daemon);
}

}  // namespace clsync
