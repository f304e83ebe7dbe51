#include "sync_coordinator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "exit_codes.h"
#include "heap.h"
#include "log.h"
#include "path_tree.h"
#include "scanner.h"

namespace clsync {
namespace {

constexpr Millis kMaxBackoff{60000};
// A run whose listing raced with changes is repeated at once this many times in a row;
// after that it counts as failed (something in the tree keeps rsync from listing it).
constexpr unsigned kMaxQuickRetries = 5;
// How often a held sync (--standby-file) looks whether it may go on.
constexpr Millis kStandbyPoll{1000};
// How often a destination that is down is looked at (see arm_probe).
constexpr Millis kProbeInterval{1000};
// Paths a cluster node remembers between two batches to tell deletions (see
// Batch::deletion_candidates); beyond, deletions among further paths do not reach the
// peers (logged).
constexpr std::size_t kMaxDeletionCandidates = 100000;
// How soon a batch the runner deferred (SyncRunner::needed) is asked about again.
constexpr Millis kDeferralPause{500};

Millis failure_backoff(unsigned failures) {
    Millis backoff{500};
    for (unsigned i = 1; i < failures && backoff < kMaxBackoff; ++i) backoff *= 2;
    return std::min(backoff, kMaxBackoff);
}

std::string count(std::size_t n, const char* noun) { return std::to_string(n) + ' ' + noun + (n == 1 ? "" : "s"); }

// rsync can print thousands of lines; the log keeps the start and the end (where the
// reason of a long line is).
std::string abridged(const std::string& message) {
    constexpr std::size_t kHalf = 750;
    if (message.size() <= 2 * kHalf) return message;
    return message.substr(0, kHalf) + " [...] " + message.substr(message.size() - kHalf);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

double seconds_since(TimePoint start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

SyncCoordinator::SyncCoordinator(CoordinatorSettings settings, const SyncRunner& runner, WorkerPool& pool,
                                 std::function<void(int)> finish)
    : settings_(std::move(settings)),
      runner_(runner),
      pool_(pool),
      finish_(std::move(finish)),
      queue_(settings_.delays) {}

SyncCoordinator::~SyncCoordinator() {
    if (timer_id_) g_source_remove(timer_id_);
    if (probe_timer_id_) g_source_remove(probe_timer_id_);
}

void SyncCoordinator::deliver(std::vector<PathEvent> events) {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    if (inbox_.empty())
        inbox_ = std::move(events);
    else
        std::move(events.begin(), events.end(), std::back_inserter(inbox_));
    if (!drain_scheduled_) {
        drain_scheduled_ = true;
        run_on_main_thread([this] { drain_inbox(); });
    }
}

void SyncCoordinator::drain_inbox() {
    std::vector<PathEvent> events;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        events.swap(inbox_);
        drain_scheduled_ = false;
    }
    if (stopping_) return;
    TimePoint now = Clock::now();
    std::shared_ptr<const RuleSet> rules = settings_.rules ? settings_.rules->get() : nullptr;
    const RuleSet* filter = rules && !rules->empty() ? rules.get() : nullptr;
    bool filtering = filter || !settings_.own_paths.empty();
    std::vector<QueuedPath> arrived;  // for the state store
    std::int64_t now_us = settings_.track_deletion_candidates ? g_get_real_time() : 0;
    for (PathEvent& event : events) {
        if (settings_.peer_delivery && settings_.peer_delivery(event)) continue;
        // A path a peer asked for again did not change here: its request is no event of
        // this node's (a peer's deletion announced before it still counts as newer).
        if (settings_.track_deletion_candidates)
            for (const auto& [path, times] : paths_named(event, now_us))
                add_deletion_candidate(path, event.requested ? EventTimes{} : times);
        if (event.is_rename()) {
            log_debug("event: '%s' renamed to '%s'", printable(event.renamed_from).c_str(),
                      printable(event.path).c_str());
            // The old name is gone: what it was, the new name says.
            bool from = !filtering || included(filter, event.renamed_from, event.path);
            bool to = !filtering || included(filter, event.path);
            if (from && to) {
                queue_.rename(event.renamed_from, event.path, now);
                if (settings_.state) arrived.insert(arrived.end(), {{event.renamed_from, true}, {event.path, true}});
                continue;
            }
            // Moved out of (or into) what the rules include: a deletion (or a copy).
            if (from) queue_.add(event.renamed_from, true, SizeClass::Normal, now);
            if (to) queue_.add(event.path, true, SizeClass::Normal, now);
            if (from && settings_.state) arrived.push_back({event.renamed_from, true});
            if (to && settings_.state) arrived.push_back({event.path, true});
            continue;
        }
        if (filtering && !included(filter, event.path)) continue;
        if (log_enabled(LogLevel::Debug))
            log_debug("event: '%s'%s", printable(event.path).c_str(), event.recursive ? " (and below)" : "");
        queue_.add(event.path, event.recursive, event.size_class, now);
        if (settings_.state) arrived.push_back({std::move(event.path), event.recursive});
    }
    if (!unsynced_since_ && !queue_.empty()) unsynced_since_ = now;
    // More paths than a batch lists become a whole-tree sync anyway: say so now, which
    // also bounds the queue's memory (and work) during a storm of changes.
    if (queue_.size() > settings_.max_batch_paths && !queue_.covers_whole_tree()) {
        log_info("more than %zu paths queued: the next sync is of the whole tree", settings_.max_batch_paths);
        queue_.add("", true, SizeClass::Normal, now);
    }
    // Once the whole tree is queued, one row says so: the store stays small however
    // long a destination is down.
    remember(queue_.covers_whole_tree() ? std::vector<QueuedPath>{{"", true}} : arrived);
    dispatch();
}

void SyncCoordinator::add_deletion_candidate(const std::string& path, const EventTimes& times) {
    auto it = deletion_candidates_.find(path);
    if (it != deletion_candidates_.end()) {
        it->second.merge(times);
    } else if (deletion_candidates_.size() < kMaxDeletionCandidates) {
        deletion_candidates_.emplace(path, times);
    } else if (!deletion_candidates_overflowed_) {
        deletion_candidates_overflowed_ = true;
        log_warning(
            "more than %zu paths changed before the next sync to %s: deletions among the further ones are not "
            "passed on to it (the peers keep those files)",
            kMaxDeletionCandidates, settings_.destination.c_str());
    }
}

void SyncCoordinator::remember(const std::vector<QueuedPath>& paths) {
    if (!settings_.state || paths.empty() || state_store_broken_) return;
    try {
        settings_.state->add_pending(settings_.destination, paths, ++seq_);
    } catch (const StateStoreError& e) {
        state_store_failed(e);
    }
}

void SyncCoordinator::forget_synced(const Batch& batch, const SyncResult& result) {
    if (!settings_.state || state_store_broken_) return;
    std::vector<QueuedPath> covered = batch.paths;
    if (batch.full_tree) covered.push_back({"", true});
    for (const Rename& r : batch.renames) covered.insert(covered.end(), {{r.from, true}, {r.to, true}});
    covered.insert(covered.end(), result.rename_paths.begin(), result.rename_paths.end());
    try {
        settings_.state->clear_pending(settings_.destination, covered, batch_seq_);
    } catch (const StateStoreError& e) {
        state_store_failed(e);
    }
}

void SyncCoordinator::state_store_failed(const StateStoreError& e) {
    log_error("%s; pending paths of %s are kept in memory only from now on (a restart syncs the whole tree)", e.what(),
              settings_.destination.c_str());
    state_store_broken_ = true;
}

bool SyncCoordinator::included(const RuleSet* rules, const std::string& path, const std::string& type_path) const {
    for (const std::string& own : settings_.own_paths)
        if (path == own || is_ancestor(own, path)) return false;
    if (!rules) return true;
    return rules->path_included(path, [this, &path, &type_path] {
        return is_directory(settings_.watch_dir, type_path.empty() ? path : type_path);
    });
}

void SyncCoordinator::start(bool initial_sync) {
    initial_sync_pending_ = initial_sync;
    std::vector<QueuedPath> recovered;
    if (settings_.state) {
        try {
            seq_ = settings_.state->last_pending_seq();
            recovered = settings_.state->pending(settings_.destination);
            if (std::int64_t when = settings_.state->last_in_sync(settings_.destination)) last_in_sync_ = when;
        } catch (const StateStoreError& e) {
            state_store_failed(e);
        }
    }
    if (!recovered.empty() && !(recovered.size() == 1 && recovered.front().path.empty())) {
        // Synced first, exactly (a destination that was down catches up without a walk
        // of the whole tree); then the whole tree is verified, unless --skip-initialsync.
        log_info("%zu paths were still to be synced to %s at the last stop: syncing them first", recovered.size(),
                 settings_.destination.c_str());
        TimePoint due_now = Clock::now() - settings_.delays.normal;
        for (const QueuedPath& p : recovered) {
            queue_.add(p.path, p.recursive, SizeClass::Normal, due_now);
            if (settings_.track_deletion_candidates) add_deletion_candidate(p.path, {});
        }
        unsynced_since_ = Clock::now();
        catching_up_ = true;
        verify_after_recovery_ = initial_sync;
        return dispatch();
    }
    if (initial_sync || !recovered.empty())
        sync_whole_tree_now();
    else
        dispatch();
}

void SyncCoordinator::sync_whole_tree_now() {
    // Backdated by one window, so that it is due at once.
    queue_.add("", true, SizeClass::Normal, Clock::now() - settings_.delays.normal);
    if (!unsynced_since_) unsynced_since_ = Clock::now();
    dispatch();
}

void SyncCoordinator::finish_queued_then_exit() {
    finishing_ = true;
    drain_inbox();  // what the watcher delivered last; dispatches
}

void SyncCoordinator::update_timing(DelayQueue::Delays delays, Millis delay_sync, unsigned retries,
                                    bool ignore_failures) {
    settings_.delays = delays;
    settings_.delay_sync = delay_sync;
    settings_.retries = retries;
    settings_.ignore_failures = ignore_failures;
    queue_.set_delays(delays);
    dispatch();
}

void SyncCoordinator::finish_running_then_exit() {
    quitting_ = true;
    dispatch();
}

const char* SyncCoordinator::status_word() const {
    return initial_running_ ? "initsync" : consecutive_failures_ && !batch_running_ ? "synchandler error" : "running";
}

DestinationStatus SyncCoordinator::status() const {
    DestinationStatus s;
    s.destination = settings_.destination;
    s.state = held_ || guard_hold_                ? DestinationState::Held
              : consecutive_failures_             ? DestinationState::Down
              : catching_up_ || initial_running_  ? DestinationState::CatchingUp
              : batch_running_ || !queue_.empty() ? DestinationState::Syncing
                                                  : DestinationState::InSync;
    if (consecutive_failures_) s.down_since = down_since_;
    s.pending = queue_.size();
    if (unsynced_since_) s.oldest_pending_seconds = seconds_since(*unsynced_since_);
    s.running = batch_running_ ? 1 : 0;
    s.iterations = iterations_;
    s.failures = consecutive_failures_;
    s.last_error = last_error_;
    s.last_in_sync = last_in_sync_;
    if (guard_hold_) s.hold_reason = *guard_hold_;
    return s;
}

void SyncCoordinator::log_status() const {
    log_info("status: destination %s", describe_destination(status(), std::time(nullptr)).c_str());
}

void SyncCoordinator::stop() {
    stopping_ = true;
    if (timer_id_) g_source_remove(timer_id_);
    timer_id_ = 0;
    if (probe_timer_id_) g_source_remove(probe_timer_id_);
    probe_timer_id_ = 0;
}

void SyncCoordinator::dispatch() {
    if (stopping_ || batch_running_) return;  // the running batch's end dispatches again
    if (quitting_) {
        if (!queue_.empty()) log_info("%zu queued paths are left for the next start's initial sync", queue_.size());
        return finish_(kExitOk);
    }
    if (queue_.empty()) return check_exit_conditions();
    TimePoint now = Clock::now();
    if (now < next_sync_allowed_) return arm_timer(next_sync_allowed_);
    TimePoint due = finishing_ ? now : *queue_.next_due();
    if (due > now) return arm_timer(due);
    if (held_by_guard()) return arm_timer(now + kStandbyPoll);
    if (on_standby() != held_) {
        held_ = !held_;
        log_info(
            held_ ? "standby file %s exists: holding the sync to %s" : "standby file %s is gone: syncing to %s again",
            settings_.standby_file.c_str(), settings_.destination.c_str());
        if (settings_.on_change) settings_.on_change();
    }
    if (held_) return arm_timer(now + kStandbyPoll);
    Batch batch = make_batch(queue_.take_due(finishing_ ? TimePoint::max() : now), settings_.max_batch_paths);
    batch.renames = queue_.take_renames();
    for (auto& [path, times] : deletion_candidates_) batch.deletion_candidates.push_back({path, times});
    deletion_candidates_.clear();
    deletion_candidates_overflowed_ = false;
    batch.initial_sync = batch.full_tree && initial_sync_pending_;
    batch.deferrals = deferrals_;
    batch.iteration = iterations_;
    start_batch(std::move(batch), now);
}

void SyncCoordinator::start_batch(Batch batch, TimePoint now) {
    batch_running_ = true;
    batch_seq_ = seq_;
    initial_running_ = batch.initial_sync;
    if (settings_.on_change) settings_.on_change();
    next_sync_allowed_ = now + settings_.delay_sync;
    pool_.submit([this, batch = std::move(batch), now]() mutable {
        SyncResult result;
        try {
            std::optional<Batch> needed = runner_.needed(batch);
            if (!needed) {
                result.deferred = true;
            } else if (needed->full_tree || !needed->paths.empty() || !needed->renames.empty()) {
                log_batch_start(*needed);
                result = runner_.run(*needed);
                result.paths_run = needed->paths.size();
                result.whole_tree_run = needed->full_tree;
            } else {
                result.outcome = RsyncOutcome::Complete;
                result.exit_code = 0;
                result.nothing_to_write = true;
            }
        } catch (const std::exception& e) {
            // A list file that cannot be written (disk full, say): a failed run, retried.
            result.message = e.what();
        }
        run_on_main_thread(
            [this, batch = std::move(batch), result = std::move(result), now] { on_batch_done(batch, result, now); });
    });
}

void SyncCoordinator::log_batch_start(const Batch& batch) const {
    std::string renames = batch.renames.empty() ? std::string() : " after " + count(batch.renames.size(), "rename");
    if (batch.full_tree)
        log_info("syncing the whole tree to %s%s", settings_.destination.c_str(), renames.c_str());
    else
        log_info("syncing %s to %s%s", count(batch.paths.size(), "path").c_str(), settings_.destination.c_str(),
                 renames.c_str());
    if (log_enabled(LogLevel::Verbose)) {
        for (const Rename& r : batch.renames)
            log_verbose("  %s -> %s", printable(r.from).c_str(), printable(r.to).c_str());
        for (const QueuedPath& p : batch.paths)
            log_verbose("  %s%s", printable(p.path).c_str(), p.recursive ? " (and below)" : "");
    }
}

void SyncCoordinator::on_batch_done(const Batch& batch, const SyncResult& result, TimePoint started) {
    if (stopping_) return;
    return_free_heap();  // what the batch's lists and walks took
    batch_running_ = false;
    initial_running_ = false;
    TimePoint now = Clock::now();
    if (result.deferred) return put_back_deferred(batch, now);
    deferrals_ = 0;
    if (result.outcome != RsyncOutcome::Retry) consecutive_retries_ = 0;
    if (result.outcome == RsyncOutcome::Complete) {
        if (consecutive_failures_) {
            log_info("sync to %s works again after %.0f s and %u failed runs", settings_.destination.c_str(),
                     seconds_since(down_since_monotonic_), consecutive_failures_);
            catching_up_ = true;
        }
        consecutive_failures_ = 0;
        probe_failed_ = false;
        last_error_.clear();
        if (batch.full_tree) whole_tree_synced_ = true;
        if (batch.initial_sync) initial_sync_pending_ = false;
        if (!result.nothing_to_write) {
            ++iterations_;
            std::string what = result.whole_tree_run ? "the whole tree" : count(result.paths_run, "path");
            if (result.renames_applied) what += " (" + count(result.renames_applied, "rename") + " replayed)";
            log_info("synced %s to %s in %.3f s%s", what.c_str(), settings_.destination.c_str(), seconds_since(started),
                     result.source_changed ? " (the source changed meanwhile: those paths are queued again)" : "");
        }
        // Paths renamed while rsync ran may have been gone when it looked: the replay of
        // the rename would carry that gap to the new name. Those paths are synced again
        // under their new names; after a racy run (files vanished) every path is, except
        // after a whole-tree run (a busy big tree would be synced whole over and over).
        forget_synced(batch, result);
        requeue(batch, result, now, !result.source_changed || batch.full_tree);
        if (verify_after_recovery_) {
            verify_after_recovery_ = false;
            log_info("verifying the whole tree at %s", settings_.destination.c_str());
            queue_.add("", true, SizeClass::Normal, now - settings_.delays.normal);
            remember({{"", true}});
        }
        if (queue_.empty()) {
            unsynced_since_.reset();
            catching_up_ = false;
            last_in_sync_ = std::time(nullptr);
            if (settings_.state && !state_store_broken_) {
                try {
                    settings_.state->set_last_in_sync(settings_.destination, *last_in_sync_);
                } catch (const StateStoreError& e) {
                    state_store_failed(e);
                }
            }
        } else {
            unsynced_since_ = queue_.oldest_first_seen();
        }
    } else if (result.outcome == RsyncOutcome::Retry && ++consecutive_retries_ <= kMaxQuickRetries) {
        // Not a failure of the destination: run it again after one window, with the
        // changes that caused it folded in.
        requeue(batch, result, now);
        log_info("the source changed while rsync listed it (deletions were skipped): those paths are queued again");
    } else if (!handle_failure(batch, result, now)) {
        return;
    }
    if (settings_.on_change) settings_.on_change();
    if (settings_.max_iterations && iterations_ >= settings_.max_iterations) return finish_(0);
    if (settings_.only_initialsync && whole_tree_synced_) return finish_(0);
    dispatch();
}

// Returns false when clsync is to exit (--retries exhausted).
bool SyncCoordinator::handle_failure(const Batch& batch, const SyncResult& result, TimePoint now) {
    // Retries that keep repeating are not the source changing: back off like a failure.
    if (++consecutive_failures_ == 1) {
        down_since_ = std::time(nullptr);
        down_since_monotonic_ = now;
    }
    std::string what = abridged(result.message);
    if (settings_.retries && consecutive_failures_ >= settings_.retries) {
        std::string paths = batch.full_tree ? "the whole tree" : count(batch.paths.size(), "path");
        if (!settings_.ignore_failures) {
            log_error("sync to %s failed %u times in a row: %s; exiting (--retries %u)", settings_.destination.c_str(),
                      consecutive_failures_, what.c_str(), settings_.retries);
            finish_(kExitTempFail);
            return false;
        }
        // --ignore-failures: given up on explicitly, and said so with every path.
        log_error("sync to %s failed %u times in a row: %s; dropping %s (--ignore-failures)",
                  settings_.destination.c_str(), consecutive_failures_, what.c_str(), paths.c_str());
        for (const QueuedPath& p : batch.paths) log_error("  dropped: %s", printable(p.path).c_str());
        for (const Rename& r : batch.renames)
            log_error("  dropped: %s -> %s", printable(r.from).c_str(), printable(r.to).c_str());
        for (const QueuedPath& p : result.rename_paths) log_error("  dropped: %s", printable(p.path).c_str());
        consecutive_failures_ = 0;
        return true;
    }
    Millis backoff = failure_backoff(consecutive_failures_);
    next_sync_allowed_ = std::max(next_sync_allowed_, now + backoff);
    // Not dropped: the paths go back into the queue, folded with newer events.
    requeue(batch, result, now - settings_.delays.normal);
    // Once per change of state, not once per retry: a destination down for an hour
    // would otherwise fill the log.
    double retry_in = std::chrono::duration<double>(backoff).count();
    // The first line says why (ssh: connection refused); rsync's exit code and its
    // summary line vary with the moment the connection failed.
    if (first_line(what) != first_line(last_error_))
        log_warning("sync to %s failed (exit code %d): %s; retrying with back-off (next in %.1f s, at most %.0f s)",
                    settings_.destination.c_str(), result.exit_code, what.c_str(), retry_in,
                    std::chrono::duration<double>(kMaxBackoff).count());
    else
        log_debug("sync to %s failed again (%u in a row); retrying in %.1f s", settings_.destination.c_str(),
                  consecutive_failures_, retry_in);
    last_error_ = what;
    arm_probe();
    return true;
}

bool SyncCoordinator::held_by_guard() {
    if (!settings_.guard) return false;
    std::optional<std::string> why = settings_.guard->problem(settings_.guarded_destination);
    if (why != guard_hold_) {
        if (why)
            log_error(
                "holding the sync to %s: %s; nothing is written or deleted there until the tree is back, or "
                "SIGUSR2 says it is right as it is",
                settings_.destination.c_str(), why->c_str());
        else
            log_info("sync to %s goes on", settings_.destination.c_str());
        guard_hold_ = why;
        if (settings_.on_change) settings_.on_change();
    }
    return guard_hold_.has_value();
}

bool SyncCoordinator::on_standby() const {
    return !settings_.standby_file.empty() && access(settings_.standby_file.c_str(), F_OK) == 0;
}

void SyncCoordinator::put_back_deferred(const Batch& batch, TimePoint now) {
    ++deferrals_;
    // Nothing was replayed: the renames go back as renames (as both of their names,
    // synced whole, a file renamed over a newer one lost to it under a cluster's
    // --update).
    TimePoint due_now = now - settings_.delays.normal;
    requeue(batch, SyncResult{}, due_now);
    queue_.put_back_renames(batch.renames, due_now);
    next_sync_allowed_ = std::max(next_sync_allowed_, now + kDeferralPause);
    if (settings_.on_change) settings_.on_change();
    dispatch();
}

void SyncCoordinator::requeue(const Batch& batch, const SyncResult& result, TimePoint first_seen, bool only_renamed) {
    std::vector<QueuedPath> paths = batch.paths;
    if (batch.full_tree) paths.push_back({"", true});
    paths.insert(paths.end(), result.rename_paths.begin(), result.rename_paths.end());
    remember(queue_.requeue(std::move(paths), first_seen, only_renamed));
    if (!only_renamed)
        for (const DeletionCandidate& c : batch.deletion_candidates) add_deletion_candidate(c.path, c.times);
}

void SyncCoordinator::check_exit_conditions() {
    if (stopping_ || !(settings_.exit_on_no_events || finishing_)) return;
    if (queue_.empty() && !batch_running_) {
        log_info(finishing_ ? "everything queued is synced: exiting" : "no more events: exiting (--exit-on-no-events)");
        finish_(0);
    }
}

void SyncCoordinator::arm_probe() {
    if (probe_timer_id_ || probe_running_ || stopping_) return;
    if (next_sync_allowed_ - Clock::now() <= kProbeInterval) return;  // the retry comes first
    probe_timer_id_ = g_timeout_add(
        static_cast<guint>(kProbeInterval.count()),
        [](gpointer self) -> gboolean {
            auto* coordinator = static_cast<SyncCoordinator*>(self);
            coordinator->probe_timer_id_ = 0;
            if (coordinator->batch_running_ || !coordinator->consecutive_failures_) return G_SOURCE_REMOVE;
            coordinator->probe_running_ = true;
            coordinator->pool_.submit([coordinator] {
                std::optional<bool> reachable = coordinator->runner_.reachable();
                run_on_main_thread([coordinator, reachable] { coordinator->on_probe_result(reachable); });
            });
            return G_SOURCE_REMOVE;
        },
        this);
}

void SyncCoordinator::on_probe_result(std::optional<bool> reachable) {
    probe_running_ = false;
    if (stopping_ || !reachable || batch_running_ || !consecutive_failures_) return;
    if (!*reachable) {
        probe_failed_ = true;
        return arm_probe();
    }
    // Answering all along: the failure is of another kind; the back-off stands.
    if (!probe_failed_) return;
    probe_failed_ = false;
    log_info("%s answers again: retrying now", settings_.destination.c_str());
    next_sync_allowed_ = Clock::now();
    dispatch();
}

void SyncCoordinator::arm_timer(TimePoint when) {
    if (timer_id_ && timer_due_ == when) return;
    if (timer_id_) g_source_remove(timer_id_);
    auto wait = std::chrono::ceil<Millis>(when - Clock::now()).count();
    timer_due_ = when;
    timer_id_ = g_timeout_add(
        static_cast<guint>(std::max<long long>(wait, 0)),
        [](gpointer self) -> gboolean {
            auto* coordinator = static_cast<SyncCoordinator*>(self);
            coordinator->timer_id_ = 0;
            coordinator->dispatch();
            return G_SOURCE_REMOVE;
        },
        this);
}

}  // namespace clsync
