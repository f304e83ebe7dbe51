#include "local_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <system_error>
#include <unordered_set>
#include <vector>

#include "delta_engine.h"
#include "directory_opener.h"
#include "file_list.h"
#include "log.h"
#include "rename_replay.h"
#include "rules.h"
#include "scanner.h"
#include "state_store.h"
#include "unsyncable_dirs.h"

namespace clsync {
namespace {

// Renames wait in groups of this many, so that one syncfs covers many files and the
// open temp files stay well below the descriptor limit.
constexpr std::size_t kStagedGroup = 256;

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

std::int64_t mtime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

bool same_mtime(const struct stat& a, const struct stat& b) {
    return a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

std::optional<struct stat> lstat_at(int dir_fd, const std::string& name) {
    struct stat st;
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("stat");
}

// Names in the open directory `dir_fd`, without "." and "..".
std::vector<std::string> list_names(int dir_fd) {
    std::optional<std::vector<std::string>> names = names_in(dir_fd);
    if (!names) throw_errno("read directory");
    return std::move(*names);
}

// The metadata rsync -a gives a directory, symlink or special file: owner (root),
// mode (not for symlinks) and times, at `name` in `dir_fd`, where it differs.
void apply_metadata_at(int dir_fd, const std::string& name, const struct stat& want, const struct stat& have,
                       bool as_root) {
    bool link = S_ISLNK(want.st_mode);
    bool chown_needed = as_root && (want.st_uid != have.st_uid || want.st_gid != have.st_gid);
    if (chown_needed && fchownat(dir_fd, name.c_str(), want.st_uid, want.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        throw_errno("chown");
    // After a chown too: it clears set-user-ID and set-group-ID bits.
    if (!link && ((want.st_mode & 07777) != (have.st_mode & 07777) || chown_needed) &&
        fchmodat(dir_fd, name.c_str(), want.st_mode & 07777, 0) != 0)
        throw_errno("chmod");
    if (!same_mtime(want, have)) {
        struct timespec times[2] = {want.st_atim, want.st_mtim};
        if (utimensat(dir_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0 && !link) throw_errno("set times");
    }
}

// A file written into a temp file, waiting for its rename.
struct StagedFile {
    TempFile temp;
    SharedFd dir;
    std::string name;
    std::string path;                         // relative to the destination
    std::optional<BlockSignature> signature;  // big files: recorded once renamed
    bool replaces_big_file = false;           // whose signature is then forgotten
};

// A name to be made a hard link of another (once the staged files are in place).
struct PendingLink {
    SharedFd target_dir;
    std::string target_name;
    SharedFd dir;
    std::string name;
    std::string path;
};

// One batch's work at the destination: what it staged, linked and touched.
class BatchRun {
public:
    BatchRun(const LocalSettings& settings, std::shared_ptr<const RuleSet> rules, std::vector<std::string> unsyncable,
             std::set<std::string> forced, const std::vector<std::string>& left_out, const std::atomic<bool>& stop)
        : s_(settings),
          stop_(stop),
          rules_(std::move(rules)),
          unsyncable_(std::move(unsyncable)),
          left_out_(left_out.begin(), left_out.end()),
          forced_(std::move(forced)),
          as_root_(geteuid() == 0),
          dest_dirs_(settings.destination) {}

    void sync_listed(const QueuedPath& entry);
    void finish();

    std::vector<std::string> errors;
    bool source_changed = false;
    std::set<std::string> written_forced;  // interrupted updates this run wrote again
    // A regular file with more than one name was met: its other names may be anywhere.
    bool found_multilinked_file = false;

private:
    void sync_tree(const std::string& path);
    void remove_missing_ancestor(const std::string& path);
    void sync_entry(int src_dir, const SharedFd& dst_dir, const std::string& path, const struct stat& st, bool listed);
    void sync_file(int src_dir, const SharedFd& dst_dir, const std::string& path, const struct stat& st,
                   const std::optional<struct stat>& have, bool listed);
    void sync_other(int src_dir, int dst_dir, const std::string& path, const struct stat& st,
                    const std::optional<struct stat>& have);
    void delete_extras(int src_dir, int dst_dir, const std::string& path);
    void remove_at(int dst_dir, const std::string& path);
    SharedFd dest_dir(const std::string& path);
    void replace_with(int dst_dir, const std::string& name, const std::string& path,
                      const std::function<void(const std::string& temp)>& create);
    void commit_staged();
    void make_links();
    void apply_directory_metadata();
    bool excluded(const std::string& path, bool is_dir) const;
    bool unsyncable(const std::string& path) const;
    void touch_ancestors(const std::string& path);
    void record_error(const std::string& path, const std::exception& e);

    const LocalSettings& s_;
    const std::atomic<bool>& stop_;
    std::shared_ptr<const RuleSet> rules_;
    std::vector<std::string> unsyncable_;
    std::unordered_set<std::string> left_out_;  // Batch::excluded
    std::set<std::string> forced_;
    bool as_root_;
    std::vector<StagedFile> staged_;
    std::vector<PendingLink> links_;
    std::map<std::pair<dev_t, ino_t>, std::pair<SharedFd, std::string>> link_targets_;  // first name of each inode
    // Destination dirs whose metadata is set at the end, with their source's stat
    // where a walk took it (deep trees: no second lookup by a long path).
    std::map<std::string, std::optional<struct stat>> touched_dirs_;
    // Only clsync writes the destination, so its directories may be kept open for the
    // run. The source's are looked up by path each time: a directory kept open would
    // stay the same directory after a rename, and the run would take what is at its
    // new name for what is at the old one (and delete at the destination what the
    // source still has, with the rename's replay then carrying the gap along).
    DirectoryOpener dest_dirs_;
};

bool BatchRun::excluded(const std::string& path, bool is_dir) const {
    if (left_out_.count(path)) return true;
    if (!rules_ || path.empty()) return false;
    return is_dir ? !rules_->dir_included(path) : !rules_->file_included(path);
}

bool BatchRun::unsyncable(const std::string& path) const {
    for (const std::string& dir : unsyncable_)
        if (path == dir ||
            (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/'))
            return true;
    return false;
}

void BatchRun::touch_ancestors(const std::string& path) {
    for (std::string dir = path; !dir.empty();) {
        dir = parent_of(dir);
        if (!touched_dirs_.emplace(dir, std::nullopt).second) break;
    }
}

void BatchRun::record_error(const std::string& path, const std::exception& e) {
    errors.push_back("'" + path + "': " + e.what());
}

// The destination directory `path`, created (with its parents) where missing and
// replacing whatever non-directory holds its name.
SharedFd BatchRun::dest_dir(const std::string& path) {
    SharedFd fd = dest_dirs_.open(path);
    if (fd->valid()) return fd;
    if (path.empty()) throw_errno("open destination " + s_.destination);
    SharedFd parent = dest_dir(parent_of(path));
    std::string name = name_of(path);
    if (mkdirat(parent->get(), name.c_str(), 0700) != 0) {
        if (errno != EEXIST) throw_errno("create directory");
        remove_at(parent->get(), path);  // a file or symlink where the source has a directory
        if (mkdirat(parent->get(), name.c_str(), 0700) != 0) throw_errno("create directory");
    }
    touched_dirs_.emplace(path, std::nullopt);
    fd = dest_dirs_.open(path);
    if (!fd->valid()) throw_errno("open directory");
    return fd;
}

void BatchRun::sync_listed(const QueuedPath& entry) {
    const std::string& path = entry.path;
    try {
        touched_dirs_.emplace("", std::nullopt);
        if (path.empty()) return entry.recursive ? sync_tree("") : void();
        UniqueFd src_parent = open_directory(s_.source, parent_of(path));
        // Only a source that is really gone deletes at the destination (not one we cannot read).
        if (!src_parent.valid() && errno != ENOENT && errno != ENOTDIR) throw_errno("open source directory");
        std::optional<struct stat> st;
        if (src_parent.valid()) st = lstat_at(src_parent.get(), name_of(path));
        touch_ancestors(path);
        if (!src_parent.valid()) return remove_missing_ancestor(path);
        if (!st) {  // gone from the source: gone from the destination
            SharedFd dst_parent = dest_dirs_.open(parent_of(path));
            if (dst_parent->valid()) remove_at(dst_parent->get(), path);
            return;
        }
        if (S_ISDIR(st->st_mode) && entry.recursive) return sync_tree(path);
        if (S_ISDIR(st->st_mode)) {  // the directory itself, not what it holds
            dest_dir(path);
            touched_dirs_.emplace(path, std::nullopt);
            return;
        }
        sync_entry(src_parent.get(), dest_dir(parent_of(path)), path, *st, true);
    } catch (const std::exception& e) {
        record_error(path, e);
    }
}

// The source lacks a directory above `path` (renamed or deleted since the event).
// As rsync does with the ancestors of what it is given, the first directory the
// source lacks goes from the destination, whole: a rename replayed later then finds
// nothing to move and copies the new name whole, instead of carrying along a
// destination directory that this run could only partly update.
void BatchRun::remove_missing_ancestor(const std::string& path) {
    for (std::string::size_type end = path.find('/'); end != std::string::npos; end = path.find('/', end + 1)) {
        std::string ancestor = path.substr(0, end);
        if (open_directory(s_.source, ancestor).valid()) continue;
        if (errno != ENOENT && errno != ENOTDIR) throw_errno("open source directory");
        SharedFd dst_parent = dest_dirs_.open(parent_of(ancestor));
        std::optional<struct stat> have;
        if (dst_parent->valid()) have = lstat_at(dst_parent->get(), name_of(ancestor));
        if (have && S_ISDIR(have->st_mode)) remove_at(dst_parent->get(), ancestor);
        return;
    }
}

// Walks the source directory `path` and everything below it.
void BatchRun::sync_tree(const std::string& path) {
    // Staged temp files are not in the source: in place first, or the walk's
    // deletion of what the source lacks would take them.
    commit_staged();
    SharedFd dst;  // the destination twin of the directory being walked
    dev_t root_dev = 0;
    bool first = true;
    walk_directories(
        s_.source, path,
        [&](const std::string& dir, int src_fd) {
            dst.reset();
            try {
                struct stat st;
                if (fstat(src_fd, &st) != 0) throw_errno("stat");
                if (first) root_dev = st.st_dev;
                bool mount_point = !first && st.st_dev != root_dev;
                first = false;
                if (dir != path && (excluded(dir, true) || unsyncable(dir))) return false;
                if (mount_point && s_.one_file_system && s_.exclude_mount_points) return false;
                dst = dest_dir(dir);
                touched_dirs_[dir] = st;
                if (mount_point && s_.one_file_system) return false;
                delete_extras(src_fd, dst->get(), dir);
                return true;
            } catch (const std::exception& e) {
                record_error(dir, e);
                return false;
            }
        },
        {},
        [&](const std::string& dir, int src_fd, const char* name) {
            std::string child = join_path(dir, name);
            if (!dst) return;
            try {
                std::optional<struct stat> st = lstat_at(src_fd, name);
                if (!st) return;  // vanished: its event follows
                if (excluded(child, S_ISDIR(st->st_mode))) return;
                sync_entry(src_fd, dst, child, *st, false);
            } catch (const std::exception& e) {
                record_error(child, e);
            }
        });
}

// Deletes what the destination directory has and the source directory has not.
void BatchRun::delete_extras(int src_dir, int dst_dir, const std::string& path) {
    for (const std::string& name : list_names(dst_dir)) {
        if (lstat_at(src_dir, name)) continue;
        std::string child = join_path(path, name);
        std::optional<struct stat> have = lstat_at(dst_dir, name);
        if (!have || excluded(child, S_ISDIR(have->st_mode))) continue;
        remove_at(dst_dir, child);
    }
}

void BatchRun::sync_entry(int src_dir, const SharedFd& dst_dir, const std::string& path, const struct stat& st,
                          bool listed) {
    std::string name = name_of(path);
    std::optional<struct stat> have = lstat_at(dst_dir->get(), name);
    if (S_ISREG(st.st_mode)) return sync_file(src_dir, dst_dir, path, st, have, listed);
    sync_other(src_dir, dst_dir->get(), path, st, have);
}

void BatchRun::sync_file(int src_dir, const SharedFd& dst_dir, const std::string& path, const struct stat& listed_st,
                         const std::optional<struct stat>& have, bool listed) {
    std::string name = name_of(path);
    bool forced = forced_.count(path) != 0;
    if (listed_st.st_nlink > 1) {
        found_multilinked_file = true;
        auto key = std::make_pair(listed_st.st_dev, listed_st.st_ino);
        auto first = link_targets_.find(key);
        if (first != link_targets_.end()) {
            links_.push_back({first->second.first, first->second.second, dst_dir, name, path});
            return;
        }
        link_targets_[key] = {dst_dir, name};
    }
    bool have_file = have && S_ISREG(have->st_mode);
    if (have_file && !listed && !forced && have->st_size == listed_st.st_size && same_mtime(*have, listed_st)) {
        // rsync's quick check: the content is taken as equal; the rest is set if it differs.
        if (have->st_nlink == 1 || listed_st.st_nlink > 1)
            return apply_metadata_at(dst_dir->get(), name, listed_st, *have, as_root_);
    }
    UniqueFd src(openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!src.valid()) {
        if (errno == ENOENT) return void(source_changed = true);
        throw_errno("open");
    }
    struct stat st;
    if (fstat(src.get(), &st) != 0) throw_errno("stat");
    if (!S_ISREG(st.st_mode)) return void(source_changed = true);
    bool big = static_cast<std::uint64_t>(st.st_size) >= s_.delta_threshold;
    if (forced) written_forced.insert(path);
    if (big && have_file && have->st_nlink == 1 && s_.state) {
        std::optional<FileSignature> known = s_.state->signature(s_.destination, path);
        if (known && known->blocks.size == static_cast<std::uint64_t>(have->st_size) &&
            known->mtime_ns == mtime_ns(*have) && known->inode == have->st_ino && !forced) {
            UniqueFd out(openat(dst_dir->get(), name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
            if (!out.valid()) throw_errno("open for writing");
            s_.state->begin_update(s_.destination, path);
            WriteResult written = update_in_place(src.get(), st, out.get(), known->blocks, stop_);
            apply_file_metadata(out.get(), st, as_root_);
            if (s_.fsync != FsyncPolicy::None && fdatasync(out.get()) != 0) throw_errno("fdatasync");
            struct stat now;
            if (fstat(out.get(), &now) != 0) throw_errno("stat");
            s_.state->finish_update(s_.destination, path, {mtime_ns(now), now.st_ino, std::move(*written.signature)},
                                    &known->blocks);
            log_debug("'%s': %llu of %llu bytes written in place", path.c_str(),
                      static_cast<unsigned long long>(written.bytes_written),
                      static_cast<unsigned long long>(st.st_size));
            source_changed = source_changed || written.source_changed;
            return;
        }
    }
    TempFile temp(dst_dir->get(), name);
    WriteResult written;
    if (big && have_file) {
        UniqueFd basis(openat(dst_dir->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!basis.valid()) throw_errno("open");
        written = delta_to_temp(src.get(), st, basis.get(), temp, s_.state ? s_.state->dir() : s_.destination, stop_);
    } else {
        written = copy_to_temp(src.get(), st, temp, big && s_.state, stop_);
    }
    apply_file_metadata(temp.fd(), st, as_root_);
    if (s_.fsync == FsyncPolicy::File && fdatasync(temp.fd()) != 0) throw_errno("fdatasync");
    temp.close();
    source_changed = source_changed || written.source_changed;
    if (!s_.state) written.signature.reset();
    bool replaces_big_file = have_file && static_cast<std::uint64_t>(have->st_size) >= s_.delta_threshold;
    staged_.push_back({std::move(temp), dst_dir, name, path, std::move(written.signature), replaces_big_file});
    if (staged_.size() >= kStagedGroup) commit_staged();
}

void BatchRun::sync_other(int src_dir, int dst_dir, const std::string& path, const struct stat& st,
                          const std::optional<struct stat>& have) {
    std::string name = name_of(path);
    if (S_ISDIR(st.st_mode)) return;  // directories are synced by sync_tree and sync_listed
    if (S_ISLNK(st.st_mode)) {
        std::string target(PATH_MAX, '\0');
        ssize_t n = readlinkat(src_dir, name.c_str(), target.data(), target.size());
        if (n < 0) {
            if (errno == ENOENT) return void(source_changed = true);
            throw_errno("read symlink");
        }
        target.resize(static_cast<std::size_t>(n));
        if (have && S_ISLNK(have->st_mode)) {
            std::string current(PATH_MAX, '\0');
            ssize_t m = readlinkat(dst_dir, name.c_str(), current.data(), current.size());
            if (m == n && current.compare(0, static_cast<std::size_t>(m), target) == 0)
                return apply_metadata_at(dst_dir, name, st, *have, as_root_);
        }
        replace_with(dst_dir, name, path, [&](const std::string& temp) {
            if (symlinkat(target.c_str(), dst_dir, temp.c_str()) != 0) throw_errno("create symlink");
        });
    } else {
        if (have && (have->st_mode & S_IFMT) == (st.st_mode & S_IFMT) && have->st_rdev == st.st_rdev)
            return apply_metadata_at(dst_dir, name, st, *have, as_root_);
        replace_with(dst_dir, name, path, [&](const std::string& temp) {
            if (mknodat(dst_dir, temp.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0)
                throw_errno("create special file");
        });
    }
    std::optional<struct stat> now = lstat_at(dst_dir, name);
    if (now) apply_metadata_at(dst_dir, name, st, *now, as_root_);
}

// Creates the new entry under a temp name with `create`, then renames it over `name`
// (a directory there is deleted first: rename cannot replace it with a non-directory).
void BatchRun::replace_with(int dst_dir, const std::string& name, const std::string& path,
                            const std::function<void(const std::string& temp)>& create) {
    std::string temp;
    {
        TempFile placeholder(dst_dir, name);  // reserves a unique name
        temp = placeholder.name();
    }
    create(temp);
    if (renameat(dst_dir, temp.c_str(), dst_dir, name.c_str()) == 0) return;
    int error = errno;
    if (error == EISDIR || error == ENOTEMPTY || error == EEXIST) {
        remove_at(dst_dir, path);
        if (renameat(dst_dir, temp.c_str(), dst_dir, name.c_str()) == 0) return;
        error = errno;
    }
    unlinkat(dst_dir, temp.c_str(), 0);
    errno = error;
    throw_errno("rename into place");
}

// Deletes `path` (named by its last component in `dst_dir`) and, for a directory,
// everything below it that the rules do not protect.
void BatchRun::remove_at(int dst_dir, const std::string& path) {
    std::string name = name_of(path);
    if (s_.state) s_.state->forget(s_.destination, path);
    if (unlinkat(dst_dir, name.c_str(), 0) == 0 || errno == ENOENT) return;
    if (errno != EISDIR && errno != EPERM) throw_errno("delete");
    dest_dirs_.forget(path);
    std::vector<std::string> dirs;
    walk_directories(
        s_.destination, path,
        [&](const std::string& dir, int) {
            if (dir != path && excluded(dir, true)) return false;
            dirs.push_back(dir);
            return true;
        },
        {},
        [&](const std::string& dir, int fd, const char* entry) {
            if (!excluded(join_path(dir, entry), false)) unlinkat(fd, entry, 0);
        });
    // Children before parents; a directory still holding excluded entries stays.
    std::sort(dirs.begin(), dirs.end());
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
        SharedFd parent = dest_dirs_.open(parent_of(*it));
        if (parent->valid() && unlinkat(parent->get(), name_of(*it).c_str(), AT_REMOVEDIR) != 0 && errno != ENOTEMPTY &&
            errno != ENOENT)
            throw_errno("delete directory");
    }
}

void BatchRun::commit_staged() {
    if (staged_.empty()) return;
    if (s_.fsync == FsyncPolicy::Batch && syncfs(staged_.front().dir->get()) != 0) throw_errno("syncfs");
    for (StagedFile& file : staged_) {
        try {
            try {
                file.temp.commit(file.name);
            } catch (const std::system_error& e) {
                // A directory (rename cannot replace it with a file) or something new.
                int error = e.code().value();
                if (error != EISDIR && error != ENOTEMPTY && error != EEXIST) throw;
                remove_at(file.dir->get(), file.path);
                file.temp.commit(file.name);
            }
            if (s_.state && file.signature) {
                std::optional<struct stat> now = lstat_at(file.dir->get(), file.name);
                if (now)
                    s_.state->finish_update(s_.destination, file.path, {mtime_ns(*now), now->st_ino, *file.signature});
            } else if (s_.state && file.replaces_big_file) {
                s_.state->forget(s_.destination, file.path);
            }
        } catch (const std::exception& e) {
            record_error(file.path, e);
        }
    }
    staged_.clear();
}

void BatchRun::make_links() {
    for (const PendingLink& link : links_) {
        try {
            std::optional<struct stat> target = lstat_at(link.target_dir->get(), link.target_name);
            std::optional<struct stat> have = lstat_at(link.dir->get(), link.name);
            if (!target) continue;
            if (have && have->st_dev == target->st_dev && have->st_ino == target->st_ino) continue;
            replace_with(link.dir->get(), link.name, link.path, [&](const std::string& temp) {
                if (linkat(link.target_dir->get(), link.target_name.c_str(), link.dir->get(), temp.c_str(), 0) != 0)
                    throw_errno("create hard link");
            });
            if (s_.state) s_.state->forget(s_.destination, link.path);
        } catch (const std::exception& e) {
            record_error(link.path, e);
        }
    }
    links_.clear();
}

void BatchRun::apply_directory_metadata() {
    // Children before parents: setting a child's times does not change its parent's.
    for (auto it = touched_dirs_.rbegin(); it != touched_dirs_.rend(); ++it) {
        const std::string& dir = it->first;
        try {
            SharedFd dst_parent = dest_dirs_.open(parent_of(dir));
            if (!dst_parent->valid()) continue;
            // The root is "." in itself; every other directory is its name in its parent.
            std::string name = dir.empty() ? "." : name_of(dir);
            std::optional<struct stat> want = it->second;
            if (!want) {
                UniqueFd src_parent = open_directory(s_.source, parent_of(dir));
                if (!src_parent.valid()) continue;
                want = lstat_at(src_parent.get(), name);
            }
            std::optional<struct stat> have = lstat_at(dst_parent->get(), name);
            if (!want || !have || !S_ISDIR(want->st_mode) || !S_ISDIR(have->st_mode)) continue;
            apply_metadata_at(dst_parent->get(), name, *want, *have, as_root_);
        } catch (const std::exception& e) {
            record_error(dir, e);
        }
    }
}

void BatchRun::finish() {
    // The root's mtime changes with every entry made or removed in it (a replayed
    // rename too), and rsync always sets it: so does every run here.
    touched_dirs_.emplace("", std::nullopt);
    try {
        commit_staged();
    } catch (const std::exception& e) {
        errors.push_back(std::string("syncing the destination's file system: ") + e.what());
        staged_.clear();  // the temp files are removed
    }
    make_links();
    apply_directory_metadata();
}

}  // namespace

LocalRunner::LocalRunner(LocalSettings settings, const UnsyncableDirs& unsyncable)
    : settings_(std::move(settings)), unsyncable_(unsyncable) {
    if (!settings_.state) return;
    for (std::string& path : settings_.state->unfinished_updates(settings_.destination)) {
        log_warning("'%s': an update at the destination was interrupted; it is written again", path.c_str());
        interrupted_.insert(std::move(path));
    }
}

SyncResult LocalRunner::run(const Batch& batch) const {
    ReplayedRenames replayed = replay_renames(settings_.source, settings_.destination, true, batch.renames);
    std::vector<QueuedPath> paths = batch.paths;
    paths.insert(paths.end(), replayed.paths.begin(), replayed.paths.end());
    std::vector<std::string> unsyncable = unsyncable_.snapshot();
    paths = without_unsyncable(std::move(paths), unsyncable);
    bool whole_tree = batch.full_tree;
    if (whole_tree) paths = {{"", true}};
    std::sort(paths.begin(), paths.end(), [](const QueuedPath& a, const QueuedPath& b) { return a.path < b.path; });

    std::shared_ptr<const RuleSet> rules;
    if (settings_.rules && !(batch.initial_sync && settings_.full_initialsync)) rules = settings_.rules->get();
    std::set<std::string> forced;
    {
        std::lock_guard<std::mutex> lock(interrupted_mutex_);
        forced = interrupted_;
    }
    const std::set<std::string> forced_at_start = forced;
    // As rsync --mkpath: a missing destination is created with its parents.
    if (g_mkdir_with_parents(settings_.destination.c_str(), 0700) != 0)
        log_debug("cannot create %s: %s", settings_.destination.c_str(), std::strerror(errno));
    BatchRun work(settings_, std::move(rules), std::move(unsyncable), std::move(forced), batch.excluded, cancelled_);
    for (const QueuedPath& entry : paths) {
        if (cancelled_) {
            work.errors.push_back(WriteStopped().what());
            break;
        }
        work.sync_listed(entry);
    }
    // As rsyncdirect (rsync -H links only what one run transfers): a batch with a
    // hard-linked file goes on over the whole tree, where the file's other names are.
    if (!whole_tree && work.found_multilinked_file && !cancelled_) {
        log_debug("batch has a hard-linked file: syncing the whole tree");
        work.sync_listed({"", true});
        whole_tree = true;
    }
    work.finish();

    SyncResult result;
    result.rename_paths = std::move(replayed.paths);
    result.renames_applied = replayed.applied;
    result.renames_replayed = std::move(replayed.each);
    result.exit_code = work.errors.empty() ? 0 : 1;
    if (!work.errors.empty()) {
        result.outcome = RsyncOutcome::Failed;
        for (std::size_t i = 0; i < work.errors.size() && i < 5; ++i)
            result.message += (i ? "; " : "") + work.errors[i];
        if (work.errors.size() > 5) result.message += "; and " + std::to_string(work.errors.size() - 5) + " more";
        return result;
    }
    result.outcome = RsyncOutcome::Complete;
    result.source_changed = work.source_changed;
    if (settings_.state) {
        // A whole-tree run wrote every interrupted file the source still has; the
        // others are gone (or excluded) and need nothing more.
        std::lock_guard<std::mutex> lock(interrupted_mutex_);
        const std::set<std::string>& done = whole_tree ? forced_at_start : work.written_forced;
        for (const std::string& path : done) {
            settings_.state->clear_update(settings_.destination, path);
            interrupted_.erase(path);
        }
    }
    return result;
}

}  // namespace clsync
