// fanotify reports a directory by its file handle; this cache maps handles to paths
// so that most events are placed (inside the watched tree or not) by one hash lookup,
// without copying the handle (events of the whole file system pass through here).
// Paths are relative to "/" ("srv/data/a"; "" is "/"), so that subtree operations of
// path_tree.h apply. Pure; owned by the fanotify watcher thread.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

namespace clsync {

class DirHandleCache {
public:
    // Bounds memory (about 10 MiB) on a busy file system: past this many entries the
    // cache starts over, and directories are looked up again as their events come.
    static constexpr std::size_t kMaxEntries = 1u << 16;

    // The path of the directory with this handle; valid until the cache changes.
    const std::string* find(std::string_view handle) const;
    void insert(std::string_view handle, const std::string& path);
    // The directory at `path` and everything below it were deleted.
    void erase_tree(const std::string& path);
    void clear();
    std::size_t size() const { return by_handle_.size(); }

private:
    struct Directory {
        std::string handle;  // the key's bytes: a hash collision is a miss, not a mix-up
        std::string path;
    };
    static std::size_t hash(std::string_view handle) { return std::hash<std::string_view>{}(handle); }
    void erase_handle(const std::string& handle);

    std::unordered_multimap<std::size_t, Directory> by_handle_;  // hash of the handle
    std::map<std::string, std::string> by_path_;                 // path -> handle, ordered for subtrees
};

}  // namespace clsync
