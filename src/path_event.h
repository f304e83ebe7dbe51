// What the watcher reports: a path (relative to the watch dir, no leading slash,
// "" = the watch dir) that changed, and how it should be synced.
#pragma once

#include <string>
#include <vector>

#include "delay_queue.h"

namespace clsync {

struct PathEvent {
    std::string path;
    bool recursive = false;  // sync everything below too (new/moved-in/deleted directory, rescan)
    SizeClass size_class = SizeClass::Normal;
    // Set for a rename inside the tree: `renamed_from` became `path` (file or directory,
    // with everything below it). Replayed as a rename at a local destination.
    std::string renamed_from;
    // Queued because a peer asked for the path again (overtaken_writes.h), not
    // because it changed here.
    bool requested = false;
    bool is_rename() const { return !renamed_from.empty(); }
};

// Receives events from the watcher thread. Implementations must be thread safe.
class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void deliver(std::vector<PathEvent> events) = 0;
};

}  // namespace clsync
