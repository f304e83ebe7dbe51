#include "dir_handle_cache.h"

#include "path_tree.h"

namespace clsync {

const std::string* DirHandleCache::find(std::string_view handle) const {
    auto [first, last] = by_handle_.equal_range(hash(handle));
    for (auto it = first; it != last; ++it)
        if (it->second.handle == handle) return &it->second.path;
    return nullptr;
}

void DirHandleCache::erase_handle(const std::string& handle) {
    auto [first, last] = by_handle_.equal_range(hash(handle));
    for (auto it = first; it != last; ++it)
        if (it->second.handle == handle) {
            by_handle_.erase(it);
            return;
        }
}

void DirHandleCache::insert(std::string_view handle, const std::string& path) {
    if (by_handle_.size() >= kMaxEntries) clear();
    if (const std::string* known = find(handle)) {
        if (*known == path) return;
        by_path_.erase(*known);  // moved unseen
        erase_handle(std::string(handle));
    }
    // Another directory had this path before (deleted or moved unseen): forget it.
    auto [slot, fresh] = by_path_.try_emplace(path, handle);
    if (!fresh) {
        erase_handle(slot->second);
        slot->second = std::string(handle);
    }
    by_handle_.emplace(hash(handle), Directory{std::string(handle), path});
}

void DirHandleCache::erase_tree(const std::string& path) {
    erase_subtree(by_path_, path, true, [this](const auto& entry) { erase_handle(entry.second); });
}

void DirHandleCache::clear() {
    by_handle_.clear();
    by_path_.clear();
}

}  // namespace clsync
