// Directories of the tree that clsync cannot read (EACCES when running without root).
// They are neither watched nor synced: every rsync run excludes them, which also
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

class UnreadableDirs {
public:
    void add(const std::string& path);
    bool remove(const std::string& path);  // true if it was there
    // Forgets `path` and everything below it (deleted or moved away).
    void remove_tree(const std::string& path);
    // Moves `from` and everything below it to `to` (renamed inside the tree).
    void rename_tree(const std::string& from, const std::string& to);
    std::vector<std::string> snapshot() const;

private:
    mutable std::mutex mutex_;
    std::set<std::string> paths_;
};

}  // namespace clsync
