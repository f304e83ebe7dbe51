// Turns due queue entries into a batch: one sync job for one destination. Pure.
#pragma once

#include <cstddef>
#include <vector>

#include "delay_queue.h"
#include "local_events.h"

namespace clsync {

// A path an event named, and when.
struct DeletionCandidate {
    std::string path;
    EventTimes times;
};

struct Batch {
    std::vector<QueuedPath> paths;  // sorted; empty when full_tree
    bool full_tree = false;         // sync the whole tree (initial sync, rescan, huge batch)
    std::vector<Rename> renames;    // replayed at the destination first, in this order
    bool initial_sync = false;      // the first whole-tree run (handlers see CLSYNC_STATUS=initsync)
    unsigned iteration = 0;         // sync runs completed before this one
    // A cluster node's: every path an event named since the last batch, also those a
    // recursive or whole-tree entry covers. The ones the source no longer has are the
    // only ones deleted at the peer (rsync_runner.cpp).
    std::vector<DeletionCandidate> deletion_candidates;
    // Not to be synced by this run, nor deleted by it at the destination: what a peer's
    // writer is building here (its temporary files; a cluster node's, cluster_runner.h).
    std::vector<std::string> excluded;
    // How many times in a row this batch's paths were put back by needed() (a cluster
    // node stops waiting after a while).
    unsigned deferrals = 0;
    // A cluster node's: written even over a newer copy at the destination (no --update):
    // the destination's copy is known not to be a peer's change (rsync_runner.cpp).
    bool overwrite_newer = false;
    // A cluster node's: updates only what the destination has, creates nothing (rsync
    // --existing): paths a peer asked for again (cluster_runner.h).
    bool existing_only = false;
};

// Builds a batch from entries taken from the queue. Above `max_paths` entries a
// whole-tree sync is cheaper and simpler than a filter list of that size.
Batch make_batch(std::vector<QueuedPath> paths, std::size_t max_paths);

}  // namespace clsync
