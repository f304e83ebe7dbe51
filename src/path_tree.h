// Relative paths ("a/b", "" = the watch dir) as a tree, and subtrees of containers
// ordered by path (std::map / std::set keyed by std::string). Pure.
#pragma once

#include <string>
#include <utility>

namespace clsync {

// True when `ancestor` is a proper ancestor directory of `path` ("" is everyone's).
inline bool is_ancestor(const std::string& ancestor, const std::string& path) {
    if (ancestor.empty()) return !path.empty();
    return path.size() > ancestor.size() && path[ancestor.size()] == '/' &&
           path.compare(0, ancestor.size(), ancestor) == 0;
}

inline const std::string& path_key(const std::string& key) { return key; }
template <typename Value>
const std::string& path_key(const std::pair<const std::string, Value>& entry) {
    return entry.first;
}

// Erases every element at or below `root` (below only, unless `include_root`),
// calling visit(element) on each first. Siblings that merely share the prefix
// ("ab" for "a") are kept.
template <typename Ordered, typename Visit>
void erase_subtree(Ordered& container, const std::string& root, bool include_root, Visit visit) {
    // Everything below "a" sorts in ["a", "a0"): '0' follows '/'.
    auto it = root.empty() ? container.begin() : container.lower_bound(root);
    auto last = root.empty() ? container.end() : container.lower_bound(root + char('/' + 1));
    while (it != last) {
        const std::string& key = path_key(*it);
        bool erase = key == root ? include_root : is_ancestor(root, key);
        if (!erase) {
            ++it;
            continue;
        }
        visit(*it);
        it = container.erase(it);
    }
}

}  // namespace clsync
