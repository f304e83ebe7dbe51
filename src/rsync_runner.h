// Runs one rsync process for one batch (rsyncdirect mode).
//
// The batch's paths go to rsync on stdin as NUL-separated include rules, so one
// process syncs the whole batch, deletions included.
// run() is called on worker threads; it is thread safe.
#pragma once

#include <string>

#include "batcher.h"
#include "child_registry.h"
#include "rsync_errors.h"

namespace clsync {

class UnreadableDirs;

struct RsyncSettings {
    std::string rsync_binary;  // absolute path
    std::string source;        // watch dir, absolute, canonical
    std::string destination;   // as given (rsync syntax)
};

struct SyncResult {
    RsyncOutcome outcome = RsyncOutcome::Failed;
    int exit_code = -1;   // rsync's exit status; -1 if it did not exit normally
    std::string message;  // rsync's stderr (trimmed) or why it could not run
};

class RsyncRunner {
public:
    RsyncRunner(RsyncSettings settings, ChildRegistry& children, const UnreadableDirs& unreadable)
        : settings_(std::move(settings)), children_(children), unreadable_(unreadable) {}

    SyncResult run(const Batch& batch) const;

private:
    RsyncSettings settings_;
    ChildRegistry& children_;
    const UnreadableDirs& unreadable_;
};

}  // namespace clsync
