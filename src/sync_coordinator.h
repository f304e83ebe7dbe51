// The coordinator: takes the watcher's events into the delay queue, forms batches
// when windows close, hands them to the worker pool, and handles their results
// (retry with back-off, exit conditions).
//
// One batch per destination runs at a time: every rsync run also sets the attributes
// of the ancestor directories of its paths (the top directory at least), so two runs
// at once could let the older one's stale directory mtime land last.
//
// Threads: deliver() may be called from any thread (it only appends to the inbox
// under inbox_mutex_). Everything else runs on the main thread, which owns the
// queue, the in-flight set and the destination state.
#pragma once

#include <glib.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "batcher.h"
#include "clock.h"
#include "delay_queue.h"
#include "path_event.h"
#include "rules.h"
#include "sync_runner.h"
#include "worker_pool.h"

namespace clsync {

struct CoordinatorSettings {
    DelayQueue::Delays delays;
    Millis delay_sync{0};
    // Above this many paths a whole-tree run is faster: rsync checks every file of a
    // listed directory against every rule (bench/RESULTS.md: 10k paths took 17 s, the
    // whole 200k-file tree 2-13 s).
    std::size_t max_batch_paths = 4000;
    unsigned max_iterations = 0;
    unsigned retries = 0;          // failed runs of one batch before giving up; 0: never
    bool ignore_failures = false;  // giving up drops the batch instead of exiting
    std::string standby_file;      // no run starts while it exists
    const Rules* rules = nullptr;  // -R: events of excluded paths are dropped
    std::string watch_dir;         // to tell files from directories for the rules
    // clsync's own files inside the watch dir (status file, pid file, lists dir): their
    // changes raise no sync, which would change them again (they are synced with the
    // rest of the tree by whole-tree runs).
    std::vector<std::string> own_paths;
    std::function<void()> on_change;  // after a batch starts or ends (--status-file)
    bool exit_on_no_events = false;
    bool only_initialsync = false;
    std::string destination;  // for messages
};

class SyncCoordinator : public EventSink {
public:
    // `finish(exit_code)` is called on the main thread when an exit condition is met.
    SyncCoordinator(CoordinatorSettings settings, const SyncRunner& runner, WorkerPool& pool,
                    std::function<void(int)> finish);
    ~SyncCoordinator() override;

    void deliver(std::vector<PathEvent> events) override;

    // Starts dispatching; with `initial_sync`, the whole tree is synced first.
    void start(bool initial_sync);
    // Queues a sync of the whole tree, due at once (initial sync, SIGUSR2).
    void sync_whole_tree_now();
    // Stops forming batches; results still arriving are ignored.
    void stop();
    // Syncs everything queued without waiting for windows, then exits (SIGQUIT).
    void finish_queued_then_exit();
    // Starts nothing more; exits once the running batch is done (SIGQUIT).
    void finish_running_then_exit();
    // Takes new windows, -w spacing and failure policy (SIGHUP); pending paths stay.
    void update_timing(DelayQueue::Delays delays, Millis delay_sync, unsigned retries, bool ignore_failures);
    struct State {
        const char* word;  // the original's status words: initsync, running, synchandler error
        std::size_t pending;
        unsigned running;
        unsigned iterations;
        unsigned failures;
    };
    State state() const;
    bool whole_tree_synced() const { return whole_tree_synced_; }
    // Logs what is queued and running (SIGUSR1).
    void log_status() const;

private:
    void drain_inbox();
    // Whether the rules let `path` (an event's: its type unknown, looked up at
    // `type_path` if given) be synced.
    bool included(const RuleSet* rules, const std::string& path, const std::string& type_path = {}) const;
    void dispatch();
    void start_batch(Batch batch, TimePoint now);
    void on_batch_done(const Batch& batch, const SyncResult& result, TimePoint started);
    // Requeues a failed batch with back-off, or gives up (-r); false when clsync exits.
    bool handle_failure(const Batch& batch, const SyncResult& result, TimePoint now);
    // Whether --standby-file holds every sync now.
    bool on_standby() const;
    // Puts a batch's paths back, as first seen at `first_seen` (backdate to make them due).
    void requeue(const Batch& batch, const SyncResult& result, TimePoint first_seen, bool only_renamed = false);
    void arm_timer(TimePoint when);
    void check_exit_conditions();

    CoordinatorSettings settings_;
    const SyncRunner& runner_;
    WorkerPool& pool_;
    std::function<void(int)> finish_;

    std::mutex inbox_mutex_;
    std::vector<PathEvent> inbox_;  // guarded by inbox_mutex_
    bool drain_scheduled_ = false;  // guarded by inbox_mutex_

    DelayQueue queue_;
    bool batch_running_ = false;
    bool initial_running_ = false;
    bool initial_sync_pending_ = false;  // the first whole-tree run asked for by start()
    TimePoint next_sync_allowed_{};      // -w spacing and failure back-off
    unsigned consecutive_failures_ = 0;
    unsigned consecutive_retries_ = 0;
    unsigned iterations_ = 0;
    bool whole_tree_synced_ = false;
    bool stopping_ = false;
    bool finishing_ = false;  // SIGQUIT: no more waiting for windows
    bool quitting_ = false;   // SIGQUIT: no more batches
    guint timer_id_ = 0;
    TimePoint timer_due_{};
};

}  // namespace clsync
