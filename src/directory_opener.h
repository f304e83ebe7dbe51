// Opens directories below a root by relative path, keeping the most recently opened
// ones: a tree walk mostly opens a child or a sibling of what it opened last, which
// then costs one openat() instead of one per path component (and paths longer than
// PATH_MAX need no special case). Symlinks are never followed.
//
// Not thread safe: one per batch run.
#pragma once

#include <list>
#include <memory>
#include <string>

#include "unique_fd.h"

namespace clsync {

using SharedFd = std::shared_ptr<UniqueFd>;

class DirectoryOpener {
public:
    explicit DirectoryOpener(std::string root) : root_(std::move(root)) {}

    // The directory `path` ("" = the root); an invalid fd with errno set on failure.
    SharedFd open(const std::string& path);
    // `path` and everything below it were deleted or replaced: their fds are dropped.
    void forget(const std::string& path);

private:
    static constexpr std::size_t kKept = 64;
    std::string root_;
    std::list<std::pair<std::string, SharedFd>> recent_;  // most recently used first
};

// "a/b/c" -> "a/b"; "a" -> "".
std::string parent_of(const std::string& path);
// "a/b/c" -> "c".
std::string name_of(const std::string& path);

}  // namespace clsync
