#include "scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include "log.h"
#include "unique_fd.h"

namespace clsync {
namespace {

struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
};

// Names of the subdirectories of the open directory `fd` (it reads through a dup);
// regular files are passed to `on_file` on the way.
std::vector<std::string> list_subdirectories(int fd, const std::string& path, const FileVisitor& on_file) {
    std::vector<std::string> subdirs;
    int listing_fd = dup(fd);
    if (listing_fd < 0) return subdirs;
    std::unique_ptr<DIR, DirCloser> dir(fdopendir(listing_fd));
    if (!dir) {
        close(listing_fd);
        return subdirs;
    }
    errno = 0;
    while (struct dirent* entry = readdir(dir.get())) {
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
        else if (type == DT_REG && on_file)
            on_file(fd, name);
    }
    if (errno != 0) log_warning("reading directory '%s': %s", path.c_str(), strerror(errno));
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
        for (std::string& name : list_subdirectories(fd->get(), item.path, on_file))
            stack.push_back({join_path(item.path, name), fd});
    }
}

}  // namespace clsync
