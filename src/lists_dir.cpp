#include "lists_dir.h"

#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#include "log.h"
#include "unique_fd.h"

namespace clsync {

ListsDir::ListsDir(const std::string& dir, bool keep_files) : dir_(dir), keep_files_(keep_files) {
    if (dir_.empty()) {
        GError* error = nullptr;
        gchar* made = g_dir_make_tmp("clsync-lists-XXXXXX", &error);  // mode 0700
        if (!made) {
            std::string message = std::string("cannot create a lists dir: ") + error->message;
            g_error_free(error);
            throw ListsDirError(message);
        }
        dir_ = made;
        g_free(made);
        temporary_ = true;
        return;
    }
    if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
        throw ListsDirError("lists dir '" + dir_ + "': cannot create it: " + strerror(errno));
    struct stat st;
    if (lstat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw ListsDirError("lists dir '" + dir_ + "' is not a directory");
    // Handlers run in the watch dir: they need the absolute path.
    char resolved[PATH_MAX];
    if (realpath(dir_.c_str(), resolved)) dir_ = resolved;
    if (st.st_uid != geteuid())
        throw ListsDirError("lists dir '" + dir_ + "' belongs to uid " + std::to_string(st.st_uid) +
                            ", not to clsync's user: others could change the lists");
    if (st.st_mode & 077)
        throw ListsDirError("lists dir '" + dir_ + "' is accessible by group or others (mode " +
                            std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                            std::to_string(st.st_mode & 7) + "): chmod 700 it or choose another with -L");
}

ListsDir::~ListsDir() {
    if (!temporary_ || keep_files_) return;
    // Only files this instance wrote are in it: unlink them, then the directory.
    if (GDir* dir = g_dir_open(dir_.c_str(), 0, nullptr)) {
        while (const char* name = g_dir_read_name(dir)) unlink((dir_ + '/' + name).c_str());
        g_dir_close(dir);
    }
    rmdir(dir_.c_str());
}

ListFile::~ListFile() { dir_.discard(path_); }

ListFile ListsDir::write(const std::string& label, const char* kind, const std::string& content) {
    std::string path =
        dir_ + '/' + label + '.' + std::to_string(getpid()) + '.' + std::to_string(++counter_) + '.' + kind + ".list";
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) throw std::system_error(errno, std::generic_category(), "creating list file " + path);
    if (!write_all(fd.get(), content)) {
        int error = errno;
        unlink(path.c_str());
        throw std::system_error(error, std::generic_category(), "writing list file " + path);
    }
    return ListFile(*this, path);
}

void ListsDir::discard(const std::string& path) const {
    if (!keep_files_ && unlink(path.c_str()) != 0 && errno != ENOENT)
        log_warning("cannot remove list file %s: %s", path.c_str(), strerror(errno));
}

}  // namespace clsync
