// What this node wrote into a peer's tree that it reaches as a local path (cluster,
// doc/PROTOCOL.md), so that it can take back what it left there and no longer has.
//
// A cluster's rsync deletes at a peer only what this node deleted (rsync_runner.cpp:
// anything else there may be the peer's own new entry). Where the replay of a rename
// failed there, or a run copied a state of the source newer than its batch (the source
// changed meanwhile) and the next batch replayed renames over it, a directory there can
// keep entries this node's copy of it no longer has, under names no event here ever
// named: nothing syncs them again, and the peer, taking them for its own, brings them
// back (a union). The peer's own check (stale_entries.h) misses them while its daemon
// is down, and where its watcher saw them arrive under other names.
//
// So, per destination, each path this node's runs wrote there (rsync's log: not all
// they announced, since a directory synced whole holds the peer's own entries too) is
// recorded with its signature, and moved along with the renames replayed there. After
// a run, below the run's recursive paths, what the destination holds that the source
// lacks and that is exactly what this node wrote under that name, unchanged since, is
// removed, and announced as deleted. Anything else there (a change made at the peer, a
// peer's own entry, a rename made at the peer) matches no record and stays.
//
// Pure; threads: any (one mutex): a destination's runs may overlap. Removing what
// the table says is this node's: own_leftovers.h.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "clock.h"
#include "cluster_packet.h"
#include "content_signature.h"
#include "delay_queue.h"

namespace clsync {

// Records older than this are forgotten (their entries then stay where left); beyond
// kMaxOwnWrites records per destination, new ones are not kept until old ones expire.
constexpr Millis kOwnWriteLifetime{10 * 60 * 1000};
constexpr std::size_t kMaxOwnWrites = 200000;

class OwnWrites {
public:
    // The batch's renames, as they were replayed at the destination: what was recorded
    // under an old name is under the new one there now (and what the new name held went).
    // Times are the wall clock's (g_get_real_time), as ctimes are.
    void follow(const std::vector<Rename>& renames, const std::vector<RenameReplay>& replayed, std::int64_t now_us);
    // What a run wrote (wire paths; deletions are skipped), by `now_us`.
    void record(const std::vector<NoticeEntry>& entries, std::int64_t now_us);
    // Whether the destination's `state` at `path` is what this node wrote there, and
    // unchanged since (its ctime, but for a directory).
    bool wrote(const std::string& path, const EntryState& state, std::int64_t now_us) const;
    // Why wrote() is false (for traces); nullptr when it is true.
    const char* why_not_wrote(const std::string& path, const EntryState& state, std::int64_t now_us) const;
    // Whether `path` has a record at all: cheap, before reading its state for wrote().
    bool knows(const std::string& path, std::int64_t now_us) const;
    std::size_t size() const;

private:
    struct Written {
        // The newest first: where a run could not write what the source held (a file
        // where the destination keeps a non-empty directory), an earlier write stays.
        std::array<std::uint64_t, 3> signatures{};
        std::int64_t at_us = 0;  // when this node last wrote or moved it there
    };
    using Table = std::map<std::string, Written>;
    // `path` and everything below it, taken out.
    Table take_locked(const std::string& path);
    void put_locked(Table moved, const std::string& from, const std::string& to);
    static bool is_expired(const Written& w, std::int64_t now_us);
    void drop_expired_locked(std::int64_t now_us);

    mutable std::mutex mutex_;
    Table entries_;  // by path; guarded by mutex_
};

}  // namespace clsync
