// Turns due queue entries into batches, and remembers which paths are being synced
// so that two batches touching the same path never run at once (an older batch
// finishing after a newer one could otherwise overwrite newer content).
//
// Owned by the coordinator (main thread); pure.
#pragma once

#include "delay_queue.h"

#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace clsync {

struct Batch {
    std::vector<QueuedPath> paths;  // sorted; empty when full_tree
    bool full_tree = false;         // sync the whole tree (initial sync, rescan, huge batch)
};

// Paths of batches in flight. A path conflicts with an in-flight path when one is
// equal to, or an ancestor of, the other.
class InFlightPaths {
public:
    void add(const Batch& batch);
    void remove(const Batch& batch);
    bool conflicts(const std::string& path) const;
    bool empty() const { return paths_.empty(); }

private:
    std::multiset<std::string> paths_;
};

// Builds a batch from entries taken from the queue. Above `max_paths` entries a
// whole-tree sync is cheaper and simpler than a filter list of that size.
Batch make_batch(std::vector<QueuedPath> paths, std::size_t max_paths);

}  // namespace clsync
