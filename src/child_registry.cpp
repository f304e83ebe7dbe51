#include "child_registry.h"

#include <csignal>

namespace clsync {

bool ChildRegistry::add(pid_t pgid) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return false;
    groups_.insert(pgid);
    return true;
}

void ChildRegistry::remove(pid_t pgid) {
    std::lock_guard<std::mutex> lock(mutex_);
    groups_.erase(pgid);
}

bool ChildRegistry::empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    return groups_.empty();
}

std::vector<pid_t> ChildRegistry::kill_all(int signal) {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (pid_t pgid : groups_) ::kill(-pgid, signal);
    return {groups_.begin(), groups_.end()};
}

}  // namespace clsync
