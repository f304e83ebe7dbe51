#include "unsyncable_dirs.h"

#include "path_tree.h"

namespace clsync {

void UnsyncableDirs::add(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    paths_.insert(path);
}

bool UnsyncableDirs::remove(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    return paths_.erase(path) > 0;
}

void UnsyncableDirs::remove_tree(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    erase_subtree(paths_, path, true, [](const std::string&) {});
}

std::vector<std::string> UnsyncableDirs::snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {paths_.begin(), paths_.end()};
}

}  // namespace clsync
