#include "scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
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

void walk_directories(const std::string& root, const std::string& start,
                      const std::function<bool(const std::string& path, int dir_fd)>& visit,
                      const std::function<void(const std::string& path)>& unreadable, const FileVisitor& on_file) {
    std::vector<std::string> stack{start};
    while (!stack.empty()) {
        std::string path = std::move(stack.back());
        stack.pop_back();
        std::string absolute = path.empty() ? root : root + '/' + path;
        UniqueFd fd(open(absolute.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid()) {
            if (errno == EACCES) {
                log_warning("cannot read directory '%s': %s (neither watched nor synced)", absolute.c_str(),
                            strerror(errno));
                if (unreadable) unreadable(path);
            } else {
                log_debug("cannot open directory '%s': %s", absolute.c_str(), strerror(errno));
            }
            continue;
        }
        if (!visit(path, fd.get())) continue;
        for (std::string& name : list_subdirectories(fd.get(), absolute, on_file))
            stack.push_back(join_path(path, name));
    }
}

}  // namespace clsync
