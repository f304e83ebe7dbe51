#include "batcher.h"

namespace clsync {
namespace {
const std::string kWholeTree;  // "" stands for the watch dir itself
}

void InFlightPaths::add(const Batch& batch) {
    if (batch.full_tree) paths_.insert(kWholeTree);
    for (const QueuedPath& p : batch.paths) paths_.insert(p.path);
}

void InFlightPaths::remove(const Batch& batch) {
    auto erase_one = [this](const std::string& path) {
        auto it = paths_.find(path);
        if (it != paths_.end()) paths_.erase(it);
    };
    if (batch.full_tree) erase_one(kWholeTree);
    for (const QueuedPath& p : batch.paths) erase_one(p.path);
}

bool InFlightPaths::conflicts(const std::string& path) const {
    if (paths_.empty()) return false;
    if (path.empty() || paths_.count(kWholeTree)) return true;
    if (paths_.count(path)) return true;
    // An in-flight descendant sorts right after path + '/'.
    auto below = paths_.lower_bound(path + '/');
    if (below != paths_.end() && is_ancestor(path, *below)) return true;
    // In-flight ancestors: check each prefix ending before a '/'.
    for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
        if (paths_.count(path.substr(0, slash))) return true;
    return false;
}

Batch make_batch(std::vector<QueuedPath> paths, std::size_t max_paths) {
    Batch batch;
    for (const QueuedPath& p : paths)
        if (p.path.empty()) batch.full_tree = true;
    if (paths.size() > max_paths) batch.full_tree = true;
    if (!batch.full_tree) batch.paths = std::move(paths);
    return batch;
}

}  // namespace clsync
