#include "scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include "log.h"
#include "unique_fd.h"

namespace clsync {
namespace {

// getdents64 returns these; glibc only declares them with _GNU_SOURCE's dirent64.
struct LinuxDirent64 {
    ino64_t d_ino;
    off64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

// File systems whose directories count their subdirectories in st_nlink (2 + n), so
// that a directory with st_nlink == 2 has none and need not be read (the "leaf
// optimization" of find and fts, with their list of file systems where it holds).
bool counts_subdirectories(int dir_fd) {
    constexpr long kExt4 = 0xEF53, kXfs = 0x58465342, kTmpfs = 0x01021994;
    struct statfs fs;
    if (fstatfs(dir_fd, &fs) != 0) return false;
    return fs.f_type == kExt4 || fs.f_type == kXfs || fs.f_type == kTmpfs;
}

// Names of the subdirectories of the open directory `fd`, read with getdents64 (no
// stat per entry where the file system reports types; none at all for a leaf, when
// `leaf_check` says st_nlink can be trusted here); everything else goes to `on_file`.
std::vector<std::string> list_subdirectories(int fd, const std::string& path, const FileVisitor& on_file,
                                             const struct stat& dir_stat, bool leaf_check) {
    std::vector<std::string> subdirs;
    if (leaf_check && !on_file && dir_stat.st_nlink == 2) return subdirs;
    std::size_t expected = leaf_check && dir_stat.st_nlink > 2 ? dir_stat.st_nlink - 2 : SIZE_MAX;
    alignas(LinuxDirent64) char buffer[32 * 1024];
    for (;;) {
        long length = syscall(SYS_getdents64, fd, buffer, sizeof buffer);
        if (length < 0) {
            log_warning("reading directory '%s': %s", path.c_str(), strerror(errno));
            break;
        }
        if (length == 0) break;
        for (long at = 0; at < length;) {
            const auto* entry = reinterpret_cast<const LinuxDirent64*>(buffer + at);
            at += entry->d_reclen;
            const char* name = entry->d_name;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
            unsigned char type = entry->d_type;
            if (type == DT_UNKNOWN) {
                struct stat st;
                if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
            }
            if (type == DT_DIR)
                subdirs.emplace_back(name);
            else if (on_file)
                on_file(path, fd, name);
        }
        // Every subdirectory found: the rest of a big directory holds only files.
        if (!on_file && subdirs.size() >= expected) break;
    }
    return subdirs;
}

}  // namespace

std::string join_path(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + '/' + name; }

UniqueFd open_directory(const std::string& root, const std::string& path) {
    constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    if (root.size() + path.size() + 2 <= PATH_MAX) {
        std::string absolute = path.empty() ? root : root + '/' + path;
        return UniqueFd(open(absolute.c_str(), kFlags));
    }
    // Longer than the kernel takes in one call: one component at a time.
    UniqueFd fd(open(root.c_str(), kFlags));
    for (std::string::size_type start = 0; fd.valid() && start < path.size();) {
        auto end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        fd.reset(openat(fd.get(), path.substr(start, end - start).c_str(), kFlags));
        start = end + 1;
    }
    return fd;
}

void walk_directories(const std::string& root, const std::string& start,
                      const std::function<bool(const std::string& path, int dir_fd)>& visit,
                      const std::function<void(const std::string& path)>& unreadable, const FileVisitor& on_file) {
    // Each pending directory is opened relative to its parent's descriptor, shared by
    // its siblings and closed with the last of them: no path is ever longer than one
    // name, so depth is unlimited, and a chain of single subdirectories holds two fds.
    struct Pending {
        std::string path;
        std::shared_ptr<UniqueFd> parent;  // null: open from the root
    };
    std::vector<Pending> stack{{start, nullptr}};
    bool root_stat_seen = false;  // the first directory's file system decides the leaf check
    dev_t root_dev = 0;
    bool leaf_check_on_root_fs = false;
    while (!stack.empty()) {
        Pending item = std::move(stack.back());
        stack.pop_back();
        auto fd = std::make_shared<UniqueFd>();
        if (item.parent)
            fd->reset(openat(item.parent->get(), item.path.c_str() + item.path.rfind('/') + 1,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!item.parent || (!fd->valid() && errno == EMFILE)) *fd = open_directory(root, item.path);
        item.parent.reset();
        if (!fd->valid()) {
            if (errno == EACCES) {
                log_warning("cannot read directory '%s/%s': %s (neither watched nor synced)", root.c_str(),
                            item.path.c_str(), strerror(errno));
                if (unreadable) unreadable(item.path);
            } else {
                log_debug("cannot open directory '%s/%s': %s", root.c_str(), item.path.c_str(), strerror(errno));
            }
            continue;
        }
        if (!visit(item.path, fd->get())) continue;
        struct stat st;
        if (fstat(fd->get(), &st) != 0) continue;
        if (!root_stat_seen) {
            root_stat_seen = true;
            root_dev = st.st_dev;
            leaf_check_on_root_fs = counts_subdirectories(fd->get());
        }
        bool leaf_check = leaf_check_on_root_fs && st.st_dev == root_dev;  // not across mounts
        for (std::string& name : list_subdirectories(fd->get(), item.path, on_file, st, leaf_check))
            stack.push_back({join_path(item.path, name), fd});
    }
}

// The directory holding `path` (the root itself for ""), and the name to look up in it.
static UniqueFd open_parent(const std::string& root, const std::string& path, const char*& name) {
    if (path.empty()) {
        name = ".";
        return open_directory(root, path);
    }
    std::string::size_type slash = path.rfind('/');
    name = path.c_str() + (slash == std::string::npos ? 0 : slash + 1);
    return open_directory(root, slash == std::string::npos ? std::string() : path.substr(0, slash));
}

std::optional<std::vector<std::string>> names_in(int dir_fd) {
    int copy = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (copy < 0) return std::nullopt;
    std::unique_ptr<DIR, int (*)(DIR*)> dir(fdopendir(copy), closedir);
    if (!dir) {
        int error = errno;
        ::close(copy);
        errno = error;
        return std::nullopt;
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* entry = readdir(dir.get())) {
        const char* n = entry->d_name;
        if (!(n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))) names.emplace_back(n);
    }
    if (errno != 0) return std::nullopt;
    return names;
}

static bool is_absence(int error) { return error == ENOENT || error == ENOTDIR; }

EntryState path_state(const std::string& root, const std::string& path, const EntryState* known) {
    const char* name = nullptr;
    UniqueFd dir = open_parent(root, path, name);
    if (!dir.valid()) return {is_absence(errno) ? EntryState::Kind::Absent : EntryState::Kind::Unreadable};
    return entry_state(dir.get(), name, known);
}

bool is_absent(const std::string& root, const std::string& path) {
    const char* name = nullptr;
    UniqueFd dir = open_parent(root, path, name);
    struct stat st;
    if (!dir.valid()) return is_absence(errno);
    return fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) != 0 && is_absence(errno);
}

bool is_directory(const std::string& root, const std::string& path) {
    struct stat st;
    std::string absolute = path.empty() ? root : root + '/' + path;
    return lstat(absolute.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_multilinked_file(const struct stat& st) { return S_ISREG(st.st_mode) && st.st_nlink > 1; }

bool has_multilinked_file(const std::string& root, const std::vector<QueuedPath>& paths) {
    for (const QueuedPath& p : paths) {
        if (p.path.empty()) continue;
        struct stat st;
        std::string absolute = root + '/' + p.path;
        if (lstat(absolute.c_str(), &st) != 0) continue;
        if (is_multilinked_file(st)) return true;
        if (!p.recursive || !S_ISDIR(st.st_mode)) continue;
        bool found = false;
        walk_directories(
            root, p.path, [&found](const std::string&, int) { return !found; }, {},
            [&found](const std::string&, int dir_fd, const char* name) {
                struct stat file;
                if (!found && fstatat(dir_fd, name, &file, AT_SYMLINK_NOFOLLOW) == 0) found = is_multilinked_file(file);
            });
        if (found) return true;
    }
    return false;
}

}  // namespace clsync
