// fanotify backend: one FAN_MARK_FILESYSTEM mark per file system under the tree,
// events reported with the parent directory's file handle and the entry's name
// (FAN_REPORT_DFID_NAME, kernel >= 5.9; needs CAP_SYS_ADMIN).
//
// No per-directory watches: no watch limit, no memory per directory, and no race with
// new directories (everything on the file system is seen from the start). The price:
// events of the whole file system arrive, and those outside the tree are dropped after
// one hash lookup of their directory handle (DirHandleCache; unknown handles are
// resolved once with open_by_handle_at).
//
// Renames arrive as one FAN_RENAME event with both names (kernel >= 5.17); older
// kernels report a move as a deletion and a creation, synced as such.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dir_handle_cache.h"
#include "watcher.h"

struct fanotify_event_metadata;

namespace clsync {

class FanotifyWatcher : public Watcher {
public:
    FanotifyWatcher(WatcherSettings settings, EventSink& sink, UnsyncableDirs& unsyncable);
    ~FanotifyWatcher() override;

    const char* backend() const override { return "fanotify"; }
    std::string status() const override;

private:
    struct Entry;  // a parsed info record: directory handle, name

    void open_kernel_interface() override;
    void watch_whole_tree() override;
    int kernel_fd() const override { return fanotify_fd_.get(); }
    void read_events() override;

    void mark_file_system(const std::string& absolute, bool required);
    // `bytes`: the event as read, info records included (`event` is a copy of its start).
    void handle(const struct fanotify_event_metadata& event, const char* bytes);
    void handle_rename(const Entry& from, const Entry& to, bool is_dir);
    // The directory's path relative to "/" (DirHandleCache's form), valid until the
    // cache changes; null if it is gone.
    const std::string* directory_path(const Entry& entry);
    // Can an entry of this directory be the tree or in it? (It or an ancestor of it.)
    bool near_tree(const std::string& dir) const;
    // The path relative to the watch dir of a path relative to "/"; nullopt if outside.
    std::optional<std::string> inside(const std::string& path) const;
    std::optional<std::string> entry_path(const Entry& entry);  // directory + name

    UniqueFd fanotify_fd_;
    struct FanotifyReadBuffer {
        alignas(8) char bytes[256 * 1024];  // fanotify_event_metadata is 8-byte aligned
    };
    std::unique_ptr<FanotifyReadBuffer> read_buffer_;
    bool reports_renames_ = true;                // FAN_RENAME (5.17+)
    std::map<std::string, UniqueFd> mount_fds_;  // fsid bytes -> a directory on that file system
    DirHandleCache directories_;
    std::string root_;  // the watch dir relative to "/"
};

}  // namespace clsync
