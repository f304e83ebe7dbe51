#include "dir_handle_cache.h"

#include <vector>

#include "path_tree.h"

namespace clsync {

const std::string* DirHandleCache::find(const std::string& handle) const {
    auto it = paths_.find(handle);
    return it == paths_.end() ? nullptr : &it->second;
}

void DirHandleCache::insert(const std::string& handle, const std::string& path) {
    if (paths_.size() >= kMaxEntries) clear();
    auto [it, inserted] = paths_.try_emplace(handle, path);
    if (!inserted) {
        if (it->second == path) return;
        auto old = handles_.find(it->second);
        if (old != handles_.end() && old->second == handle) handles_.erase(old);
        it->second = path;
    }
    // Another directory had this path before (deleted or moved unseen): forget it.
    auto [slot, fresh] = handles_.try_emplace(path, handle);
    if (!fresh && slot->second != handle) {
        paths_.erase(slot->second);
        slot->second = handle;
    }
}

void DirHandleCache::erase_tree(const std::string& path) {
    erase_subtree(handles_, path, true, [this](const auto& entry) { paths_.erase(entry.second); });
}

void DirHandleCache::rename_tree(const std::string& from, const std::string& to) {
    std::vector<std::pair<std::string, std::string>> moved;
    erase_subtree(handles_, from, true, [&](const auto& entry) {
        moved.emplace_back(entry.second, to + entry.first.substr(from.size()));
        paths_.erase(entry.second);
    });
    erase_tree(to);  // what the rename replaced
    for (auto& [handle, path] : moved) insert(handle, path);
}

void DirHandleCache::clear() {
    paths_.clear();
    handles_.clear();
}

}  // namespace clsync
