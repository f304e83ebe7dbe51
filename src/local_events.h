// When this node's watcher last reported paths (a cluster node's: the paths of a batch,
// Batch::deletion_candidates; or all its recent ones, conflict_keeper.h): what changed
// here after a peer announced a path is this node's change; what did not is the
// peer's, on its way (cluster_runner.h). Pure.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "content_signature.h"
#include "path_event.h"

namespace clsync {

// When (wall clock, g_get_real_time) the last event naming a path was read: any event,
// and one that named everything below the path too (a directory made, moved in, or
// renamed; 0: none).
struct EventTimes {
    std::int64_t seen_us = 0;
    std::int64_t subtree_seen_us = 0;
    void merge(const EventTimes& o) {
        seen_us = std::max(seen_us, o.seen_us);
        subtree_seen_us = std::max(subtree_seen_us, o.subtree_seen_us);
    }
};

struct DeletionCandidate;

// The paths `event`, read at `now_us`, names: its path (and all below it, for a
// recursive event), and for a rename all below both names.
std::vector<std::pair<std::string, EventTimes>> paths_named(const PathEvent& event, std::int64_t now_us);

class LocalEvents {
public:
    LocalEvents() = default;
    explicit LocalEvents(const std::vector<DeletionCandidate>& candidates);
    void add(const std::string& path, const EventTimes& times);
    // Forgets the events read before `us`.
    void forget_before(std::int64_t us);
    // The last event that named `path`, or all below a directory above it (wall clock;
    // 0: none). Not an attribute change of a directory above: a peer's write into it
    // raises those.
    std::int64_t last_touching(const std::string& path) const;
    // When `path`, holding `state` now, last changed here at the latest: its last event,
    // or, where that came later than the entry's ctime, the ctime (any change of an
    // entry moves its ctime, so what an event found without changing it, such as the
    // scan of a directory a peer's run made or moved here, is older than the event).
    std::int64_t last_change(const std::string& path, const EntryState& state) const;

private:
    std::unordered_map<std::string, EventTimes> times_;
};

}  // namespace clsync
