#include "local_events.h"

#include "batcher.h"

namespace clsync {

LocalEvents::LocalEvents(const std::vector<DeletionCandidate>& candidates) {
    for (const DeletionCandidate& c : candidates) times_.emplace(c.path, c.times);
}

std::int64_t LocalEvents::last_touching(const std::string& path) const {
    std::int64_t last = 0;
    auto it = times_.find(path);
    if (it != times_.end()) last = it->second.seen_us;
    for (std::string::size_type slash = path.rfind('/');; slash = path.rfind('/', slash - 1)) {
        // Each directory above, up to the top ("").
        std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash);
        auto above = times_.find(dir);
        if (above != times_.end()) last = std::max(last, above->second.subtree_seen_us);
        if (slash == std::string::npos || slash == 0) break;
    }
    return last;
}

}  // namespace clsync
