#include "source_guard.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "log.h"
#include "startup_checks.h"

namespace clsync {
namespace {

// Whether `dir` has an entry other than those named in `ignored`.
bool has_entries(const std::string& dir, const std::vector<std::string>& ignored) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
    if (!d) return false;
    while (dirent* entry = readdir(d.get())) {
        const char* n = entry->d_name;
        if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
        if (std::find(ignored.begin(), ignored.end(), n) == ignored.end()) return true;
    }
    return false;
}

}  // namespace

SourceGuard::SourceGuard(std::string watch_dir, std::vector<std::string> own_paths, std::function<void()> on_back)
    : watch_dir_(std::move(watch_dir)), on_back_(std::move(on_back)) {
    // Only top-level names can make the root look non-empty.
    for (std::string& path : own_paths)
        if (path.find('/') == std::string::npos) own_paths_.push_back(std::move(path));
    std::string why;
    if (std::optional<Identity> now = identify(why)) identity_ = *now;
}

std::optional<SourceGuard::Identity> SourceGuard::identify(std::string& why) const {
    struct stat root, parent;
    struct statfs fs;
    if (stat(watch_dir_.c_str(), &root) != 0 || statfs(watch_dir_.c_str(), &fs) != 0) {
        why = "the watch dir " + watch_dir_ + " cannot be looked at: " + std::strerror(errno);
        return std::nullopt;
    }
    if (!S_ISDIR(root.st_mode)) {
        why = "the watch dir " + watch_dir_ + " is no longer a directory";
        return std::nullopt;
    }
    Identity identity;
    identity.fs_type = static_cast<long>(fs.f_type);
    identity.mount_point = stat((watch_dir_ + "/..").c_str(), &parent) == 0 && parent.st_dev != root.st_dev;
    return identity;
}

bool SourceGuard::source_empty() const { return !has_entries(watch_dir_, own_paths_); }

std::optional<std::string> SourceGuard::problem(const std::string& destination) {
    std::string reason;
    std::optional<Identity> now = identify(reason);
    if (now && (now->mount_point != identity_.mount_point || now->fs_type != identity_.fs_type)) {
        reason = "the watch dir " + watch_dir_ + " is not the file system it was at start (" +
                 (identity_.mount_point && !now->mount_point ? "unmounted" : "another file system is there") + ")";
        now.reset();
    }
    if (!now) {
        lost_ = true;
        return reason;
    }
    if (lost_) {  // its watches went with it
        log_info("the watch dir %s looks like itself again: watching and syncing it", watch_dir_.c_str());
        lost_ = false;
        if (on_back_) on_back_();
    }
    if (!source_empty()) {
        empty_accepted_ = false;  // the next emptying is guarded again
        return std::nullopt;
    }
    if (empty_accepted_ || destination_empty(destination)) return std::nullopt;
    return "the watch dir " + watch_dir_ + " is empty and the destination is not";
}

void SourceGuard::accept_current() {
    std::string why;
    if (std::optional<Identity> now = identify(why)) identity_ = *now;
    empty_accepted_ = source_empty();
}

bool destination_empty(const std::string& path) {
    if (is_remote_destination(path)) return false;
    return !has_entries(path, {});
}

}  // namespace clsync
