// A watcher turns kernel file-system events under a tree into PathEvents.
// One class per kernel backend (inotify now; fanotify later).
#pragma once

namespace clsync {

class Watcher {
public:
    virtual ~Watcher() = default;
    // Places the watches on the whole tree (before the initial sync, so that no
    // change made during start-up is lost) and starts the watcher thread.
    // Throws std::system_error when the kernel interface cannot be set up.
    virtual void start() = 0;
    // Stops and joins the watcher thread. Idempotent.
    virtual void stop() = 0;
};

}  // namespace clsync
