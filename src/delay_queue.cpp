#include "delay_queue.h"

#include <algorithm>
#include <string_view>
#include <tuple>
#include <utility>

namespace clsync {

DelayQueue::Entries::iterator DelayQueue::covering_ancestor(const std::string& path) {
    if (path.empty()) return entries_.end();
    // Walk up: "a/b/c" -> "a/b" -> "a" -> "", without copying the prefixes.
    std::string_view whole(path);
    std::string::size_type end = path.size();
    for (;;) {
        end = end == 0 ? std::string::npos : path.rfind('/', end - 1);
        std::string_view ancestor = end == std::string::npos ? std::string_view() : whole.substr(0, end);
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
        // Events arrive in time order; an earlier `now` is a backdated add (SIGUSR2,
        // requeued failures) that must not wait for the later event's window.
        it->second.first_seen = std::min(it->second.first_seen, now);
        it->second.recursive |= recursive;
        it->second.size_class = std::max(it->second.size_class, size_class);
    }
    if (it->second.recursive) {
        // Absorbed children keep their place in time: the window stays bounded.
        if (auto earliest = absorb_descendants(path))
            it->second.first_seen = std::min(it->second.first_seen, *earliest);
    }
}

void DelayQueue::rename(const std::string& from, const std::string& to, TimePoint now) {
    // a -> b right after b -> a: two renames, or one RENAME_EXCHANGE (reported alike).
    // After an exchange, what the first rename moved to `from` belongs there still; after
    // two renames it is back under `to`. Kept under both names: either way is synced.
    bool reverses_last = !renames_.empty() && renames_.back() == Rename{to, from};
    if (renames_.empty()) first_rename_seen_ = now;
    renames_.push_back({from, to});
    std::vector<MovedEntry> moved_before = std::exchange(last_moved_, {});
    // What was pending under the old name is now under the new one. If a recursive
    // ancestor covers the old name, nothing tells what under it differs from the
    // destination: the new name is synced whole.
    bool covered = covering_ancestor(from) != entries_.end();
    erase_subtree(entries_, from, true, [&](const auto& entry) {
        last_moved_.push_back({to + entry.first.substr(from.size()), entry.second});
    });
    if (covered) last_moved_.push_back({to, Entry{now, true, SizeClass::Normal}});
    for (const MovedEntry& m : last_moved_) add_moved(m, now);
    if (reverses_last)
        for (const MovedEntry& m : moved_before) add_moved(m, now);
}

void DelayQueue::add_moved(const MovedEntry& moved, TimePoint now) {
    add(moved.path, moved.entry.recursive, moved.entry.size_class, now);
    auto it = entries_.find(moved.path);
    if (it != entries_.end()) it->second.first_seen = std::min(it->second.first_seen, moved.entry.first_seen);
}

std::vector<QueuedPath> DelayQueue::requeue(std::vector<QueuedPath> paths, TimePoint first_seen, bool only_renamed) {
    // Each path once: a rename below several of them (a batch's rename paths repeat
    // its directories) adds its new name once, not once per copy; copies that each
    // added one, renamed again and again, grew the list exponentially (outage.py, a
    // batch of 242 renames: 3 GiB and a main loop that never came back).
    std::sort(paths.begin(), paths.end(), [](const QueuedPath& a, const QueuedPath& b) {
        return std::tie(a.path, a.recursive) < std::tie(b.path, b.recursive);
    });
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    std::vector<bool> renamed(paths.size(), false);
    for (const Rename& r : renames_) {
        bool moves_part = false;  // of a recursive path: that part now lives elsewhere
        for (std::size_t i = 0; i < paths.size(); ++i) {
            QueuedPath& p = paths[i];
            if (p.path == r.from || is_ancestor(r.from, p.path)) {
                p.path = r.to + p.path.substr(r.from.size());
                renamed[i] = true;
            } else if (p.recursive && is_ancestor(p.path, r.from)) {
                moves_part = true;
            }
        }
        if (moves_part) {
            paths.push_back({r.to, true});
            renamed.push_back(true);
        }
    }
    std::vector<QueuedPath> queued;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        if (only_renamed && !renamed[i]) continue;
        add(paths[i].path, paths[i].recursive, SizeClass::Normal, first_seen);
        queued.push_back(std::move(paths[i]));
    }
    return queued;
}

std::vector<Rename> DelayQueue::take_renames() {
    last_moved_.clear();
    return std::exchange(renames_, {});
}

void DelayQueue::put_back_renames(const std::vector<Rename>& older, TimePoint first_seen) {
    if (older.empty()) return;
    first_rename_seen_ = renames_.empty() ? first_seen : std::min(first_rename_seen_, first_seen);
    renames_.insert(renames_.begin(), older.begin(), older.end());
}

std::optional<TimePoint> DelayQueue::next_due() const {
    std::optional<TimePoint> earliest;
    if (!renames_.empty()) earliest = first_rename_seen_ + delays_.normal;
    for (const auto& [path, entry] : entries_) {
        TimePoint d = due(entry);
        if (!earliest || d < *earliest) earliest = d;
    }
    return earliest;
}

std::optional<TimePoint> DelayQueue::oldest_first_seen() const {
    std::optional<TimePoint> oldest;
    if (!renames_.empty()) oldest = first_rename_seen_;
    for (const auto& [path, entry] : entries_)
        if (!oldest || entry.first_seen < *oldest) oldest = entry.first_seen;
    return oldest;
}

std::vector<QueuedPath> DelayQueue::take_due(TimePoint now) {
    // Renames wait in the window of ordinary files.
    bool window_closed[2] = {!renames_.empty() && first_rename_seen_ + delays_.normal <= now, false};
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
