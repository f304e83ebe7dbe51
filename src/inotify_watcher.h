// inotify backend: one watch per directory.
//
// Guarantees:
//  - a new directory is watched first and then scanned, so nothing created in it
//    before the watch was placed is missed (its whole subtree is synced recursively);
//  - IN_MOVED_FROM/IN_MOVED_TO are paired by cookie and reported as a rename; watches
//    of a renamed directory keep working under the new name;
//  - running out of watches (ENOSPC) is not fatal: the subtrees that could not be
//    watched are logged and counted, the rest is watched and synced.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "watcher.h"

struct inotify_event;

namespace clsync {

class InotifyWatcher : public Watcher {
public:
    InotifyWatcher(WatcherSettings settings, EventSink& sink, UnsyncableDirs& unsyncable);
    ~InotifyWatcher() override;

    const char* backend() const override { return "inotify"; }
    std::string status() const override;

private:
    struct PendingMove {
        std::uint32_t cookie;
        std::string path;
        bool is_dir;
    };

    void open_kernel_interface() override;
    void watch_whole_tree() override;
    int kernel_fd() const override { return inotify_fd_.get(); }
    void read_events() override;
    void on_idle() override { flush_pending_move(); }  // the pair is not coming
    int extra_timeout_ms() const override;

    void handle(const struct inotify_event& event);
    void handle_moved_to(const std::string& path, bool is_dir, std::uint32_t cookie);
    void flush_pending_move();
    void watch_tree(const std::string& start);
    bool add_watch(const std::string& path, int dir_fd);
    // A directory moved out of the tree: its watches would follow it elsewhere.
    void remove_watches_under(const std::string& path);
    void rename_watches(const std::string& from, const std::string& to);
    // Keep wd_paths_ and path_wds_ inverse to each other.
    void bind_watch(int wd, const std::string& path);
    void unbind_watch(int wd);

    UniqueFd inotify_fd_;
    // Each directory's path is stored once, as a key of path_wds_ (ordered, for subtree
    // moves); wd_paths_ points at it. Memory per watched directory is what limits
    // inotify on big trees (bench/RESULTS.md).
    std::map<std::string, int> path_wds_;
    std::unordered_map<int, const std::string*> wd_paths_;
    std::optional<PendingMove> pending_move_;

    std::atomic<std::size_t> watched_{0};
    std::atomic<std::size_t> unwatched_subtrees_{0};  // ENOSPC since the last full walk
};

}  // namespace clsync
