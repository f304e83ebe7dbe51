#include "cluster_runner.h"

#include <glib.h>

#include <algorithm>
#include <iterator>
#include <unordered_map>
#include <unordered_set>

#include "content_signature.h"
#include "local_events.h"
#include "log.h"
#include "own_leftovers.h"
#include "rename_replay.h"
#include "scanner.h"

namespace clsync {
namespace {

// Calls visit(path, state) for `start` and, if it is a directory, everything below
// it; a directory whose visit returns false is not looked into.
// `known(path)`: what an earlier walk found there (entry_state's `known`), or nullptr.
// Whether every entry could be looked at (none unreadable).
bool walk_states(const std::string& root, const std::string& start,
                 const std::function<bool(const std::string&, const EntryState&)>& visit,
                 const std::function<const EntryState*(const std::string&)>& known = {}) {
    bool readable = true;
    auto earlier = [&known](const std::string& path) { return known ? known(path) : nullptr; };
    auto look_at = [&](const std::string& path, const EntryState& state) {
        readable = readable && state.kind != EntryState::Kind::Unreadable;
        return visit(path, state);
    };
    EntryState top = path_state(root, start, earlier(start));
    if (!look_at(start, top) || !top.directory) return readable;
    walk_directories(
        root, start,
        [&](const std::string& path, int dir_fd) {
            return path == start || look_at(path, entry_state(dir_fd, ".", earlier(path)));
        },
        [&readable](const std::string&) { readable = false; },
        [&](const std::string& dir, int dir_fd, const char* name) {
            std::string path = join_path(dir, name);
            look_at(path, entry_state(dir_fd, name, earlier(path)));
        });
    return readable;
}

// The renames a run replays at the destination before it writes, as its notice names
// them: the peers' watchers see them happen.
std::vector<NoticeRename> replayed_renames(const Batch& batch) {
    std::vector<NoticeRename> renames;
    for (const Rename& r : batch.renames) {
        if (renames.size() >= kMaxNoticeEntries) break;
        renames.push_back({to_wire_path(r.from), to_wire_path(r.to)});
    }
    return renames;
}

// What the second walk found that the first did not announce as it is: entries made
// or changed while the run wrote, and (as deleted) those gone since. A walk cut at
// kMaxNoticeEntries tells nothing about what it did not reach.
std::vector<NoticeEntry> changed_during_run(const std::vector<NoticeEntry>& before_entries,
                                            const std::unordered_map<std::string, EntryState>& before,
                                            const std::vector<NoticeEntry>& after_entries,
                                            const std::unordered_map<std::string, EntryState>& after) {
    std::vector<NoticeEntry> changed;
    for (const NoticeEntry& e : after_entries) {
        auto it = before.find(e.path);
        if (it == before.end() || !(it->second == after.at(e.path))) changed.push_back(e);
    }
    if (after_entries.size() >= kMaxNoticeEntries) return changed;
    for (const NoticeEntry& e : before_entries)
        if (!e.deleted && !after.count(e.path)) changed.push_back({e.path, true, 0});
    return changed;
}

// Whether the event is a rename a peer's run made here, replaying one of its own: its
// notice named the rename (Packet::renames), or, for a notice that could not (lost, or
// too long a name), the peer announced the old name gone and the new one there; and
// the peer is still writing (or its Done came within kSettle: the watcher's event may
// come after the Done packet). What the new name holds is the peer's, on its way to
// what the peer has: judging it (or replaying the rename back) would send the peer's
// older state back over its newer one. `old_name_gone`: the peer announced the old
// name deleted.
bool is_peer_rename(const PathEvent& event, const ExpectedChanges& expected, TimePoint now, bool& old_name_gone) {
    if (!event.is_rename()) return false;
    std::int64_t now_us = g_get_real_time();
    std::int64_t in_flight_since_us = now_us - std::chrono::microseconds(kMaxInFlight).count();
    std::int64_t settled_since_us = now_us - std::chrono::microseconds(kSettle).count();
    std::optional<Expectation> from = expected.find(event.renamed_from, now), to = expected.find(event.path, now);
    old_name_gone = from && from->deleted;
    if (expected.announced_rename(event.renamed_from, event.path, in_flight_since_us, settled_since_us)) return true;
    if (!from || !to || !from->deleted || to->deleted || from->node != to->node) return false;
    auto writing = [&](const Expectation& e) {
        return e.in_flight ? e.announced_at_us > in_flight_since_us : e.settled_at_us > settled_since_us;
    };
    return writing(*from) && writing(*to);
}

}  // namespace

bool is_peer_delivery(const PathEvent& event, ExpectedChanges& expected, ClusterNotifier& notifier) {
    TimePoint now = Clock::now();
    // The rename of a writer's temporary file is the peer delivering the file, whatever
    // it holds by now: it was never this node's, and replaying it elsewhere (or sending
    // back a copy torn by a write at the peer during the transfer) could only undo the
    // peer's newer state. A local change after it raises events of its own.
    bool old_name_gone = false;
    bool peer_rename = is_peer_rename(event, expected, now, old_name_gone);
    // Where the peer announced the old name there too (one half of an exchange, or a
    // name made anew), its notice names both trees as they are now: nothing to move.
    if (peer_rename && old_name_gone) expected.follow_peer_rename(event.renamed_from, event.path);
    bool delivery = peer_rename || expected.is_writer_temp(event.is_rename() ? event.renamed_from : event.path, now);
    if (delivery && event.is_rename() && !peer_rename) expected.mark_landed(event.path);
    if (delivery) {
        notifier.count_echoes(1);
        return true;
    }
    // The same for a file no notice names yet, but a running peer's notice after its run
    // may: judged when the batch is (ClusterRunner::is_echo).
    std::int64_t in_flight_since_us = g_get_real_time() - std::chrono::microseconds(kMaxInFlight).count();
    if (event.is_rename() && is_temp_name_for(event.renamed_from, event.path) &&
        expected.peer_writing(in_flight_since_us))
        expected.note_delivery(event.path, now);
    else
        expected.forget_delivery(event.path);
    return false;
}

ClusterRunner::ClusterRunner(std::unique_ptr<SyncRunner> inner, std::string watch_dir, std::string destination,
                             std::string peer_node, ClusterNotifier& notifier, ExpectedChanges& expected,
                             ConflictKeeper& conflicts, bool local_destination)
    : inner_(std::move(inner)),
      watch_dir_(std::move(watch_dir)),
      destination_(std::move(destination)),
      peer_node_(std::move(peer_node)),
      notifier_(notifier),
      expected_(expected),
      conflicts_(conflicts),
      own_writes_(local_destination ? std::make_unique<OwnWrites>() : nullptr) {}

std::optional<Batch> ClusterRunner::needed(const Batch& batch) const {
    std::size_t left_out = 0;
    bool unsettled = false;
    Batch kept = without_echoes(batch, left_out, unsettled);
    if (unsettled && batch.deferrals < kMaxDeferrals) {
        log_debug("a peer's notice about paths of the sync to %s is younger than %.0f s: waiting", destination_.c_str(),
                  kSettle.count() / 1000.0);
        return std::nullopt;
    }
    if (left_out) {
        notifier_.count_echoes(left_out);
        log_info("%zu changed paths are what other nodes wrote: not synced back to %s", left_out, destination_.c_str());
    }
    return kept;
}

SyncResult ClusterRunner::run(const Batch& batch) const {
    Walk before = walk_batch(batch);
    conflicts_.announced(before.entries);
    // Done however the run ends: the peers judge the announced paths from then on.
    struct DoneOnExit {
        ClusterNotifier& notifier;
        std::vector<std::uint64_t> seqs;
        ~DoneOnExit() {
            if (!seqs.empty()) notifier.done(seqs);
        }
    } done{notifier_, notifier_.notify(before.entries, replayed_renames(batch))};
    notifier_.wait_acknowledged(done.seqs);
    Batch own = batch;
    Batch requested = take_requested(own);
    if (!before.peer_temps.empty()) {
        log_debug("cluster: %zu files other nodes are writing here left out of the sync to %s",
                  before.peer_temps.size(), destination_.c_str());
        own.excluded = std::move(before.peer_temps);
    }
    bool only_requested = own.paths.empty() && own.renames.empty() && !own.full_tree;
    SyncResult result = inner_->run(only_requested ? requested : own);
    if (!only_requested && !requested.paths.empty() && result.outcome == RsyncOutcome::Complete)
        fold_rerun(result, inner_->run(requested));
    if (own_writes_ && result.outcome == RsyncOutcome::Complete && !result.kept_newer.empty())
        overwrite_own_newer(result);
    for (const QueuedPath& p : batch.paths) expected_.resend_carried(p.path, destination_);
    Walk after = walk_batch(batch, &before);
    std::vector<NoticeEntry> changed = changed_during_run(before.entries, before.states, after.entries, after.states);
    Written written;
    if (own_writes_ && !result.written.empty()) written = what_was_written(result, before, after, changed);
    if (!written.unannounced.empty())
        log_debug("cluster: %zu paths the sync to %s wrote as the source held them during the run: announced",
                  written.unannounced.size(), destination_.c_str());
    // The state written first: the newest announcement of a path is what the source
    // holds now, which the next run writes.
    std::vector<NoticeEntry> announce = std::move(written.unannounced);
    announce.insert(announce.end(), changed.begin(), changed.end());
    if (!announce.empty()) {
        if (!changed.empty())
            log_debug("cluster: %zu paths of the sync to %s changed while it ran: announced", changed.size(),
                      destination_.c_str());
        conflicts_.announced(changed);
        std::vector<std::uint64_t> seqs = notifier_.notify(announce);
        done.seqs.insert(done.seqs.end(), seqs.begin(), seqs.end());
    }
    if (own_writes_) remove_leftovers(batch, result, written.entries, done.seqs);
    return result;
}

Batch ClusterRunner::take_requested(Batch& batch) const {
    Batch requested;
    requested.existing_only = true;
    if (batch.full_tree) return requested;
    // The Resend repairs a write a peer's older one overtook there: a path the
    // destination no longer has went with a newer change (its owner deleted it, or
    // renamed it away), and sent again it would come back everywhere (cluster.py
    // seed 103: the owner's renamed file back at the owner).
    LocalEvents local(batch.deletion_candidates);
    TimePoint now = Clock::now();
    auto only_requested = [&](const QueuedPath& p) {
        return only_asked_for(p, local, ExpectedChanges::ResendTo::Here, now);
    };
    std::copy_if(batch.paths.begin(), batch.paths.end(), std::back_inserter(requested.paths), only_requested);
    batch.paths.erase(std::remove_if(batch.paths.begin(), batch.paths.end(), only_requested), batch.paths.end());
    return requested;
}

bool ClusterRunner::only_asked_for(const QueuedPath& p, const LocalEvents& local, ExpectedChanges::ResendTo to,
                                   TimePoint now) const {
    return !p.recursive && local.last_touching(p.path) == 0 &&
           expected_.resend_to(p.path, destination_, peer_node_, now) == to;
}

void ClusterRunner::overwrite_own_newer(SyncResult& result) const {
    std::int64_t now_us = g_get_real_time();
    Batch again;
    again.overwrite_newer = true;
    for (const std::string& path : result.kept_newer)
        if (own_writes_->knows(path, now_us) && own_writes_->wrote(path, path_state(destination_, path), now_us))
            again.paths.push_back({path, false});
    if (again.paths.empty()) return;
    std::sort(again.paths.begin(), again.paths.end(),
              [](const QueuedPath& a, const QueuedPath& b) { return a.path < b.path; });
    log_debug("cluster: %zu files at %s are newer than the source's but what this node wrote there: written again",
              again.paths.size(), destination_.c_str());
    fold_rerun(result, inner_->run(again));
}

void ClusterRunner::remove_leftovers(const Batch& batch, const SyncResult& result,
                                     const std::vector<NoticeEntry>& written, std::vector<std::uint64_t>& seqs) const {
    std::int64_t now_us = g_get_real_time();
    own_writes_->follow(batch.renames, result.renames_replayed, now_us);
    if (!written.empty()) own_writes_->record(written, now_us);
    std::vector<std::string> roots;
    if (batch.full_tree) roots.push_back("");
    for (const std::vector<QueuedPath>* paths : {&batch.paths, &result.rename_paths})
        for (const QueuedPath& p : *paths)
            if (p.recursive) roots.push_back(p.path);
    // What a replayed rename moved holds what this node wrote under the old name,
    // which the source may no longer have under the new one (changed after the event).
    for (std::size_t i = 0; i < batch.renames.size() && i < result.renames_replayed.size(); ++i) {
        if (result.renames_replayed[i] == RenameReplay::Renamed) roots.push_back(batch.renames[i].to);
        if (result.renames_replayed[i] == RenameReplay::Exchanged)
            roots.insert(roots.end(), {batch.renames[i].from, batch.renames[i].to});
    }
    if (roots.empty() || !own_writes_->size()) return;
    std::vector<std::string> removed = remove_own_leftovers(watch_dir_, destination_, std::move(roots), *own_writes_);
    if (removed.empty()) return;
    log_info("cluster: removed %zu entries at %s that this node wrote there and no longer has", removed.size(),
             destination_.c_str());
    std::vector<NoticeEntry> deleted;
    for (const std::string& path : removed) deleted.push_back({to_wire_path(path), true, 0});
    std::vector<std::uint64_t> more = notifier_.notify(deleted);
    seqs.insert(seqs.end(), more.begin(), more.end());
}

ClusterRunner::Written ClusterRunner::what_was_written(const SyncResult& result, const Walk& before_walk,
                                                       const Walk& after_walk,
                                                       const std::vector<NoticeEntry>& changed) const {
    // Only what the run wrote (rsync's log), not all it announced: a directory it
    // syncs whole holds the peer's own entries too. Where the source held a path
    // untouched from the walk before the run to the walk after it, the walk's signature
    // is what was written; the rest is read there. Untouched: the same inode and ctime,
    // not only the same signature (a directory chmodded during the run, then swapped
    // with one as it was before, is announced as before but written as in between).
    std::unordered_map<std::string, std::uint64_t> before, after;  // written entries, by wire path
    std::unordered_set<std::string> changed_paths;
    for (const NoticeEntry& e : before_walk.entries)
        if (!e.deleted) before.emplace(e.path, e.signature);
    for (const NoticeEntry& e : changed) {
        changed_paths.insert(e.path);
        if (!e.deleted) after.emplace(e.path, e.signature);
    }
    auto untouched = [&](const std::string& wire) {
        auto was = before_walk.states.find(wire), is = after_walk.states.find(wire);
        return !changed_paths.count(wire) && was != before_walk.states.end() && is != after_walk.states.end() &&
               was->second.inode == is->second.inode && was->second.ctime_ns == is->second.ctime_ns;
    };
    auto announced = [](const std::unordered_map<std::string, std::uint64_t>& walk, const std::string& wire,
                        std::uint64_t signature) {
        auto it = walk.find(wire);
        return it != walk.end() && it->second == signature;
    };
    Written written;
    for (const std::string& path : result.written) {
        std::string wire = to_wire_path(path);
        auto it = before.find(wire);
        if (it != before.end() && untouched(wire)) {
            written.entries.push_back({wire, false, it->second});
            continue;
        }
        EntryState state = path_state(destination_, path);
        if (state.kind != EntryState::Kind::Present) continue;
        written.entries.push_back({wire, false, state.signature});
        if (!announced(before, wire, state.signature) && !announced(after, wire, state.signature))
            written.unannounced.push_back(written.entries.back());
    }
    return written;
}

bool ClusterRunner::is_echo(const std::string& path, bool recursive, const LocalEvents& local, bool* unsettled) const {
    TimePoint now = Clock::now();
    std::int64_t now_us = g_get_real_time();
    std::int64_t settled_before_us = now_us - std::chrono::microseconds(kSettle).count();
    std::int64_t in_flight_since_us = now_us - std::chrono::microseconds(kMaxInFlight).count();
    // A path no notice names may still be carried by a peer's run in flight: its
    // notice after the run will say so.
    auto peer_may_name = [&] {
        if (unsettled && expected_.peer_writing(in_flight_since_us)) *unsettled = true;
    };
    auto matches = [&](const std::string& p, const EntryState& state) {
        std::optional<Expectation> e = expected_.find(p, now);
        // Not the time of the event that named it, where the entry is older: a scan's
        // event (a directory a peer's run made or moved here) changes nothing. Looked up
        // only where needed: most entries of a walk match their announcement.
        auto changed_here_us = [&] { return local.last_change(p, state); };
        // A directory above announced gone later than the path itself: the path went
        // with it (announced as it was before, its old notice would say it changed here).
        std::optional<Expectation> gone = expected_.deleted_above(p, now);
        if (gone && (!e || gone->announced_at_us > e->announced_at_us)) e = gone;
        // A path a peer asked for again goes whatever it holds, unless a peer announced
        // it gone since this node last changed it: that deletion is newer than the write
        // that was overtaken, and the path sent again would come back at the peers
        // (cluster.py seeds 63, 88: a deleted file back at its owner).
        if (expected_.resend_to(p, destination_, peer_node_, now) == ExpectedChanges::ResendTo::Here &&
            !(e && e->deleted && e->announced_at_us > changed_here_us()))
            return false;
        if (expected_.is_writer_temp(p, now)) return true;
        if (expected_.was_delivered(p, now)) {
            expected_.mark_landed(p);
            return true;
        }
        bool absent = state.kind == EntryState::Kind::Absent;
        if (e && state.kind != EntryState::Kind::Unreadable && e->matches(absent, state.signature)) {
            expected_.mark_landed(p);
            return true;
        }
        // A peer announced the path gone, or a directory here as it has it, after this
        // node last changed it: that is the peer's newer change, on its way here (its
        // deletion, say, waits for its next run). Sent back, the older state would
        // undo it there: rsync's --update, which keeps a newer file, does not keep a
        // deletion, nor a directory's attributes. (Waiting for the peer's write instead,
        // as below, left 9 of 16 runs of cluster.py's scenario 2 with such a state
        // sent back once the wait ran out.)
        bool peer_is_newer = e && !absent && e->announced_at_us > changed_here_us();
        if (peer_is_newer && (e->deleted || state.directory)) {
            log_debug("cluster: '%s' is older here than a peer's announcement of it: left to the peer",
                      printable(p).c_str());
            return true;
        }
        if (!e && !absent && state.kind != EntryState::Kind::Unreadable) {
            std::optional<Expectation> moved = expected_.moved_by_peer(p, now);
            if (moved && moved->once_held(state.signature)) {
                log_debug("cluster: '%s' is what node %s had under an earlier name, moved here by its renames",
                          printable(p).c_str(), printable(moved->node).c_str());
                return true;
            }
        }
        if (!e) peer_may_name();
        // Anything else the peer announced after this node last changed it (a file where
        // the peer made a directory, say) waits a while for the peer's write: sent now,
        // this older state goes over the peer's type change. Not for good: where the
        // peer's --update keeps this node's newer file, it is this node's to send.
        if (e && unsettled &&
            ((e->in_flight && e->announced_at_us > in_flight_since_us) || e->announced_at_us > settled_before_us ||
             (peer_is_newer && e->announced_at_us > now_us - std::chrono::microseconds(kPeerNewerWait).count())))
            *unsettled = true;
        if (log_enabled(LogLevel::Debug)) {
            if (!e)
                log_debug("cluster: '%s' changed here: no peer announced it", printable(p).c_str());
            else
                log_debug("cluster: '%s' changed here: differs from %s (announced %.3f s ago, changed here %.3f s ago)",
                          printable(p).c_str(), e->in_flight ? "a notice still being written" : "the notices",
                          (now_us - e->announced_at_us) / 1e6, (now_us - changed_here_us()) / 1e6);
        }
        return false;
    };
    if (!recursive) {
        // Cheap first: most paths were never announced, and need no signature.
        if (!expected_.is_writer_temp(path, now) && !expected_.find(path, now) && !expected_.deleted_above(path, now) &&
            !expected_.moved_by_peer(path, now)) {
            peer_may_name();
            return false;
        }
        return matches(path, path_state(watch_dir_, path));
    }
    // The first difference decides: a directory goes whole or not at all (syncing
    // only its differing entries was tried: it left trees apart in cluster.py's
    // concurrent workloads).
    bool all = true;
    walk_states(watch_dir_, path, [&](const std::string& p, const EntryState& state) {
        all = all && matches(p, state);
        return all;
    });
    return all;
}

Batch ClusterRunner::without_echoes(const Batch& batch, std::size_t& left_out, bool& unsettled) const {
    Batch kept = batch;
    LocalEvents local(batch.deletion_candidates);
    if (batch.full_tree && is_echo("", true, local, &unsettled)) {
        kept.full_tree = false;
        left_out += 1;
    }
    // A rename the peer made itself is in place there already; the others are
    // replayed, in their order. A peer's writer renaming its temporary file into place
    // delivered that file, whatever it holds: a copy torn by a write at the peer during
    // the transfer differs from the notice, and must not go back over the newer file
    // (the peer syncs that one next).
    // So is the rename of a writer's temporary name that was noted as a delivery while a
    // peer was writing (is_peer_delivery), before any notice named the file: judging the
    // temporary name, gone, as this node's deletion would sync the directories above it
    // back, over a type change the peer made meanwhile.
    // Any other rename of a writer's temporary name into place (a writer here, or a
    // peer's whose delivery a later event made this node forget) is not replayed either:
    // no other node ever had the temporary name, so the replay fails and copies both
    // names, with the directories above them as this node has them, over a type change
    // the peer made since, deleting there what this node no longer has (cluster.py
    // seeds 57, 59). The new name is judged as a path, under the name it has after the
    // batch's later renames.
    std::unordered_set<std::string> delivered, temps;
    std::vector<std::string> placed;  // new names of other temporary names
    kept.renames.clear();
    TimePoint now = Clock::now();
    for (std::size_t i = 0; i < batch.renames.size(); ++i) {
        const Rename& r = batch.renames[i];
        if (expected_.is_writer_temp(r.from, now) ||
            (is_temp_name_for(r.from, r.to) && expected_.was_delivered(r.to, now))) {
            delivered.insert(r.to);
            temps.insert(r.from);
            left_out += 2;
        } else if (is_temp_name_for(r.from, r.to)) {
            temps.insert(r.from);
            std::string name = r.to;
            for (std::size_t later = i + 1; later < batch.renames.size(); ++later)
                follow_rename(batch.renames[later], name);
            placed.push_back(std::move(name));
        } else if (is_echo(r.from, true, local, &unsettled) && is_echo(r.to, true, local, &unsettled)) {
            left_out += 2;
        } else {
            kept.renames.push_back(r);
        }
    }
    // A path missing here that a peer announced after our last event on it is the
    // peer's newer file on its way (or the peer's own deletion): not ours to delete.
    auto peer_is_newer = [&](const std::string& path) {
        std::optional<Expectation> e = expected_.find(path, now);
        return e && e->announced_at_us > local.last_touching(path) && is_absent(watch_dir_, path);
    };
    kept.paths.clear();
    std::vector<QueuedPath> paths = batch.paths;
    std::unordered_set<std::string> listed;
    for (const QueuedPath& p : paths) listed.insert(p.path);
    for (std::string& name : placed)
        if (listed.insert(name).second) paths.push_back({std::move(name), true});
    std::sort(paths.begin(), paths.end(), [](const QueuedPath& a, const QueuedPath& b) { return a.path < b.path; });
    for (const QueuedPath& p : paths) {
        // Asked for again by another node than the one whose tree this is: nothing to
        // do here (and no peer's write to count).
        if (only_asked_for(p, local, ExpectedChanges::ResendTo::Elsewhere, now)) continue;
        if (delivered.count(p.path) || temps.count(p.path) || is_echo(p.path, p.recursive, local, &unsettled) ||
            peer_is_newer(p.path)) {
            ++left_out;
            continue;
        }
        kept.paths.push_back(p);
        if (!unsettled && directory_above_older_here(p.path, local, now)) unsettled = true;
    }
    // A path a peer deleted here is the peer's deletion, not ours to pass on (the
    // peer may have made something new under that name since).
    kept.deletion_candidates.clear();
    for (const DeletionCandidate& c : batch.deletion_candidates)
        if (!temps.count(c.path) && !is_echo(c.path, false, local) && !peer_is_newer(c.path))
            kept.deletion_candidates.push_back(c);
    return kept;
}

bool ClusterRunner::directory_above_older_here(const std::string& path, const LocalEvents& local, TimePoint now) const {
    for (std::string dir = split_parent(path).first; !dir.empty(); dir = split_parent(dir).first) {
        std::optional<Expectation> e = expected_.find(dir, now);
        if (!e || e->deleted) continue;
        EntryState state = path_state(watch_dir_, dir);
        // Not as the peer's newest announcement says (an earlier one of its states here
        // is older too).
        if (state.kind != EntryState::Kind::Present || !state.directory || state.signature == e->signature) continue;
        if (e->announced_at_us > local.last_change(dir, state)) {
            log_debug("cluster: '%s' waits: the directory '%s' above it is older here than a peer's announcement",
                      printable(path).c_str(), printable(dir).c_str());
            return true;
        }
    }
    return false;
}

ClusterRunner::Walk ClusterRunner::walk_batch(const Batch& batch, const Walk* before) const {
    Walk walk;
    std::vector<NoticeEntry>& entries = walk.entries;
    auto known = [before](const std::string& path) -> const EntryState* {
        if (!before) return nullptr;
        auto it = before->states.find(to_wire_path(path));
        return it == before->states.end() ? nullptr : &it->second;
    };
    std::unordered_map<std::string, std::size_t> position;  // of each entry, by path (each once)
    TimePoint now = Clock::now();
    auto add = [&](const std::string& path, const EntryState& state) {
        if (entries.size() >= kMaxNoticeEntries || state.kind == EntryState::Kind::Unreadable) return;
        if (state.kind == EntryState::Kind::Present && expected_.is_writer_temp(path, now)) {
            if (walk.peer_temps.size() < kMaxExcludedTemps) walk.peer_temps.push_back(path);
            return;
        }
        if (!position.emplace(path, entries.size()).second) return;
        bool deleted = state.kind == EntryState::Kind::Absent;
        entries.push_back({to_wire_path(path), deleted, deleted ? 0 : state.signature});
        walk.states.emplace(entries.back().path, state);
    };
    auto add_tree = [&](const std::string& path) {
        bool readable = walk_states(
            watch_dir_, path,
            [&](const std::string& p, const EntryState& state) {
                add(p, state);
                return entries.size() < kMaxNoticeEntries;  // no further down once full
            },
            known);
        // The peers may then remove below it what this node wrote there before and no
        // longer has (stale_entries.h). Not for the whole tree: a node's tree joins the
        // others' as a union, and a deletion made while clsync was not running is not
        // passed on. Not for a batch of more notices than one Done packet names.
        auto top = position.find(path);
        if (readable && !path.empty() && top != position.end() && walk.states.at(path).directory)
            entries[top->second].complete = true;
    };
    auto add_path = [&](const std::string& path) { add(path, path_state(watch_dir_, path, known(path))); };
    // rsync sets the attributes of every directory above a listed path.
    auto add_parents = [&](const std::string& path) {
        for (std::string dir = split_parent(path).first;; dir = split_parent(dir).first) {
            if (!position.count(dir)) add_path(dir);
            if (dir.empty()) break;
        }
    };
    if (batch.full_tree) add_tree("");
    for (const Rename& r : batch.renames) {
        for (const std::string* name : {&r.from, &r.to}) {
            add_tree(*name);
            add_parents(*name);
        }
    }
    for (const QueuedPath& p : batch.paths) {
        if (p.recursive)
            add_tree(p.path);
        else
            add_path(p.path);
        if (!p.path.empty()) add_parents(p.path);
    }
    // What the run deletes below the trees it syncs (cluster_deletion_rules: each
    // deletion candidate the source no longer has, also under its name after the
    // batch's renames), which their walks cannot name: announced gone, so that the peers
    // take those deletions for this node's, not for changes of their own made since
    // the path's last announcement (cluster.py two-node seed 248).
    for (const DeletionCandidate& c : batch.deletion_candidates) {
        std::string moved = c.path;
        for (const Rename& r : batch.renames) follow_rename(r, moved);
        for (const std::string* name : {&c.path, static_cast<const std::string*>(&moved)}) {
            if (name->empty() || position.count(*name)) continue;
            EntryState state = path_state(watch_dir_, *name, known(*name));
            if (state.kind == EntryState::Kind::Absent) add(*name, state);
        }
    }
    if (entries.size() >= kMaxNoticeEntries && !before)
        log_debug("cluster: only the first %zu paths of the sync to %s are announced", kMaxNoticeEntries,
                  destination_.c_str());
    if (entries.size() > kMaxCompleteEntries)
        for (NoticeEntry& e : entries) e.complete = false;
    return walk;
}

}  // namespace clsync
