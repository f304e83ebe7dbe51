#include "rename_replay.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "log.h"
#include "path_tree.h"

namespace clsync {
namespace {

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

// After the replays, does the destination hold at `path` what the source holds? Only
// a difference needs the old name synced: the replays are exact unless a swap was a
// RENAME_EXCHANGE (it reports like two renames), or the source reused the name since.
bool differs(const std::string& source, const std::string& destination, const std::string& path) {
    struct stat src, dst;
    bool in_source = lstat((source + '/' + path).c_str(), &src) == 0;
    bool in_destination = lstat((destination + '/' + path).c_str(), &dst) == 0;
    if (!in_source || !in_destination) return in_source || in_destination;
    if ((src.st_mode & S_IFMT) != (dst.st_mode & S_IFMT)) return true;
    if (src.st_mtim.tv_sec != dst.st_mtim.tv_sec || src.st_mtim.tv_nsec != dst.st_mtim.tv_nsec) return true;
    return S_ISDIR(src.st_mode) ? src.st_nlink != dst.st_nlink : src.st_size != dst.st_size;
}

// A path named before `r` happened, as it is named after it.
void follow_rename(const Rename& r, std::string& path) {
    if (path == r.from || is_ancestor(r.from, path)) path = r.to + path.substr(r.from.size());
}

}  // namespace

ReplayedRenames replay_renames(const std::string& source, const std::string& destination, bool local,
                               const std::vector<Rename>& renames) {
    ReplayedRenames result;
    std::vector<std::string> old_names;
    for (const Rename& r : renames) {
        // The paths added for earlier renames are names of that time: later renames in
        // this batch may have moved them (a -> b, then a's parent renamed).
        for (QueuedPath& p : result.paths) follow_rename(r, p.path);
        for (std::string& old_name : old_names) follow_rename(r, old_name);
        old_names.push_back(r.from);
        bool applied = false;
        if (local) {
            std::string from = destination + '/' + r.from, to = destination + '/' + r.to;
            applied = std::rename(from.c_str(), to.c_str()) == 0;
            if (!applied)
                log_debug("renaming '%s' to '%s' at the destination: %s (copying instead)", printable(r.from).c_str(),
                          printable(r.to).c_str(), strerror(errno));
        }
        // Both directories changed their times. Not the new name itself: rename(2) leaves
        // its times alone, and a listed file is always transferred, which is what the
        // replay saves.
        for (const std::string& parent : {parent_of(r.from), parent_of(r.to)})
            if (!parent.empty()) result.paths.push_back({parent, false});
        if (applied)
            ++result.applied;
        else
            result.paths.push_back({r.to, true});
    }
    for (const std::string& old_name : old_names)
        if (!local || differs(source, destination, old_name)) result.paths.push_back({old_name, true});
    return result;
}

}  // namespace clsync
