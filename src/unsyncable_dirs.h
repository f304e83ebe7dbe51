// Directories of the tree that rsync cannot sync: unreadable ones (EACCES when running
// without root; neither watched nor synced) and ones deeper than rsync can descend
// (kMaxSyncDepth; watched, not synced). Every rsync run excludes them, which also
// protects their copy at the destination from deletion. Without the exclusion rsync
// would fail every run that reaches them and skip all deletions of that run.
//
// Thread safe: the watcher thread adds and removes, worker threads read.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace clsync {

// rsync (3.2 to 3.5) fails with "Cannot allocate memory" on directories more than about
// 1,024 levels deep (measured); this many levels below the watch dir are synced.
constexpr int kMaxSyncDepth = 1000;

// How many levels below the watch dir `path` is ("a" is 1, "a/b" is 2).
int path_depth(const std::string& path);

class UnsyncableDirs {
public:
    void add(const std::string& path);
    bool remove(const std::string& path);  // true if it was there
    // Forgets `path` and everything below it (deleted or moved away).
    void remove_tree(const std::string& path);
    std::vector<std::string> snapshot() const;

private:
    mutable std::mutex mutex_;
    std::set<std::string> paths_;
};

}  // namespace clsync
