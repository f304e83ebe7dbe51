#include "unreadable_dirs.h"

#include "path_tree.h"

namespace clsync {
namespace {

std::vector<std::string> extract_tree(std::set<std::string>& paths, const std::string& path) {
    std::vector<std::string> taken;
    erase_subtree(paths, path, true, [&taken](const std::string& p) { taken.push_back(p); });
    return taken;
}

}  // namespace

void UnreadableDirs::add(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    paths_.insert(path);
}

bool UnreadableDirs::remove(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    return paths_.erase(path) > 0;
}

void UnreadableDirs::remove_tree(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    extract_tree(paths_, path);
}

void UnreadableDirs::rename_tree(const std::string& from, const std::string& to) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& old : extract_tree(paths_, from)) paths_.insert(to + old.substr(from.size()));
}

std::vector<std::string> UnreadableDirs::snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {paths_.begin(), paths_.end()};
}

}  // namespace clsync
