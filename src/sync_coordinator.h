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

#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "batcher.h"
#include "clock.h"
#include "delay_queue.h"
#include "path_event.h"
#include "rules.h"
#include "source_guard.h"
#include "state_store.h"
#include "status_report.h"
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
    std::string destination;  // for messages, and the state store's key
    // Where the paths still to be synced are kept across restarts (null: nowhere).
    StateStore* state = nullptr;
    // Holds every batch while the watch dir does not look like itself (null: off), and
    // the destination it looks at for that (empty: none to look at).
    SourceGuard* guard = nullptr;
    std::string guarded_destination;
    // A cluster node: each batch carries the paths events named since the last one
    // (Batch::deletion_candidates).
    bool track_deletion_candidates = false;
    // A cluster node: whether an event is a peer's writer delivering a file here (its
    // temporary file, or the rename that puts it in place): not this node's change,
    // dropped before it is queued (null: none).
    std::function<bool(const PathEvent&)> peer_delivery;
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
    // The original's status word: initsync, running or synchandler error.
    const char* status_word() const;
    DestinationStatus status() const;
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
    // "syncing N paths to DEST" (and each path with -v); on the worker, once needed() said what.
    void log_batch_start(const Batch& batch) const;
    void on_batch_done(const Batch& batch, const SyncResult& result, TimePoint started);
    // Requeues a failed batch with back-off, or gives up (-r); false when clsync exits.
    bool handle_failure(const Batch& batch, const SyncResult& result, TimePoint now);
    // Whether --standby-file holds every sync now.
    bool on_standby() const;
    // Whether the source guard holds every sync now; logs when that changes.
    bool held_by_guard();
    // Puts a batch's paths back, as first seen at `first_seen` (backdate to make them due).
    void requeue(const Batch& batch, const SyncResult& result, TimePoint first_seen, bool only_renamed = false);
    // needed() said "not now": everything back, asked again after kDeferralPause.
    void put_back_deferred(const Batch& batch, TimePoint now);
    void arm_timer(TimePoint when);
    // While the destination is down and the next retry is far: a cheap look every
    // kProbeInterval whether it answers (SyncRunner::reachable). One that did not
    // answer and now does is retried at once: caught up when it returns, not when
    // the back-off says.
    void arm_probe();
    void on_probe_result(std::optional<bool> reachable);
    // The state store's side of the queue: paths recorded as pending when they are
    // queued, cleared once a batch covering them completed. A store that fails (disk
    // full) is logged once; the queue in memory goes on, and a restart verifies the
    // whole tree anyway.
    void remember(const std::vector<QueuedPath>& paths);
    void forget_synced(const Batch& batch, const SyncResult& result);
    void state_store_failed(const StateStoreError& e);
    void check_exit_conditions();
    void add_deletion_candidate(const std::string& path, const EventTimes& times);

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
    std::int64_t seq_ = 0;                // stamp of the last paths recorded as pending
    std::int64_t batch_seq_ = 0;          // seq_ when the running batch was taken
    bool verify_after_recovery_ = false;  // then the whole tree, after what was pending
    bool state_store_broken_ = false;
    // For status(): when the current run of failures began, and why the last one failed.
    std::optional<std::time_t> down_since_;
    TimePoint down_since_monotonic_{};
    std::string last_error_;
    bool catching_up_ = false;               // back after being down: until the queue is empty
    bool held_ = false;                      // the last dispatch found the standby file
    std::optional<std::string> guard_hold_;  // why the source guard holds the sync
    // The first event not yet written (kept across failures; not reset by requeues).
    std::optional<TimePoint> unsynced_since_;
    std::optional<std::time_t> last_in_sync_;                // from the state store at start, then ours
    unsigned deferrals_ = 0;                                 // batches put back by needed() in a row
    std::map<std::string, EventTimes> deletion_candidates_;  // path -> when its last events were read
    bool deletion_candidates_overflowed_ = false;
    bool stopping_ = false;
    bool finishing_ = false;  // SIGQUIT: no more waiting for windows
    bool quitting_ = false;   // SIGQUIT: no more batches
    guint timer_id_ = 0;
    guint probe_timer_id_ = 0;
    bool probe_running_ = false;
    bool probe_failed_ = false;  // the last look found the destination not answering
    TimePoint timer_due_{};
};

}  // namespace clsync
