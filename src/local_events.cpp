#include "local_events.h"

#include "batcher.h"
#include "expected_changes.h"  // split_parent

namespace clsync {

std::vector<std::pair<std::string, EventTimes>> paths_named(const PathEvent& event, std::int64_t now_us) {
    // A rename moves all below either name.
    bool subtree = event.recursive || event.is_rename();
    std::vector<std::pair<std::string, EventTimes>> named{{event.path, {now_us, subtree ? now_us : 0}}};
    if (event.is_rename()) named.push_back({event.renamed_from, {now_us, now_us}});
    return named;
}

LocalEvents::LocalEvents(const std::vector<DeletionCandidate>& candidates) {
    for (const DeletionCandidate& c : candidates) add(c.path, c.times);
}

void LocalEvents::add(const std::string& path, const EventTimes& times) { times_[path].merge(times); }

void LocalEvents::forget_before(std::int64_t us) {
    for (auto it = times_.begin(); it != times_.end();)
        it = std::max(it->second.seen_us, it->second.subtree_seen_us) < us ? times_.erase(it) : std::next(it);
}

std::int64_t LocalEvents::last_touching(const std::string& path) const {
    std::int64_t last = 0;
    auto it = times_.find(path);
    if (it != times_.end()) last = it->second.seen_us;
    for (std::string dir = path; !dir.empty();) {
        dir = split_parent(dir).first;
        auto above = times_.find(dir);
        if (above != times_.end()) last = std::max(last, above->second.subtree_seen_us);
    }
    return last;
}

std::int64_t LocalEvents::last_change(const std::string& path, const EntryState& state) const {
    std::int64_t last = last_touching(path);
    if (state.kind != EntryState::Kind::Present || state.ctime_ns <= 0) return last;
    return std::min(last, state.ctime_ns / 1000);
}

}  // namespace clsync
