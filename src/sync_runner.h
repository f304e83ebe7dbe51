// What the coordinator hands its batches to: rsync run by clsync itself
// (rsync_runner.h) or an administrator's handler program (handler_runner.h).
// run() is called on worker threads; implementations are thread safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "batcher.h"
#include "rsync_errors.h"

namespace clsync {

struct SyncResult {
    RsyncOutcome outcome = RsyncOutcome::Failed;
    int exit_code = -1;   // the child's exit status; -1 if it did not exit normally
    std::string message;  // the child's stderr (trimmed) or why it could not run
    // Complete, but files changed under the run (rsync 23/24): its paths are synced again.
    bool source_changed = false;
    // What the batch's renames added to the run (see rename_replay.h); a failed run
    // puts them back into the queue, because the renames are not replayed twice.
    std::vector<QueuedPath> rename_paths;
    unsigned renames_applied = 0;
    std::vector<RenameReplay> renames_replayed;  // of each of the batch's renames
    // A cluster's runs into a local path: what the run made or updated there (rsync's
    // log), also what the source held only for a moment (own_writes.h).
    std::vector<std::string> written;
    // A cluster's runs: the files rsync left alone because the destination's copy is
    // newer (--update), which a peer may have changed (cluster_runner.h).
    std::vector<std::string> kept_newer;
    bool nothing_to_write = false;  // needed() left nothing of the batch: run() was not called
    bool deferred = false;          // needed() said "not now": nothing was run
    // What run() was given (needed()'s part of the batch), for the log.
    std::size_t paths_run = 0;
    bool whole_tree_run = false;
};

class SyncRunner {
public:
    virtual ~SyncRunner() = default;
    // What of `batch` needs writing at all (a cluster node leaves out what its peers
    // wrote, cluster_runner.h); an empty batch is not run. Called on worker threads.
    // nullopt: not now (a peer is still writing what the batch would judge); the
    // coordinator puts the batch back and asks again a moment later.
    virtual std::optional<Batch> needed(const Batch& batch) const { return batch; }
    virtual SyncResult run(const Batch& batch) const = 0;
    // Asks a running batch to stop soon (clsync is stopping). Runners that fork stop
    // their children through the child registry; in-process ones check this flag.
    virtual void cancel() const {}
    // Whether the destination answers at all (a remote host accepts the connection),
    // for a cheap look while it is down; nullopt where that cannot be told apart from
    // a sync (a local destination, a handler). Called on worker threads.
    virtual std::optional<bool> reachable() const { return std::nullopt; }
};

// Folds into `result` a second run of some of its batch's paths (written over newer
// copies, rsync_runner.cpp and cluster_runner.cpp): what either wrote is kept, and the
// second run's outcome replaces the first's unless it completed.
void fold_rerun(SyncResult& result, SyncResult rerun);

// Whether `exit_code` is one the administrator declared a success (-x).
bool is_ignored_exit_code(const std::vector<int>& ignored, int exit_code);

// `text` without trailing blanks and newlines.
std::string trimmed(const std::string& text);

}  // namespace clsync
