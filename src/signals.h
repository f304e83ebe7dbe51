// The main loop and the signals that steer it: TERM/INT stop, HUP reloads the
// configuration and the rules, USR1 logs the state, USR2 syncs the whole tree, QUIT
// stops softly (GLib's unix signal sources do not cover it: a signalfd does).
// Everything here runs on the main thread.
#pragma once

#include <glib.h>

#include <optional>

#include "cluster_notifier.h"
#include "daemon.h"
#include "destination_set.h"
#include "exit_codes.h"
#include "options.h"
#include "rules.h"
#include "source_guard.h"
#include "status_report.h"
#include "unique_fd.h"
#include "watcher.h"

namespace clsync {

// The GLib main loop and the exit code it ends with.
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

// What the signal handlers act on; `options` are those in force (HUP compares the
// new ones with them and updates what it applied).
struct Daemon {
    MainLoop& main_loop;
    DestinationSet& destinations;
    Watcher* watcher;  // null with --only-initialsync
    Rules& rules;
    Options options;  // as in force
    int argc;
    char** argv;
    std::optional<StatusFile> status_file;
    SourceGuard* guard;        // null with --source-guard=0
    ClusterNotifier* cluster;  // null without --cluster-key

    void write_status(const char* word = nullptr) const {
        if (!status_file) return;
        StatusReport report = destinations.status();
        if (word) report.word = word;
        if (cluster) report.cluster = cluster->status();
        status_file->write(format_status(report, options.status_format, std::time(nullptr)));
    }
};

// Blocks SIGQUIT in every thread (call before any starts); returns its signalfd.
UniqueFd block_sigquit();

// Installs the handlers of TERM, INT, HUP, USR1 and USR2 on the main loop.
void install_signal_handlers(Daemon& daemon);

// Reads SIGQUIT from `fd` (block_sigquit's) on the main loop.
void watch_sigquit(int fd, Daemon& daemon);

}  // namespace clsync
