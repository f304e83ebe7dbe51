#include "tree_pruner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "log.h"
#include "scanner.h"
#include "unique_fd.h"

namespace clsync {

bool TreePruner::clear(int dir_fd, const std::string& dir, int depth) {
    std::optional<std::vector<std::string>> names = names_in(dir_fd);
    if (!names) return false;
    bool all_gone = true;
    for (const std::string& name : *names) all_gone = prune(dir_fd, join_path(dir, name), name, depth) && all_gone;
    return all_gone;
}

// Whether the entry is gone now.
bool TreePruner::prune(int dir_fd, const std::string& path, const std::string& name, int depth) {
    PruneVerdict verdict = judge_(dir_fd, name, path);
    if (verdict.action == PruneVerdict::Action::Keep) return false;
    if (!verdict.directory && verdict.action == PruneVerdict::Action::LookInside) return false;
    if (verdict.directory) {
        if (depth >= kMaxPruneDepth) return false;
        UniqueFd sub(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        bool emptied = sub.valid() && clear(sub.get(), path, depth + 1);
        if (verdict.action == PruneVerdict::Action::LookInside || !emptied) return false;
    }
    if (unlinkat(dir_fd, name.c_str(), verdict.directory ? AT_REMOVEDIR : 0) != 0) {
        log_debug("cannot remove '%s': %s", printable(path).c_str(), strerror(errno));
        return false;
    }
    ++count_;
    removed_(path);
    return true;
}

}  // namespace clsync
