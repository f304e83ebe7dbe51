#include "fanotify_watcher.h"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>

#include "log.h"
#include "path_tree.h"
#include "scanner.h"
#include "unsyncable_dirs.h"

namespace clsync {

// A parsed info record. Everything points into the read buffer: most events are
// dropped without a copy.
struct FanotifyWatcher::Entry {
    std::string_view key;                  // fsid + handle (size, type, bytes): unique per directory
    std::string_view fsid;                 // the file system's id, as bytes
    struct file_handle* handle = nullptr;  // the handle itself
    const char* name = "";                 // "" for a record without a name, "." for the directory itself
    bool valid() const { return handle != nullptr; }
    bool names_directory_itself() const { return name[0] == '\0' || std::strcmp(name, ".") == 0; }
};

namespace {

// See doc/ARCHITECTURE.md ("Event mask"): writes that never close (FAN_MODIFY), writes
// through mmap (FAN_CLOSE_WRITE), metadata (FAN_ATTRIB) and directory entries. No
// access or open events: reads change nothing.
constexpr std::uint64_t kChangeMask = FAN_CREATE | FAN_DELETE | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ATTRIB | FAN_ONDIR;

// fanotify's __kernel_fsid_t and statfs's fsid_t hold the same two ints.
template <typename Fsid>
std::string fsid_bytes(const Fsid& fsid) {
    static_assert(sizeof(Fsid) == 8, "an fsid is two ints");
    return std::string(reinterpret_cast<const char*>(&fsid), sizeof fsid);
}

// The same bytes as an event's key: the fsid followed by the file_handle.
std::string handle_key(const std::string& fsid, const struct file_handle& handle) {
    std::string key = fsid;
    key.append(reinterpret_cast<const char*>(&handle), sizeof handle + handle.handle_bytes);
    return key;
}

// The path of an open descriptor, relative to "/"; nullopt if it was deleted meanwhile.
std::optional<std::string> descriptor_path(int fd) {
    std::string link = "/proc/self/fd/" + std::to_string(fd);
    char target[PATH_MAX + 1];
    ssize_t length = readlink(link.c_str(), target, PATH_MAX);
    if (length <= 0 || target[0] != '/') return std::nullopt;
    std::string path(target + 1, static_cast<std::size_t>(length) - 1);
    static const std::string kDeleted = " (deleted)";
    if (path.size() >= kDeleted.size() && path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
        return std::nullopt;
    return path;
}

}  // namespace

FanotifyWatcher::FanotifyWatcher(WatcherSettings settings, EventSink& sink, UnsyncableDirs& unsyncable)
    : Watcher(std::move(settings), sink, unsyncable), root_(settings_.root == "/" ? "" : settings_.root.substr(1)) {}

FanotifyWatcher::~FanotifyWatcher() { stop(); }

void FanotifyWatcher::open_kernel_interface() {
    // FAN_REPORT_FID adds the new directory's own handle to FAN_CREATE, so that it is
    // known before the first event inside it arrives.
    int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_REPORT_FID,
                           O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EPERM)
            throw MonitorUnavailable("fanotify needs the CAP_SYS_ADMIN capability (run clsync as root)");
        if (errno == EINVAL)
            throw MonitorUnavailable(
                "this kernel's fanotify cannot report names (FAN_REPORT_DFID_NAME needs Linux 5.9)");
        if (errno == ENOSYS) throw MonitorUnavailable("this kernel has no fanotify");
        throw std::system_error(errno, std::generic_category(), "fanotify_init");
    }
    fanotify_fd_.reset(fd);
}

void FanotifyWatcher::watch_whole_tree() {
    if (!mount_fds_.empty())
        fanotify_mark(fanotify_fd_.get(), FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, nullptr);
    mount_fds_.clear();
    directories_.clear();
    mark_file_system(settings_.root, true);
    std::size_t marked = 1;
    for (const std::string& mount : mounts_below_root())
        if (!excluded_mounts().count(mount)) {
            mark_file_system(settings_.root + '/' + mount, false);
            ++marked;
        }

    // The watch dir's own handle, so that events in it need no lookup.
    alignas(struct file_handle) char buffer[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    auto* handle = reinterpret_cast<struct file_handle*>(buffer);
    handle->handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    struct statfs fs;
    if (name_to_handle_at(AT_FDCWD, settings_.root.c_str(), handle, &mount_id, 0) == 0 &&
        statfs(settings_.root.c_str(), &fs) == 0)
        directories_.insert(handle_key(fsid_bytes(fs.f_fsid), *handle), root_);
    log_info("fanotify: watching %s (%zu file system mark%s, no per-directory watches)", settings_.root.c_str(), marked,
             marked == 1 ? "" : "s");
}

void FanotifyWatcher::mark_file_system(const std::string& absolute, bool required) {
    std::uint64_t mask = kChangeMask | (reports_renames_ ? FAN_RENAME : FAN_MOVED_FROM | FAN_MOVED_TO);
    int rc = fanotify_mark(fanotify_fd_.get(), FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, absolute.c_str());
    if (rc != 0 && errno == EINVAL && reports_renames_) {
        // Before Linux 5.17 there is no FAN_RENAME: moves are reported as two halves.
        log_info("fanotify: this kernel has no FAN_RENAME; renames are synced as deletion and copy");
        reports_renames_ = false;
        return mark_file_system(absolute, required);
    }
    if (rc != 0) {
        int error = errno;
        std::string why = "cannot watch the file system of '" + absolute + "' with fanotify: " + strerror(error);
        if (error == EPERM) why += " (a file system mark needs the CAP_SYS_ADMIN capability: run clsync as root)";
        if (error == ENODEV || error == EXDEV || error == EOPNOTSUPP)
            why += " (the file system gives no file handles or ids)";
        if (required) throw MonitorUnavailable(why);
        log_warning("%s; changes below it are not seen", why.c_str());
        return;
    }
    UniqueFd dir(open(absolute.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct statfs fs;
    if (dir.valid() && fstatfs(dir.get(), &fs) == 0) mount_fds_.try_emplace(fsid_bytes(fs.f_fsid), std::move(dir));
}

std::string FanotifyWatcher::status() const { return "fanotify, file system marks (no per-directory watches)"; }

void FanotifyWatcher::read_events() {
    // On the heap, made on first use: a thread_local array is part of every thread's
    // TLS block, which glibc clears at thread start (256 KiB resident per thread).
    if (!read_buffer_) read_buffer_.reset(new FanotifyReadBuffer);
    char* buffer = read_buffer_->bytes;
    for (;;) {
        ssize_t length = read(fanotify_fd_.get(), buffer, sizeof read_buffer_->bytes);
        if (length < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) log_error("watcher: read: %s", strerror(errno));
            return;
        }
        // Events (and their info records) are 4-byte aligned in the buffer, the metadata
        // needs 8: it is copied out (FAN_EVENT_NEXT's cast is undefined behaviour there).
        struct fanotify_event_metadata event;
        for (std::size_t at = 0; at + sizeof event <= static_cast<std::size_t>(length); at += event.event_len) {
            std::memcpy(&event, buffer + at, sizeof event);
            if (event.event_len < sizeof event || at + event.event_len > static_cast<std::size_t>(length)) break;
            if (event.vers != FANOTIFY_METADATA_VERSION) {
                log_error("fanotify: unexpected event format version %d", event.vers);
                return;
            }
            handle(event, buffer + at);
        }
    }
}

void FanotifyWatcher::handle(const struct fanotify_event_metadata& event, const char* bytes) {
    if (event.mask & FAN_Q_OVERFLOW) return on_overflow();

    Entry entry, renamed_from, renamed_to, object;
    const char* end = bytes + event.event_len;
    for (const char* p = bytes + event.metadata_len; p < end;) {
        const auto* header = reinterpret_cast<const struct fanotify_event_info_header*>(p);
        if (header->len == 0) break;
        const auto* info = reinterpret_cast<const struct fanotify_event_info_fid*>(p);
        Entry parsed;
        const char* fsid = reinterpret_cast<const char*>(&info->fsid);
        parsed.fsid = std::string_view(fsid, sizeof info->fsid);
        parsed.handle = reinterpret_cast<struct file_handle*>(const_cast<unsigned char*>(info->handle));
        parsed.key =
            std::string_view(fsid, sizeof info->fsid + sizeof(struct file_handle) + parsed.handle->handle_bytes);
        if (header->info_type != FAN_EVENT_INFO_TYPE_FID && header->info_type != FAN_EVENT_INFO_TYPE_DFID)
            parsed.name = reinterpret_cast<const char*>(parsed.handle->f_handle + parsed.handle->handle_bytes);
        switch (header->info_type) {
            case FAN_EVENT_INFO_TYPE_DFID_NAME:
            case FAN_EVENT_INFO_TYPE_DFID:
                entry = parsed;
                break;
            case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
                renamed_from = parsed;
                break;
            case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
                renamed_to = parsed;
                break;
            case FAN_EVENT_INFO_TYPE_FID:
                object = parsed;
                break;
            default:
                break;
        }
        p += header->len;
    }

    bool is_dir = event.mask & FAN_ONDIR;
    if ((event.mask & FAN_RENAME) && renamed_from.valid() && renamed_to.valid())
        handle_rename(renamed_from, renamed_to, is_dir);
    if (!entry.valid()) return;
    const std::string* dir = directory_path(entry);
    if (!dir) return;  // its directory is gone; the directory's deletion is reported by name
    // Most events of the file system are outside the tree: dropped here, without a copy.
    // Directory entries of directories are not: they keep the handle cache true.
    bool directory_entry = is_dir && (event.mask & (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO));
    if (!directory_entry && !near_tree(*dir)) return;
    const std::string path = entry.names_directory_itself() ? *dir : join_path(*dir, entry.name);
    if (event.mask & (FAN_DELETE | FAN_MOVED_FROM)) {
        if (is_dir) directories_.erase_tree(path);
        if (auto relative = inside(path)) {
            if (is_dir) unsyncable_.remove_tree(*relative);
            emit(*relative, true);
        }
    }
    if (event.mask & (FAN_CREATE | FAN_MOVED_TO)) {
        // A new directory needs no walk: everything created in it raises its own event.
        // One moved in (kernels without FAN_RENAME) brings unseen contents.
        if (is_dir && (event.mask & FAN_MOVED_TO)) directories_.erase_tree(path);
        if (is_dir && object.valid()) directories_.insert(object.key, path);
        if (auto relative = inside(path)) {
            if (is_dir)
                emit(*relative, (event.mask & FAN_MOVED_TO) != 0);
            else
                emit_changed_file(*relative, (event.mask & FAN_MOVED_TO) != 0);
        }
    }
    if (event.mask & (FAN_MODIFY | FAN_CLOSE_WRITE | FAN_ATTRIB)) {
        if (auto relative = inside(path)) {
            if (is_dir)
                emit(*relative, false);
            else
                emit_changed_file(*relative, (event.mask & FAN_MODIFY) != 0);
        }
    }
}

void FanotifyWatcher::handle_rename(const Entry& from, const Entry& to, bool is_dir) {
    std::optional<std::string> old_path = entry_path(from);
    std::optional<std::string> new_path = entry_path(to);
    if (is_dir) {
        // Forget both subtrees; their directories are looked up again as their events
        // come. (Moving the cached paths along would be wrong for RENAME_EXCHANGE, which
        // reports like two renames a -> b, b -> a.)
        if (old_path && new_path) {
            directories_.erase_tree(*old_path);
            directories_.erase_tree(*new_path);
        } else {
            directories_.clear();  // cannot tell which cached paths moved
        }
    }
    std::optional<std::string> old_relative = old_path ? inside(*old_path) : std::nullopt;
    std::optional<std::string> new_relative = new_path ? inside(*new_path) : std::nullopt;
    if (old_relative && is_dir) unsyncable_.remove_tree(*old_relative);
    if (old_relative && new_relative)
        emit_rename(*old_relative, *new_relative);
    else if (old_relative)
        emit(*old_relative, true);  // moved out of the tree
    else if (new_relative && is_dir)
        emit(*new_relative, true);  // moved in: its contents are new here
    else if (new_relative)
        emit_changed_file(*new_relative, true);
}

const std::string* FanotifyWatcher::directory_path(const Entry& entry) {
    if (const std::string* known = directories_.find(entry.key)) return known;
    auto mount = mount_fds_.find(std::string(entry.fsid));
    if (mount == mount_fds_.end()) return nullptr;
    UniqueFd dir(open_by_handle_at(mount->second.get(), entry.handle, O_PATH | O_CLOEXEC));
    if (!dir.valid()) return nullptr;  // deleted meanwhile (ESTALE)
    std::optional<std::string> path = descriptor_path(dir.get());
    if (!path) return nullptr;
    directories_.insert(entry.key, *path);
    return directories_.find(entry.key);
}

std::optional<std::string> FanotifyWatcher::entry_path(const Entry& entry) {
    const std::string* dir = directory_path(entry);
    if (!dir) return std::nullopt;
    return entry.names_directory_itself() ? *dir : join_path(*dir, entry.name);
}

bool FanotifyWatcher::near_tree(const std::string& dir) const {
    return dir == root_ || is_ancestor(root_, dir) || is_ancestor(dir, root_);
}

std::optional<std::string> FanotifyWatcher::inside(const std::string& path) const {
    if (path == root_) return std::string();
    if (!is_ancestor(root_, path)) return std::nullopt;
    return root_.empty() ? path : path.substr(root_.size() + 1);
}

}  // namespace clsync
