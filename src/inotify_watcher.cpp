#include "inotify_watcher.h"

#include <sys/inotify.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "file_list.h"
#include "log.h"
#include "path_tree.h"
#include "scanner.h"
#include "unsyncable_dirs.h"

namespace clsync {
namespace {

// The smallest mask that keeps a mirror exact (see doc/ARCHITECTURE.md, "Event mask"):
// IN_MODIFY for writers that never close (logs), IN_CLOSE_WRITE for writes through
// mmap (they raise no IN_MODIFY), IN_ATTRIB for mode, owner and times. No IN_OPEN,
// IN_ACCESS or IN_CLOSE_NOWRITE: reads change nothing.
constexpr std::uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |
                                   IN_MOVED_TO | IN_ONLYDIR | IN_EXCL_UNLINK;
// Only the root needs its own deletion and move: below it, the parent's IN_DELETE or
// IN_MOVED_FROM reports the same change by name.
constexpr std::uint32_t kRootMask = kDirMask | IN_DELETE_SELF | IN_MOVE_SELF;
// How long an unpaired IN_MOVED_FROM waits for its IN_MOVED_TO. The kernel queues both
// within one rename(), so this only covers a read() that split the pair.
constexpr int kMovePairingMs = 5;

}  // namespace

InotifyWatcher::InotifyWatcher(WatcherSettings settings, EventSink& sink, UnsyncableDirs& unsyncable)
    : Watcher(std::move(settings), sink, unsyncable) {}

InotifyWatcher::~InotifyWatcher() { stop(); }

void InotifyWatcher::open_kernel_interface() {
    inotify_fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_fd_.valid()) throw std::system_error(errno, std::generic_category(), "inotify_init1");
}

void InotifyWatcher::watch_whole_tree() {
    // Watches on directories that vanished while events were lost are dropped by
    // rebuilding the table from what the walk finds now.
    std::vector<int> before;
    before.reserve(wd_paths_.size());
    for (const auto& entry : wd_paths_) before.push_back(entry.first);
    wd_paths_.clear();
    path_wds_.clear();
    unsyncable_.remove_tree("");
    unwatched_subtrees_ = 0;
    watch_tree("");
    for (int wd : before)
        if (!wd_paths_.count(wd)) inotify_rm_watch(inotify_fd_.get(), wd);
    log_info("inotify: watching %zu directories under %s%s", wd_paths_.size(), settings_.root.c_str(),
             unwatched_subtrees_ ? " (partially: see the errors above)" : "");
}

std::string InotifyWatcher::status() const {
    std::string line = "inotify, " + std::to_string(watched_.load()) + " directories watched";
    if (std::size_t missing = unwatched_subtrees_.load())
        line += "; PARTIALLY WATCHED: " + std::to_string(missing) +
                " subtrees hit the watch limit (raise fs.inotify.max_user_watches or use --monitor=fanotify)";
    return line;
}

int InotifyWatcher::extra_timeout_ms() const { return pending_move_ ? kMovePairingMs : -1; }

void InotifyWatcher::read_events() {
    alignas(struct inotify_event) char buffer[64 * 1024];
    for (;;) {
        ssize_t length = read(inotify_fd_.get(), buffer, sizeof buffer);
        if (length < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) log_error("watcher: read: %s", strerror(errno));
            watched_ = wd_paths_.size();  // for status(), read by the main thread
            return;
        }
        for (char* p = buffer; p < buffer + length;) {
            const auto* event = reinterpret_cast<const struct inotify_event*>(p);
            handle(*event);
            p += sizeof(struct inotify_event) + event->len;
        }
    }
}

void InotifyWatcher::handle(const struct inotify_event& event) {
    if (event.mask & IN_Q_OVERFLOW) {
        pending_move_.reset();  // its pair may be among the lost events; the rescan covers it
        on_overflow();
        return;
    }
    auto watch = wd_paths_.find(event.wd);
    if (watch == wd_paths_.end()) return;  // a watch we already dropped
    if (event.mask & IN_IGNORED) {
        unbind_watch(event.wd);
        return;
    }
    const std::string& dir = *watch->second;
    bool is_dir = event.mask & IN_ISDIR;
    if (event.len == 0) {
        // An event on the watched directory itself; its parent reports the same change by name.
        if (dir.empty() && (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF)))
            log_error("the watch dir %s was deleted or moved away", settings_.root.c_str());
        if (dir.empty() && (event.mask & IN_UNMOUNT)) {
            // Every watch on it goes: what is there now is watched again, and the source
            // guard holds the syncs until the file system is back (source_guard.h).
            log_error("the file system of the watch dir %s was unmounted", settings_.root.c_str());
            request_rescan();
        } else if (dir.empty() && (event.mask & IN_ATTRIB))
            emit("", false);
        return;
    }
    std::string path = join_path(dir, event.name);

    if (!(event.mask & IN_MOVED_TO)) flush_pending_move();
    if (event.mask & IN_MOVED_FROM) {
        pending_move_ = PendingMove{event.cookie, std::move(path), is_dir};
    } else if (event.mask & IN_MOVED_TO) {
        handle_moved_to(path, is_dir, event.cookie);
    } else if (event.mask & IN_DELETE) {
        // Its watch goes with its own IN_IGNORED (by wd): the name may already
        // belong to another directory when this event is read.
        if (is_dir) unsyncable_.remove_tree(path);
        emit(std::move(path), true);
    } else if (is_dir && (event.mask & IN_CREATE)) {
        watch_tree(path);
        emit(std::move(path), true);
    } else if (is_dir && unsyncable_.remove(path)) {
        watch_tree(path);  // its mode changed: readable now, or recorded again
        emit(std::move(path), true);
    } else if (is_dir) {
        emit(std::move(path), false);  // attributes of a subdirectory
    } else {
        emit_changed_file(std::move(path), (event.mask & IN_MODIFY) != 0);
    }
}

void InotifyWatcher::handle_moved_to(const std::string& path, bool is_dir, std::uint32_t cookie) {
    bool paired = pending_move_ && pending_move_->cookie == cookie;
    if (!paired) {
        flush_pending_move();
        // Moved in from outside the tree: nothing below it is watched or synced yet.
        if (is_dir) {
            watch_tree(path);
            emit(path, true);
        } else {
            emit_changed_file(path, true);
        }
        return;
    }
    std::string from = std::move(pending_move_->path);
    pending_move_.reset();
    if (is_dir) {
        rename_watches(from, path);
        unsyncable_.remove_tree(from);  // the walks below find them again
        // Walk it under its new name: a subdirectory created just before the rename was
        // looked for under a name that no longer existed when its IN_CREATE was read.
        // Already watched directories keep their wd (inotify_add_watch returns it), and
        // the walk binds each to the path it has now. The old name is walked too: after
        // a RENAME_EXCHANGE (reported like two renames) another watched tree is there.
        watch_tree(path);
        watch_tree(from);
    }
    emit_rename(std::move(from), path);
}

void InotifyWatcher::flush_pending_move() {
    if (!pending_move_) return;
    // Moved out of the tree: its watches would follow it elsewhere.
    if (pending_move_->is_dir) {
        remove_watches_under(pending_move_->path);
        unsyncable_.remove_tree(pending_move_->path);
        // Unless the name holds another directory now: a RENAME_EXCHANGE with a directory
        // not watched yet (made just before) is reported as an unpaired IN_MOVED_TO of
        // that one, which watched it under this name, then this unpaired IN_MOVED_FROM.
        if (is_directory(settings_.root, pending_move_->path)) watch_tree(pending_move_->path);
    }
    emit(std::move(pending_move_->path), true);
    pending_move_.reset();
}

void InotifyWatcher::watch_tree(const std::string& start) {
    walk_directories(
        settings_.root, start, [this](const std::string& path, int dir_fd) { return add_watch(path, dir_fd); },
        [this](const std::string& path) { unsyncable_.add(path); });
    watched_ = wd_paths_.size();
}

bool InotifyWatcher::add_watch(const std::string& path, int dir_fd) {
    if (excluded_mounts().count(path)) return false;  // --one-file-system
    if (!directory_included(path)) return false;      // -R
    if (path_depth(path) == kMaxSyncDepth)
        log_warning("'%s' is %d levels deep: rsync cannot sync it or below it (watched, not synced)",
                    printable(path).c_str(), kMaxSyncDepth);
    // Watching through the already opened descriptor closes the race with a directory
    // being swapped for a symlink between the scan and the watch.
    std::string proc_path = "/proc/self/fd/" + std::to_string(dir_fd);
    int wd = inotify_add_watch(inotify_fd_.get(), proc_path.c_str(), path.empty() ? kRootMask : kDirMask);
    if (wd >= 0) {
        bind_watch(wd, path);
        return true;
    }
    if (errno != ENOSPC) {
        log_warning("cannot watch '%s': %s", printable(path).c_str(), strerror(errno));
    } else if (unwatched_subtrees_++ == 0) {
        log_error(
            "inotify watch limit reached at '%s': changes below it are not seen until a rescan. Raise "
            "fs.inotify.max_user_watches (sysctl) or use --monitor=fanotify",
            printable(path).c_str());
    } else {
        log_debug("inotify watch limit: '%s' not watched", printable(path).c_str());
    }
    return false;
}

void InotifyWatcher::remove_watches_under(const std::string& path) {
    erase_subtree(path_wds_, path, true, [this](const auto& entry) {
        inotify_rm_watch(inotify_fd_.get(), entry.second);
        wd_paths_.erase(entry.second);
    });
}

void InotifyWatcher::rename_watches(const std::string& from, const std::string& to) {
    std::vector<std::pair<std::string, int>> moved;
    erase_subtree(path_wds_, from, true, [&](const auto& entry) {
        moved.emplace_back(to + entry.first.substr(from.size()), entry.second);
        wd_paths_.erase(entry.second);  // it points at the key being erased
    });
    for (auto& [path, wd] : moved) bind_watch(wd, path);
}

// Invariant: wd_paths_[wd] points at a key K of path_wds_ with path_wds_[K] == wd.
void InotifyWatcher::bind_watch(int wd, const std::string& path) {
    auto old_path = wd_paths_.find(wd);
    if (old_path != wd_paths_.end() && *old_path->second != path) {
        auto entry = path_wds_.find(*old_path->second);
        wd_paths_.erase(old_path);
        path_wds_.erase(entry);
    }
    // The path was watched through another wd: that directory was replaced (a rename
    // over it; its IN_IGNORED follows and finds nothing to unbind) or moved elsewhere
    // (RENAME_EXCHANGE: the walk of its new name binds it again). Not removed here.
    auto old_wd = path_wds_.find(path);
    if (old_wd != path_wds_.end() && old_wd->second != wd) wd_paths_.erase(old_wd->second);
    auto entry = path_wds_.insert_or_assign(path, wd).first;
    wd_paths_[wd] = &entry->first;
}

void InotifyWatcher::unbind_watch(int wd) {
    auto it = wd_paths_.find(wd);
    if (it == wd_paths_.end()) return;
    auto entry = path_wds_.find(*it->second);
    wd_paths_.erase(it);
    path_wds_.erase(entry);
}

}  // namespace clsync
