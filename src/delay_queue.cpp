#include "delay_queue.h"

#include <algorithm>

namespace clsync {

std::map<std::string, DelayQueue::Entry>::iterator DelayQueue::covering_ancestor(const std::string& path) {
    if (path.empty()) return entries_.end();
    // Walk up: "a/b/c" -> "a/b" -> "a" -> "".
    std::string::size_type end = path.size();
    for (;;) {
        end = end == 0 ? std::string::npos : path.rfind('/', end - 1);
        std::string ancestor = end == std::string::npos ? std::string() : path.substr(0, end);
        auto it = entries_.find(ancestor);
        if (it != entries_.end() && it->second.recursive) return it;
        if (end == std::string::npos) return entries_.end();
    }
}

std::optional<TimePoint> DelayQueue::absorb_descendants(const std::string& path) {
    std::optional<TimePoint> earliest;
    erase_subtree(entries_, path, false, [&earliest](const auto& entry) {
        if (!earliest || entry.second.first_seen < *earliest) earliest = entry.second.first_seen;
    });
    return earliest;
}

void DelayQueue::add(const std::string& path, bool recursive, SizeClass size_class, TimePoint now) {
    auto ancestor = covering_ancestor(path);
    if (ancestor != entries_.end()) return;  // the ancestor's sync covers this path

    auto [it, inserted] = entries_.try_emplace(path, Entry{now, recursive, size_class});
    if (!inserted) {
        it->second.recursive |= recursive;
        it->second.size_class = std::max(it->second.size_class, size_class);
    }
    if (it->second.recursive) {
        // Absorbed children keep their place in time: the window stays bounded.
        if (auto earliest = absorb_descendants(path))
            it->second.first_seen = std::min(it->second.first_seen, *earliest);
    }
}

std::optional<TimePoint> DelayQueue::next_due() const {
    std::optional<TimePoint> earliest;
    for (const auto& [path, entry] : entries_) {
        TimePoint d = due(entry);
        if (!earliest || d < *earliest) earliest = d;
    }
    return earliest;
}

std::vector<QueuedPath> DelayQueue::take_due(TimePoint now) {
    bool window_closed[2] = {false, false};
    for (const auto& [path, entry] : entries_)
        if (due(entry) <= now) window_closed[static_cast<int>(entry.size_class)] = true;

    std::vector<QueuedPath> taken;
    for (auto it = entries_.begin(); it != entries_.end();) {
        const Entry& entry = it->second;
        if (window_closed[static_cast<int>(entry.size_class)]) {
            taken.push_back({it->first, entry.recursive});
            it = entries_.erase(it);
        } else {
            ++it;
        }
    }
    return taken;
}

}  // namespace clsync
