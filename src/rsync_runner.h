// Runs one rsync process for one batch (rsyncdirect mode).
//
// The batch's renames are replayed at the destination first (rename_replay.h). The
// batch's paths go to rsync on stdin as NUL-separated include rules, so one process
// syncs the whole batch, deletions included.
// run() is called on worker threads; it is thread safe.
#pragma once

#include <string>

#include "batcher.h"
#include "child_registry.h"
#include "rsync_errors.h"

namespace clsync {

class UnsyncableDirs;

struct RsyncSettings {
    std::string rsync_binary;       // absolute path
    std::string source;             // watch dir, absolute, canonical
    std::string destination;        // as given (rsync syntax)
    bool local_destination = true;  // renames can be replayed there
    bool one_file_system = false;
    bool exclude_mount_points = false;
};

struct SyncResult {
    RsyncOutcome outcome = RsyncOutcome::Failed;
    int exit_code = -1;   // rsync's exit status; -1 if it did not exit normally
    std::string message;  // rsync's stderr (trimmed) or why it could not run
    // What the batch's renames added to the run (see rename_replay.h); a failed run
    // puts them back into the queue, because the renames are not replayed twice.
    std::vector<QueuedPath> rename_paths;
    unsigned renames_applied = 0;
};

class RsyncRunner {
public:
    RsyncRunner(RsyncSettings settings, ChildRegistry& children, const UnsyncableDirs& unsyncable)
        : settings_(std::move(settings)), children_(children), unsyncable_(unsyncable) {}

    SyncResult run(const Batch& batch) const;

private:
    SyncResult run_rsync(const Batch& batch, const std::vector<QueuedPath>& rename_paths) const;

    RsyncSettings settings_;
    ChildRegistry& children_;
    const UnsyncableDirs& unsyncable_;
};

}  // namespace clsync
