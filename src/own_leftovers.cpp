#include "own_leftovers.h"

#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "log.h"
#include "path_tree.h"
#include "scanner.h"
#include "tree_pruner.h"
#include "unique_fd.h"

namespace clsync {

namespace {

// Whether the source has anything at `path` (where that cannot be told, it counts as
// there: what stays is never wrong).
bool source_has(const std::string& source, const std::string& path) {
    struct stat st;
    return lstat((source + '/' + path).c_str(), &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

// `roots` sorted, without those below another.
std::vector<std::string> outermost(std::vector<std::string> roots) {
    std::sort(roots.begin(), roots.end());
    roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
    std::vector<std::string> kept;
    for (std::string& root : roots)
        if (std::none_of(kept.begin(), kept.end(),
                         [&root](const std::string& k) { return k.empty() || is_ancestor(k, root); }))
            kept.push_back(std::move(root));
    return kept;
}

}  // namespace

std::vector<std::string> remove_own_leftovers(const std::string& source, const std::string& destination,
                                              std::vector<std::string> roots, const OwnWrites& own) {
    std::vector<std::string> removed;
    std::int64_t now_us = g_get_real_time();
    TreePruner pruner(
        [&](int dir_fd, const std::string& name, const std::string& path) {
            if (source_has(source, path)) {
                struct stat st;
                bool directory = fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
                return directory ? PruneVerdict{PruneVerdict::Action::LookInside, true} : PruneVerdict{};
            }
            EntryState state = entry_state(dir_fd, name.c_str());
            const char* why = own.why_not_wrote(path, state, now_us);
            if (!why) return PruneVerdict{PruneVerdict::Action::Remove, state.directory};
            log_debug("cluster: '%s' at %s is not in this node's tree, but kept: %s", printable(path).c_str(),
                      destination.c_str(), why);
            // What this node wrote below it may still go.
            return state.directory ? PruneVerdict{PruneVerdict::Action::LookInside, true} : PruneVerdict{};
        },
        [&](const std::string& path) { removed.push_back(path); });
    for (const std::string& root : outermost(std::move(roots))) {
        // Not the root itself: the batch's own rules (rsync's R rules) decide that.
        UniqueFd dir = open_directory(destination, root);
        if (dir.valid()) pruner.clear(dir.get(), root);
    }
    for (const std::string& path : removed)
        log_debug("cluster: removed '%s' at %s: this node wrote it there and no longer has it", printable(path).c_str(),
                  destination.c_str());
    return removed;
}

}  // namespace clsync
