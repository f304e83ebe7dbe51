#include "inotify_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "log.h"
#include "path_tree.h"
#include "scanner.h"
#include "unreadable_dirs.h"

namespace clsync {
namespace {

constexpr std::uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |
                                     IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;
// How long an unpaired IN_MOVED_FROM waits for its IN_MOVED_TO. The kernel queues both
// within one rename(), so this only covers a read() that split the pair.
constexpr int kMovePairingMs = 5;
constexpr int kCoalesceMs = 10;
constexpr Millis kMaxRescanBackoff{30000};
constexpr Millis kOverflowQuietPeriod{10000};

}  // namespace

InotifyWatcher::InotifyWatcher(WatcherSettings settings, EventSink& sink, UnreadableDirs& unreadable)
    : settings_(std::move(settings)), sink_(sink), unreadable_(unreadable) {}

InotifyWatcher::~InotifyWatcher() { stop(); }

void InotifyWatcher::start() {
    inotify_fd_.reset(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!inotify_fd_.valid()) throw std::system_error(errno, std::generic_category(), "inotify_init1");
    stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
    watch_tree("");
    outbox_.clear();  // the initial sync covers what the first walk found
    log_info("watching %zu directories under %s", wd_paths_.size(), settings_.root.c_str());
    thread_ = std::thread([this] { run(); });
}

void InotifyWatcher::stop() {
    if (!thread_.joinable()) return;
    std::uint64_t one = 1;
    if (write(stop_fd_.get(), &one, sizeof one) < 0) log_error("waking the watcher: %s", strerror(errno));
    thread_.join();
}

void InotifyWatcher::run() {
    for (;;) {
        struct pollfd fds[2] = {{inotify_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
        int ready = poll(fds, 2, poll_timeout_ms());
        if (ready < 0) {
            if (errno == EINTR) continue;
            log_error("watcher: poll: %s", strerror(errno));
            return;
        }
        if (fds[1].revents) return;
        if (fds[0].revents)
            read_events();
        else
            flush_pending_move();  // timed out: the pair is not coming
        if (rescan_pending_ && Clock::now() >= rescan_at_) rescan();
        if (!outbox_.empty()) {
            sink_.deliver(std::exchange(outbox_, {}));
            // Let events gather in the kernel queue for a moment: nothing is synced before a
            // window closes anyway, and waking per event costs more CPU than the events do.
            if (wait_for_stop(kCoalesceMs)) return;
        }
    }
}

bool InotifyWatcher::wait_for_stop(int timeout_ms) const {
    struct pollfd stop = {stop_fd_.get(), POLLIN, 0};
    return poll(&stop, 1, timeout_ms) > 0;
}

int InotifyWatcher::poll_timeout_ms() const {
    if (pending_move_) return kMovePairingMs;
    if (rescan_pending_) {
        auto wait = std::chrono::duration_cast<Millis>(rescan_at_ - Clock::now()).count();
        return static_cast<int>(std::max<long long>(wait, 0));
    }
    return -1;
}

void InotifyWatcher::read_events() {
    alignas(struct inotify_event) char buffer[64 * 1024];
    for (;;) {
        ssize_t length = read(inotify_fd_.get(), buffer, sizeof buffer);
        if (length < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) log_error("watcher: read: %s", strerror(errno));
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
        on_overflow();
        return;
    }
    auto dir = wd_paths_.find(event.wd);
    if (dir == wd_paths_.end()) return;  // a watch we already dropped
    if (event.mask & IN_IGNORED) {
        unbind_watch(event.wd);
        return;
    }
    bool is_dir = event.mask & IN_ISDIR;
    if (event.len == 0) {
        // An event on the watched directory itself; its parent reports the same change by name.
        if (dir->second.empty() && (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF)))
            log_error("the watch dir %s was deleted or moved away", settings_.root.c_str());
        else if (dir->second.empty() && (event.mask & IN_ATTRIB))
            emit("", false);
        return;
    }
    std::string path = join_path(dir->second, event.name);

    if (!(event.mask & IN_MOVED_TO)) flush_pending_move();
    if (event.mask & IN_MOVED_FROM) {
        pending_move_ = PendingMove{event.cookie, std::move(path), is_dir};
    } else if (event.mask & IN_MOVED_TO) {
        handle_moved_to(path, is_dir, event.cookie);
    } else if (event.mask & IN_DELETE) {
        // Its watch goes with its own IN_IGNORED (by wd): the name may already
        // belong to another directory when this event is read.
        if (is_dir) unreadable_.remove_tree(path);
        emit(std::move(path), true);
    } else if (is_dir && (event.mask & IN_CREATE)) {
        watch_tree(path);
        emit(std::move(path), true);
    } else if (is_dir && unreadable_.remove(path)) {
        watch_tree(path);  // its mode changed: readable now, or recorded again
        emit(std::move(path), true);
    } else if (is_dir) {
        emit(std::move(path), false);  // attributes of a subdirectory
    } else {
        emit_changed_file(std::move(path));
    }
}

void InotifyWatcher::handle_moved_to(const std::string& path, bool is_dir, std::uint32_t cookie) {
    bool paired = pending_move_ && pending_move_->cookie == cookie;
    if (paired) {
        // A rename inside the tree: applied as delete of the old name + copy of the new.
        if (is_dir) {
            rename_watches(pending_move_->path, path);
            unreadable_.rename_tree(pending_move_->path, path);
        }
        emit(std::move(pending_move_->path), true);
        pending_move_.reset();
    } else {
        flush_pending_move();
    }
    // Walk the directory under its new name in both cases: moved in from outside,
    // nothing below it is watched yet; renamed inside, a subdirectory created just before
    // the rename was looked for under a name that no longer existed when its IN_CREATE
    // was read. Already watched directories keep their wd (inotify_add_watch returns it).
    if (is_dir) watch_tree(path);
    if (is_dir)
        emit(path, true);
    else
        emit_changed_file(path);
}

void InotifyWatcher::flush_pending_move() {
    if (!pending_move_) return;
    // Moved out of the tree: its watches would follow it elsewhere.
    if (pending_move_->is_dir) {
        remove_watches_under(pending_move_->path);
        unreadable_.remove_tree(pending_move_->path);
    }
    emit(std::move(pending_move_->path), true);
    pending_move_.reset();
}

void InotifyWatcher::watch_tree(const std::string& start) {
    walk_directories(
        settings_.root, start,
        [this](const std::string& path, int dir_fd) {
            // Watching through the already opened descriptor closes the race with a
            // directory being swapped for a symlink between the scan and the watch.
            std::string proc_path = "/proc/self/fd/" + std::to_string(dir_fd);
            int wd = inotify_add_watch(inotify_fd_.get(), proc_path.c_str(), kWatchMask);
            if (wd < 0) {
                if (errno == ENOSPC)
                    log_error("inotify watch limit reached at '%s': raise fs.inotify.max_user_watches", path.c_str());
                else
                    log_warning("cannot watch '%s': %s", path.c_str(), strerror(errno));
                return false;
            }
            bind_watch(wd, path);
            return true;
        },
        [this](const std::string& path) { unreadable_.add(path); });
}

void InotifyWatcher::remove_watches_under(const std::string& path) {
    erase_subtree(path_wds_, path, true, [this](const auto& entry) {
        inotify_rm_watch(inotify_fd_.get(), entry.second);
        wd_paths_.erase(entry.second);
    });
}

void InotifyWatcher::rename_watches(const std::string& from, const std::string& to) {
    std::vector<std::pair<std::string, int>> moved;
    erase_subtree(path_wds_, from, true,
                  [&](const auto& entry) { moved.emplace_back(to + entry.first.substr(from.size()), entry.second); });
    for (auto& [path, wd] : moved) bind_watch(wd, path);
}

void InotifyWatcher::bind_watch(int wd, const std::string& path) {
    auto old_path = wd_paths_.find(wd);
    if (old_path != wd_paths_.end() && old_path->second != path) {
        auto entry = path_wds_.find(old_path->second);
        if (entry != path_wds_.end() && entry->second == wd) path_wds_.erase(entry);
    }
    // The path was watched through another wd: that directory was replaced (a rename
    // over it), so the old watch is stale; its IN_IGNORED must not unbind this one.
    auto old_wd = path_wds_.find(path);
    if (old_wd != path_wds_.end() && old_wd->second != wd) {
        inotify_rm_watch(inotify_fd_.get(), old_wd->second);
        wd_paths_.erase(old_wd->second);
    }
    wd_paths_[wd] = path;
    path_wds_[path] = wd;
}

void InotifyWatcher::unbind_watch(int wd) {
    auto it = wd_paths_.find(wd);
    if (it == wd_paths_.end()) return;
    auto entry = path_wds_.find(it->second);
    if (entry != path_wds_.end() && entry->second == wd) path_wds_.erase(entry);
    wd_paths_.erase(it);
}

void InotifyWatcher::on_overflow() {
    TimePoint now = Clock::now();
    outbox_.clear();  // what was read before the overflow is covered by the rescan
    // Overflowing again soon after a rescan means the tree is too busy to rescan
    // continuously: wait longer each time, while still reading events.
    if (last_rescan_ != TimePoint{} && now - last_rescan_ < kOverflowQuietPeriod)
        rescan_backoff_ = std::min(kMaxRescanBackoff, std::max(Millis(1000), rescan_backoff_ * 2));
    else
        rescan_backoff_ = Millis(0);
    if (!rescan_pending_) {
        rescan_pending_ = true;
        rescan_at_ = now + rescan_backoff_;
        log_warning("inotify event queue overflowed: rescanning the whole tree%s",
                    rescan_backoff_.count() ? " after a back-off" : "");
    }
}

void InotifyWatcher::rescan() {
    rescan_pending_ = false;
    last_rescan_ = Clock::now();
    // Watches on directories that vanished while events were lost are dropped by
    // rebuilding the table from what the walk finds now.
    std::unordered_map<int, std::string> before = std::move(wd_paths_);
    wd_paths_.clear();
    path_wds_.clear();
    unreadable_.remove_tree("");
    watch_tree("");
    for (const auto& [wd, path] : before)
        if (!wd_paths_.count(wd)) inotify_rm_watch(inotify_fd_.get(), wd);
    log_info("rescan placed %zu watches", wd_paths_.size());
    emit("", true);
}

void InotifyWatcher::emit(std::string path, bool recursive) {
    outbox_.push_back({std::move(path), recursive, SizeClass::Normal});
}

void InotifyWatcher::emit_changed_file(std::string path) {
    SizeClass size_class = SizeClass::Normal;
    if (settings_.threshold_bigfile) {
        struct stat st;
        std::string absolute = settings_.root + '/' + path;
        if (lstat(absolute.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            static_cast<std::uint64_t>(st.st_size) >= settings_.threshold_bigfile)
            size_class = SizeClass::Big;
    }
    outbox_.push_back({std::move(path), false, size_class});
}

}  // namespace clsync
