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
    // A cluster node's: every path an event named since the last batch, also those a
    // recursive or whole-tree entry covers. The ones the source no longer has are the
    // only ones deleted at the peer (rsync_runner.cpp).
    std::vector<std::string> deletion_candidates;
    // A cluster node's: what peers announced they deleted, below the paths synced
    // recursively, not to be brought back by this run (cluster_runner.cpp).
    std::vector<std::string> peer_deleted;
};

// Builds a batch from entries taken from the queue. Above `max_paths` entries a
// whole-tree sync is cheaper and simpler than a filter list of that size.
Batch make_batch(std::vector<QueuedPath> paths, std::size_t max_paths);

}  // namespace clsync
