// inotify backend: one watch per directory.
//
// Threads: start() runs on the caller's thread; afterwards every member except
// stop_fd_ is owned by the watcher thread. Events go to the EventSink, which is
// thread safe.
//
// Guarantees:
//  - a new directory is watched first and then scanned, so nothing created in it
//    before the watch was placed is missed (its whole subtree is synced recursively);
//  - IN_Q_OVERFLOW triggers a rescan: watches are re-placed on the whole tree, then
//    the whole tree is synced; repeated overflows back off instead of looping;
//  - IN_MOVED_FROM/IN_MOVED_TO are paired by cookie; watches of a renamed directory
//    keep working under the new name.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "clock.h"
#include "path_event.h"
#include "unique_fd.h"
#include "watcher.h"

struct inotify_event;

namespace clsync {

struct WatcherSettings {
    std::string root;                 // absolute, canonical watch dir
    std::uint64_t threshold_bigfile;  // 0: no big files
};

class UnreadableDirs;

class InotifyWatcher : public Watcher {
public:
    InotifyWatcher(WatcherSettings settings, EventSink& sink, UnreadableDirs& unreadable);
    ~InotifyWatcher() override;

    void start() override;
    void stop() override;

private:
    struct PendingMove {
        std::uint32_t cookie;
        std::string path;
        bool is_dir;
    };

    void run();
    void read_events();
    void handle(const struct inotify_event& event);
    void handle_moved_to(const std::string& path, bool is_dir, std::uint32_t cookie);
    void flush_pending_move();
    void watch_tree(const std::string& start);
    // A directory moved out of the tree: its watches would follow it elsewhere.
    void remove_watches_under(const std::string& path);
    void rename_watches(const std::string& from, const std::string& to);
    // Keep wd_paths_ and path_wds_ inverse to each other.
    void bind_watch(int wd, const std::string& path);
    void unbind_watch(int wd);
    void on_overflow();
    void rescan();
    int poll_timeout_ms() const;
    bool wait_for_stop(int timeout_ms) const;  // true if stop() was called
    void emit(std::string path, bool recursive);
    void emit_changed_file(std::string path);

    WatcherSettings settings_;
    EventSink& sink_;
    UnreadableDirs& unreadable_;
    UniqueFd inotify_fd_;
    UniqueFd stop_fd_;  // eventfd: written by stop()
    std::thread thread_;

    std::unordered_map<int, std::string> wd_paths_;
    std::map<std::string, int> path_wds_;
    std::optional<PendingMove> pending_move_;
    std::vector<PathEvent> outbox_;

    bool rescan_pending_ = false;
    TimePoint rescan_at_{};
    TimePoint last_rescan_{};
    Millis rescan_backoff_{0};
};

}  // namespace clsync
