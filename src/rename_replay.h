// Replays renames seen in the source at the destination before rsync runs, so
// that a renamed file or directory keeps its data (and inodes) there instead of being
// deleted and copied again.
//
// Every rename is replayed in the order it happened; at a local destination, the two
// renames a RENAME_EXCHANGE is reported as (a -> b, b -> a) as one exchange. The rsync
// run then also covers,
// for each rename: the directories holding the old and the new name (their mtimes
// changed); and, recursively, the old name, and the new name where the replay failed
// (the destination did not hold the old name, or could not take the new one), each
// where the destination may hold something else than the source after all replays
// (see may_differ: not where neither side has anything, as after a plain rename; a
// tree both have is compared entry by entry, a file byte for byte).
#pragma once

#include <string>
#include <vector>

#include "delay_queue.h"

namespace clsync {

struct ReplayedRenames {
    std::vector<QueuedPath> paths;  // for the rsync run, as described above
    unsigned applied = 0;
    std::vector<RenameReplay> each;  // of each rename given, in order
    // The new names of renames not replayed, or of the second half of what may have
    // been an exchange, or (at a local destination) of a replay that moved there a file
    // other than the source's, that are files (not directories) in the source now:
    // each replaced whatever the destination holds under that name, newer or not (a
    // cluster's rsync --update would keep a newer copy there: rsync_runner.cpp).
    std::vector<std::string> replaced;
};

// `source` and `destination` are absolute directories. With `local` false (a remote
// destination) nothing is renamed here: `applied_remotely` says which renames a remote
// shell applied there (remote_rename.h; empty: none), the others fall back to delete
// + copy, and every old name is synced (the destination cannot be looked at).
ReplayedRenames replay_renames(const std::string& source, const std::string& destination, bool local,
                               const std::vector<Rename>& renames, const std::vector<bool>& applied_remotely = {});

// A path named before `r` happened, as it is named after it.
void follow_rename(const Rename& r, std::string& path);

}  // namespace clsync
