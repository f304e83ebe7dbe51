// The process groups of running children, so that shutdown can stop them all.
// Thread safe: workers register, the main thread kills.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <set>
#include <vector>

namespace clsync {

class ChildRegistry {
public:
    // Records a child running in its own process group. Returns false when shutdown
    // has begun; the caller must then stop the child itself.
    bool add(pid_t pgid);
    void remove(pid_t pgid);
    // Refuses new children and sends `signal` to every registered process group;
    // returns the groups signalled.
    std::vector<pid_t> kill_all(int signal);
    bool empty();

private:
    std::mutex mutex_;
    std::set<pid_t> groups_;
    bool stopping_ = false;
};

}  // namespace clsync
