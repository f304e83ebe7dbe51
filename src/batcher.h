// Turns due queue entries into a batch: one sync job for one destination. Pure.
#pragma once

#include <cstddef>
#include <vector>

#include "delay_queue.h"

namespace clsync {

struct Batch {
    std::vector<QueuedPath> paths;  // sorted; empty when full_tree
    bool full_tree = false;         // sync the whole tree (initial sync, rescan, huge batch)
    std::vector<Rename> renames;    // replayed at the destination first, in this order
    bool initial_sync = false;      // the first whole-tree run (handlers see CLSYNC_STATUS=initsync)
    unsigned iteration = 0;         // sync runs completed before this one
};

// Builds a batch from entries taken from the queue. Above `max_paths` entries a
// whole-tree sync is cheaper and simpler than a filter list of that size.
Batch make_batch(std::vector<QueuedPath> paths, std::size_t max_paths);

}  // namespace clsync
