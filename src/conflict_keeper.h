// Conflict copies for a cluster node: when a peer announces a file that this node
// changed too, and this node's version has not reached the peer yet (both changed it
// within one window), this node keeps its version beside it as
// NAME.clsync-conflict-NODE-YYYYMMDDTHHMMSSZ before the peer's copy can replace it.
// The newest mtime still wins the name (rsync --update); the other version is never
// overwritten silently. The copy (made on the main thread before the notice is
// acknowledged, in-kernel with copy_file_range) is a new file of this node, synced to
// the peers like any other.
//
// "This node's version": the file as this node announced it within the window, or a
// file changed here (ctime) within the window; either way changed by this node's
// writers: the watcher reported an event on it (or on a directory above it, with all
// below) within the window that was not a peer's delivery, and for the ctime, after
// that change. Not a file changed while clsync was not running: peers write into this
// tree meanwhile, and their files would all be taken for this node's (the newest mtime
// decides those). A whole-tree or recursive notice also names the peers' files, and a peer's
// file delivered here under another name and moved by the peer's rename has a recent
// ctime: neither is this node's. Nor is a file changed here while a peer's run was writing
// it or a directory above it (from its notice to its Done, and a second around: a
// delivery torn by a write at the peer, or of a file made after the peer's notice,
// matches no announcement, and is no version of this node's). So a change made here
// during a peer's run over its directory is caught only once this node announced it.
// Nor is a file that holds what the peer announced before for a name its notice says
// is gone: the peer's run, which starts as the notice is sent, may have replayed that
// rename here before the notice is handled. Nor a file changed here after the notice
// arrived (the kernel's time of arrival, not when the main loop read it): that is the
// peer's run itself (a rename or swap it replayed), or a change made here after the
// peer sent what it announced, newer than it, which rsync --update keeps anyway.
// And a version this node announced stops being its own once a peer announces that
// very version: the peer has it (from this node, or its own write arrived here before
// its notice and this node's walk named it first), and the peer's next change of it
// follows that version, it is no concurrent one.
//
// Threads: announced() on workers, touched() and keep_conflicting() on the main thread
// (one mutex).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "clock.h"
#include "cluster_packet.h"
#include "expected_changes.h"
#include "local_events.h"
#include "path_event.h"

namespace clsync {

// Added to the longer delay (-T) to make the window: the time a sync takes.
constexpr Millis kConflictSlack{10000};

class ConflictKeeper {
public:
    ConflictKeeper(std::string watch_dir, std::string node, Millis window, const ExpectedChanges& expected);

    // This node's watcher reported `event`, which is not a peer's delivery.
    void touched(const PathEvent& event);
    // This node announced `entries` (before its sync writes them to the peers).
    void announced(const std::vector<NoticeEntry>& entries);
    // `peer` announced `entries` in a notice that arrived at `arrived_us` (wall clock);
    // called before they become expectations.
    void keep_conflicting(const std::string& peer, const std::vector<NoticeEntry>& entries, std::int64_t arrived_us);

private:
    struct Own {
        std::uint64_t signature = 0;
        std::int64_t at_us = 0;
        // What this node announced for the path before, within the window (newest first,
        // 0: none): a peer announcing one of them names what it has from this node.
        std::array<std::uint64_t, 3> earlier{};
    };
    // Whether `signature` is a version of `path` this node announced within the window.
    bool announced_here(const std::string& path, std::uint64_t signature, std::int64_t now_us);
    // A peer announced `signature` for `path`: if that is the version this node
    // announced last, it is not this node's alone any more (forgotten).
    void shared_by_peer(const std::string& path, std::uint64_t signature);
    // Whether a peer's run is writing `path` here (announced, not done, or done within
    // a second).
    bool peer_is_writing(const std::string& path, std::int64_t now_us) const;
    // Forgets what is past the window, at most once per window.
    void prune_locked(std::int64_t now_us);
    // Whether the file at `path`, with this signature and ctime, is this node's version
    // of the last window.
    bool is_recent_here(const std::string& path, std::uint64_t signature, std::int64_t ctime_us, std::int64_t now_us);
    // The same without the signature (which reads the file): false rules it out.
    bool may_be_recent_here(const std::string& path, std::int64_t ctime_us, std::int64_t now_us);
    // What `peer` announced before for the names its notice `entries` says are gone.
    std::unordered_set<std::uint64_t> signatures_moved_by(const std::string& peer,
                                                          const std::vector<NoticeEntry>& entries) const;

    std::string watch_dir_;
    std::string node_;
    std::int64_t window_us_;
    const ExpectedChanges& expected_;
    std::mutex mutex_;
    std::unordered_map<std::string, Own> own_;  // guarded by mutex_; pruned past the window
    LocalEvents touched_;                       // guarded by mutex_; pruned past the window
    std::int64_t pruned_at_us_ = 0;             // guarded by mutex_
};

// NAME.clsync-conflict-NODE-YYYYMMDDTHHMMSSZ for the UTC time `at_us` (with "-N" after
// it for the Nth copy of one second, N > 1), NAME cut so that the whole stays within
// NAME_MAX bytes, '/' in NODE as '_'.
std::string conflict_name(const std::string& name, const std::string& node, std::int64_t at_us, unsigned n = 1);

}  // namespace clsync
