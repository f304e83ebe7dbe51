// Directories of the tree that rsync cannot sync because clsync cannot read them
// (EACCES when running without root): neither watched nor synced. Every rsync run
// excludes them, which also protects their copy at the destination from deletion.
// Without the exclusion rsync would fail every run that reaches them and skip all
// deletions of that run. (Directories too deep for rsync: see kMaxSyncDepth.)
//
// Thread safe: the watcher thread adds and removes, worker threads read.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace clsync {

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
