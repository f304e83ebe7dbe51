#include "directory_opener.h"

#include <fcntl.h>

#include <cerrno>

namespace clsync {

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

SharedFd DirectoryOpener::open(const std::string& path) {
    for (auto it = recent_.begin(); it != recent_.end(); ++it) {
        if (it->first != path) continue;
        recent_.splice(recent_.begin(), recent_, it);
        return it->second;
    }
    constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    auto fd = std::make_shared<UniqueFd>();
    if (path.empty()) {
        fd->reset(::open(root_.c_str(), kFlags));
    } else {
        // Recursion as deep as the uncached part of the path; the ancestors opened on
        // the way are kept, so the next sibling or child costs one call.
        SharedFd parent = open(parent_of(path));
        if (!parent->valid()) return parent;
        fd->reset(openat(parent->get(), name_of(path).c_str(), kFlags));
    }
    if (!fd->valid()) return fd;
    recent_.emplace_front(path, fd);
    if (recent_.size() > kKept) recent_.pop_back();
    return fd;
}

void DirectoryOpener::forget(const std::string& path) {
    recent_.remove_if([&path](const std::pair<std::string, SharedFd>& entry) {
        const std::string& p = entry.first;
        return path.empty() || p == path ||
               (p.size() > path.size() && p.compare(0, path.size(), path) == 0 && p[path.size()] == '/');
    });
}

}  // namespace clsync
