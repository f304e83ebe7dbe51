// Replays renames seen in the source at a local destination before rsync runs, so
// that a renamed file or directory keeps its data (and inodes) there instead of being
// deleted and copied again.
//
// Every rename is replayed in the order it happened. The rsync run then also covers,
// for each rename: the old name, recursively, when the destination and the source
// differ there after all replays (normally both have nothing there; a swap through a
// third name leaves both equal; a RENAME_EXCHANGE, which reports like two renames,
// or a name reused since, is copied); the directories holding the old and the new
// name (their mtimes changed); and, when the replay failed (the destination did not hold the old name,
// or could not take the new one), the new name recursively: delete and copy.
#pragma once

#include <string>
#include <vector>

#include "delay_queue.h"

namespace clsync {

struct ReplayedRenames {
    std::vector<QueuedPath> paths;  // for the rsync run, as described above
    unsigned applied = 0;
};

// `source` and `destination` are absolute directories; with `local` false (a remote
// destination) nothing is replayed and every rename falls back to delete + copy.
ReplayedRenames replay_renames(const std::string& source, const std::string& destination, bool local,
                               const std::vector<Rename>& renames);

}  // namespace clsync
