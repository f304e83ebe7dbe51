#include "local_events.h"

#include "batcher.h"
#include "expected_changes.h"  // split_parent

namespace clsync {

LocalEvents::LocalEvents(const std::vector<DeletionCandidate>& candidates) {
    for (const DeletionCandidate& c : candidates) times_.emplace(c.path, c.times);
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

}  // namespace clsync
