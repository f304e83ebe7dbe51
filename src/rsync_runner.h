// Runs one rsync process for one batch (rsyncdirect mode).
//
// The batch's renames are replayed at the destination first (rename_replay.h). The
// batch's paths go to rsync on stdin as NUL-separated include rules, so one process
// syncs the whole batch, deletions included.
// run() is called on worker threads; it is thread safe.
#pragma once

#include <optional>
#include <string>

#include "child_registry.h"
#include "clock.h"
#include "sync_runner.h"

namespace clsync {

class Rules;
class UnsyncableDirs;

struct RsyncSettings {
    std::string rsync_binary;                // absolute path
    std::string source;                      // watch dir, absolute, canonical
    std::string destination;                 // as given (rsync syntax)
    bool local_destination = true;           // renames can be replayed there
    std::optional<std::string> ssh_command;  // a [user@]host:path destination: its remote shell ("": ssh)
    bool one_file_system = false;
    bool exclude_mount_points = false;
    // The destination is a cluster peer's tree, written by the peer too: only what was
    // deleted here is deleted there, and a newer file there is not overwritten.
    bool cluster = false;
    Millis timeout{0};                    // -k; 0: none
    const Rules* rules = nullptr;         // -R: what runs leave alone
    bool full_initialsync = false;        // -F: the initial sync ignores the rules
    std::vector<int> ignored_exit_codes;  // -x
};

class RsyncRunner : public SyncRunner {
public:
    RsyncRunner(RsyncSettings settings, ChildRegistry& children, const UnsyncableDirs& unsyncable)
        : settings_(std::move(settings)), children_(children), unsyncable_(unsyncable) {}

    SyncResult run(const Batch& batch) const override;
    // ssh: the remote shell runs `true`; rsync daemon: it lists its modules.
    std::optional<bool> reachable() const override;

private:
    SyncResult run_rsync(const Batch& batch, const std::vector<QueuedPath>& rename_paths) const;

    RsyncSettings settings_;
    ChildRegistry& children_;
    const UnsyncableDirs& unsyncable_;
};

}  // namespace clsync
