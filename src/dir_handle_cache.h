// fanotify reports a directory by its file handle; this cache maps handles to paths
// so that most events are placed (inside the watched tree or not) by one hash lookup.
// Paths are relative to "/" ("srv/data/a"; "" is "/"), so that subtree operations of
// path_tree.h apply. Pure; owned by the fanotify watcher thread.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>

namespace clsync {

class DirHandleCache {
public:
    // Bounds memory on a busy file system: past this many entries the cache starts over.
    static constexpr std::size_t kMaxEntries = 1u << 20;

    const std::string* find(const std::string& handle) const;
    void insert(const std::string& handle, const std::string& path);
    // The directory at `path` and everything below it were deleted.
    void erase_tree(const std::string& path);
    // The directory at `from` and everything below it are now at `to`.
    void rename_tree(const std::string& from, const std::string& to);
    void clear();
    std::size_t size() const { return paths_.size(); }

private:
    std::unordered_map<std::string, std::string> paths_;  // handle -> path
    std::map<std::string, std::string> handles_;          // path -> handle, ordered for subtrees
};

}  // namespace clsync
