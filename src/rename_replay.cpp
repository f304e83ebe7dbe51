#include "rename_replay.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <unordered_set>
#include <vector>

#include "directory_opener.h"
#include "log.h"
#include "path_tree.h"
#include "unique_fd.h"

namespace clsync {
namespace {

// The names in directory `dir` (without "." and ".."), sorted; empty if unreadable.
std::vector<std::string> entry_names(const std::string& dir) {
    std::vector<std::string> names;
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
    if (!d) return names;
    while (dirent* entry = readdir(d.get())) {
        const char* n = entry->d_name;
        if (!(n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))) names.emplace_back(n);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Whether the regular files `a` and `b` hold the same bytes.
bool same_contents(const std::string& a, const std::string& b) {
    UniqueFd fa(open(a.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)),
        fb(open(b.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fa.valid() || !fb.valid()) return false;
    std::vector<char> ba(1 << 16), bb(1 << 16);
    for (;;) {
        ssize_t na = read(fa.get(), ba.data(), ba.size()), nb = read(fb.get(), bb.data(), bb.size());
        if (na != nb || na < 0) return false;
        if (na == 0) return true;
        if (std::memcmp(ba.data(), bb.data(), static_cast<std::size_t>(na)) != 0) return false;
    }
}

// Whether `a` and `b` have the same type and permissions, and the same owner where
// rsync -a keeps owners (run as root): a chmod pending under one name of an exchange
// is not to be taken for "in place".
bool same_type_and_attributes(const struct stat& a, const struct stat& b) {
    static const bool owners_kept = geteuid() == 0;
    return a.st_mode == b.st_mode && (!owners_kept || (a.st_uid == b.st_uid && a.st_gid == b.st_gid));
}

// Whether the trees at `a` and `b` have the same names, types, permissions, sizes,
// times and symlink targets (a directory's own times aside: replays change them).
// Gives up (false) below kMaxCompareDepth levels.
constexpr int kMaxCompareDepth = 128;

bool same_tree(const std::string& a, const std::string& b, int depth = 0) {
    struct stat sa, sb;
    if (lstat(a.c_str(), &sa) != 0 || lstat(b.c_str(), &sb) != 0) return false;
    if (!same_type_and_attributes(sa, sb)) return false;
    if (S_ISLNK(sa.st_mode)) {
        char ta[PATH_MAX], tb[PATH_MAX];
        ssize_t na = readlink(a.c_str(), ta, sizeof ta), nb = readlink(b.c_str(), tb, sizeof tb);
        return na >= 0 && na == nb && std::memcmp(ta, tb, static_cast<std::size_t>(na)) == 0;
    }
    if (!S_ISDIR(sa.st_mode))
        return sa.st_size == sb.st_size && sa.st_mtim.tv_sec == sb.st_mtim.tv_sec &&
               sa.st_mtim.tv_nsec == sb.st_mtim.tv_nsec;
    if (depth >= kMaxCompareDepth) return false;
    std::vector<std::string> names_a = entry_names(a), names_b = entry_names(b);
    if (names_a != names_b) return false;
    for (const std::string& name : names_a)
        if (!same_tree(a + '/' + name, b + '/' + name, depth + 1)) return false;
    return true;
}

// Whether `path` is a regular file on both sides with other bytes.
bool file_contents_differ(const std::string& source, const std::string& destination, const std::string& path) {
    struct stat src, dst;
    std::string src_path = source + '/' + path, dst_path = destination + '/' + path;
    return lstat(src_path.c_str(), &src) == 0 && lstat(dst_path.c_str(), &dst) == 0 && S_ISREG(src.st_mode) &&
           S_ISREG(dst.st_mode) && !same_contents(src_path, dst_path);
}

// After the replays, may the destination hold at `path` something other than the
// source? The replays are exact for plain renames and swaps through a third name, but
// a RENAME_EXCHANGE (reported like two renames) or a name reused since can leave
// other contents there, under equal times (directories unpacked from one archive
// share them): so a directory both sides have is compared entry by entry, a file
// byte for byte where its size and time agree. A swap of unchanged files or trees
// then copies nothing.
bool may_differ(const std::string& source, const std::string& destination, const std::string& path) {
    struct stat src, dst;
    std::string src_path = source + '/' + path, dst_path = destination + '/' + path;
    bool in_source = lstat(src_path.c_str(), &src) == 0;
    bool in_destination = lstat(dst_path.c_str(), &dst) == 0;
    if (!in_source || !in_destination) return in_source || in_destination;
    return !same_tree(src_path, dst_path) || file_contents_differ(source, destination, path);
}

}  // namespace

void follow_rename(const Rename& r, std::string& path) {
    if (path == r.from || is_ancestor(r.from, path)) path = r.to + path.substr(r.from.size());
}

namespace {

// Whether the destination's `name` holds what the source's holds now, by the type,
// size and time of a file or symlink; a directory counts as the same (its tree is not
// walked: what replaces a name is a file).
bool same_tree_if_file(const std::string& source, const std::string& destination, const std::string& name) {
    struct stat st;
    std::string source_path = source + '/' + name;
    if (lstat(source_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
    return same_tree(source_path, destination + '/' + name);
}

// Whether the destination's `name` holds what the source's holds now (names, types,
// sizes and times): an earlier run copied the source after the rename had moved
// something else there (a swap, or a name reused), and replaying the rename would
// move that away, a newer file perhaps, which a cluster's --update then keeps.
bool already_in_place(const std::string& source, const std::string& destination, const std::string& name) {
    return same_tree(source + '/' + name, destination + '/' + name);
}

// Whether renames[i] and renames[i + 1] are one RENAME_EXCHANGE (the watcher reports
// it as two renames: a -> b, b -> a), as far as the source tells: both names are
// there (after a -> b and back, b would be gone).
bool is_exchange(const std::vector<Rename>& renames, std::size_t i, const std::string& source) {
    if (i + 1 >= renames.size()) return false;
    const Rename &r = renames[i], &back = renames[i + 1];
    struct stat st;
    return back.from == r.to && back.to == r.from && lstat((source + '/' + r.from).c_str(), &st) == 0 &&
           lstat((source + '/' + r.to).c_str(), &st) == 0;
}

// Renames `from` to `to` (renameat2 `flags`) at a local destination without following
// a symlink on the way: the destination's copy of a directory may still be a symlink
// the source has replaced since, and rename(2) would follow it, out of its place or
// out of the tree (torture.py under TSan: a file renamed into the destination's top).
bool rename_beneath(DirectoryOpener& dirs, const std::string& from, const std::string& to, unsigned flags) {
    SharedFd from_dir = dirs.open(parent_of(from));
    if (!from_dir->valid()) return false;
    SharedFd to_dir = dirs.open(parent_of(to));
    if (!to_dir->valid()) return false;
    bool done = renameat2(from_dir->get(), name_of(from).c_str(), to_dir->get(), name_of(to).c_str(), flags) == 0;
    int error = errno;
    dirs.forget(from);  // what was opened under either name is elsewhere now
    dirs.forget(to);
    errno = error;
    return done;
}

// Replays the exchange of renames[i] and renames[i + 1] at a local destination;
// whether it was made.
bool exchange_locally(DirectoryOpener& dirs, const Rename& r) {
    if (rename_beneath(dirs, r.from, r.to, RENAME_EXCHANGE)) return true;
    log_debug("exchanging '%s' and '%s' at the destination: %s", printable(r.from).c_str(), printable(r.to).c_str(),
              strerror(errno));
    return false;
}

// A path named before the exchange of `r.from` and `r.to`, as it is named after it.
void follow_exchange(const Rename& r, std::string& path) {
    if (path == r.from || is_ancestor(r.from, path))
        path = r.to + path.substr(r.from.size());
    else if (path == r.to || is_ancestor(r.to, path))
        path = r.from + path.substr(r.to.size());
}

}  // namespace

ReplayedRenames replay_renames(const std::string& source, const std::string& destination, bool local,
                               const std::vector<Rename>& renames, const std::vector<bool>& applied_remotely) {
    ReplayedRenames result;
    result.each.assign(renames.size(), RenameReplay::NotReplayed);
    DirectoryOpener dirs(destination);  // local renames only
    // Synced recursively at the end where they may differ: the old names, and the new
    // names whose replay failed (delete and copy).
    std::vector<std::string> to_check;
    for (std::size_t i = 0; i < renames.size(); ++i) {
        const Rename& r = renames[i];
        // Replayed as two renames, an exchange of two directories fails (the new name is
        // not empty), and of two files loses one of them: both are then copied whole.
        bool exchange = local && is_exchange(renames, i, source);
        // One name already as the source has it: a run carried the exchange already.
        bool carried =
            exchange && (already_in_place(source, destination, r.from) || already_in_place(source, destination, r.to));
        if (carried)
            log_debug("not exchanging '%s' and '%s' at the destination: it holds what the source has there",
                      printable(r.from).c_str(), printable(r.to).c_str());
        if (carried || (exchange && exchange_locally(dirs, r))) {
            for (QueuedPath& p : result.paths) follow_exchange(r, p.path);
            for (std::string& name : to_check) follow_exchange(r, name);
            for (std::string& name : result.replaced) follow_exchange(r, name);
            to_check.insert(to_check.end(), {r.from, r.to});
            for (const std::string& parent : {parent_of(r.from), parent_of(r.to)})
                if (!parent.empty()) result.paths.push_back({parent, false});
            if (!carried) {
                result.applied += 2;
                result.each[i] = result.each[i + 1] = RenameReplay::Exchanged;
            }
            // Each name holds what was exchanged into it, older perhaps than what the
            // destination has there (a run that carried one name, or both halves, while
            // the other kept a newer copy).
            result.replaced.insert(result.replaced.end(), {r.from, r.to});
            ++i;
            continue;
        }
        // The paths added for earlier renames are names of that time: later renames in
        // this batch may have moved them (a -> b, then a's parent renamed).
        for (QueuedPath& p : result.paths) follow_rename(r, p.path);
        for (std::string& name : to_check) follow_rename(r, name);
        for (std::string& name : result.replaced) follow_rename(r, name);
        to_check.push_back(r.from);
        bool applied = !local && i < applied_remotely.size() && applied_remotely[i];
        if (local && already_in_place(source, destination, r.from)) {
            log_debug("not renaming '%s' to '%s' at the destination: it holds what the source has there now",
                      printable(r.from).c_str(), printable(r.to).c_str());
        } else if (local) {
            applied = rename_beneath(dirs, r.from, r.to, 0);
            if (!applied)
                log_debug("renaming '%s' to '%s' at the destination: %s (copying instead)", printable(r.from).c_str(),
                          printable(r.to).c_str(), strerror(errno));
        }
        // Both directories changed their times. Not the new name itself: rename(2) leaves
        // its times alone, and a listed file is always transferred, which is what the
        // replay saves.
        for (const std::string& parent : {parent_of(r.from), parent_of(r.to)})
            if (!parent.empty()) result.paths.push_back({parent, false});
        if (applied) {
            ++result.applied;
            result.each[i] = RenameReplay::Renamed;
        }
        // b -> a right after a -> b, not replayed as one exchange (the source has only
        // one of the names now): two renames, or an exchange, which leaves in `a` what
        // `b` held, older perhaps than what the destination keeps there.
        bool back = i > 0 && renames[i - 1].from == r.to && renames[i - 1].to == r.from;
        if (!applied || back) {
            to_check.push_back(r.to);
            result.replaced.push_back(r.to);
        } else if (local && !same_tree_if_file(source, destination, r.to)) {
            // The destination's old name held something else than the source renamed
            // (a later state an earlier run carried, or an older one a failed replay
            // left), newer perhaps: moved here, it is replaced too (cluster.py two-node
            // seed 50: a swap's new name kept a newer copy of the state before it).
            result.replaced.push_back(r.to);
        }
    }
    // A later rename may have moved one away, or made a directory of it.
    std::sort(result.replaced.begin(), result.replaced.end());
    result.replaced.erase(std::unique(result.replaced.begin(), result.replaced.end()), result.replaced.end());
    // Nor one the destination holds as the source does already.
    result.replaced.erase(std::remove_if(result.replaced.begin(), result.replaced.end(),
                                         [&](const std::string& name) {
                                             struct stat st;
                                             return lstat((source + '/' + name).c_str(), &st) != 0 ||
                                                    S_ISDIR(st.st_mode) ||
                                                    (local && !may_differ(source, destination, name));
                                         }),
                          result.replaced.end());
    std::sort(to_check.begin(), to_check.end());
    to_check.erase(std::unique(to_check.begin(), to_check.end()), to_check.end());
    std::unordered_set<std::string> checked(to_check.begin(), to_check.end());
    auto below_checked = [&checked](const std::string& name) {
        for (std::string dir = parent_of(name); !dir.empty(); dir = parent_of(dir))
            if (checked.count(dir)) return true;
        return false;
    };
    for (const std::string& name : to_check) {
        // Below a checked directory, the comparison of that directory's tree covered
        // names, sizes and times (hundreds of renames in nested directories would
        // otherwise walk the same subtrees again and again): only a file's bytes are left.
        bool differs = !local || (below_checked(name) ? file_contents_differ(source, destination, name)
                                                      : may_differ(source, destination, name));
        if (differs) result.paths.push_back({name, true});
    }
    return result;
}

}  // namespace clsync
