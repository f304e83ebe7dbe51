// A watcher turns kernel file-system events under a tree into PathEvents, on its own
// thread. This base holds what both backends (inotify_watcher, fanotify_watcher) share:
// the thread and its poll loop, the stop eventfd, the outbox of events, the size-class
// lookup, and the overflow -> rescan scheduling with back-off.
//
// Threads: start() runs on the caller's thread; afterwards every member except
// stop_fd_ is owned by the watcher thread (backends' status counters are atomic).
#pragma once

#include <atomic>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "path_event.h"
#include "unique_fd.h"

namespace clsync {

class Rules;
class UnsyncableDirs;

struct WatcherSettings {
    std::string root;                 // absolute, canonical watch dir
    std::uint64_t threshold_bigfile;  // 0: no big files
    bool one_file_system = false;     // do not cross into other mounts
    const Rules* rules = nullptr;     // -R: excluded directories are not watched
};

// The backend cannot work here (no privilege, old kernel, unsupported file system);
// what() says why. Exit code 69, or the next backend with --monitor=auto.
struct MonitorUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Watcher {
public:
    Watcher(WatcherSettings settings, EventSink& sink, UnsyncableDirs& unsyncable);
    virtual ~Watcher();
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // Opens the kernel interface, places the watches on the whole tree (before the
    // initial sync, so that no change made during start-up is lost) and starts the
    // thread. Throws std::system_error when the kernel interface cannot be set up.
    void start();
    // Stops and joins the watcher thread. Idempotent. Backends call it in their
    // destructor, before their own members go.
    void stop();
    // Reads and delivers what the kernel has queued so far, then stops (SIGQUIT with
    // --sync-on-quit: the last sync covers every change made before the signal, and
    // nothing after it, such as the deletion of a stopped container's tree).
    void drain_and_stop();

    // Walks the tree again and reports it all changed (the rules changed). Thread safe.
    void request_rescan();

    virtual const char* backend() const = 0;
    // One line for the status log (SIGUSR1). Thread safe.
    virtual std::string status() const = 0;

protected:
    // Opens the kernel interface; throws MonitorUnavailable or std::system_error.
    virtual void open_kernel_interface() = 0;
    // Places the watches on the whole tree (at start and for each rescan).
    virtual void watch_whole_tree() = 0;
    virtual int kernel_fd() const = 0;
    // Reads what is ready on kernel_fd() and turns it into emit() calls.
    virtual void read_events() = 0;
    // Called when the poll timed out with nothing to read (see extra_timeout_ms()).
    virtual void on_idle() {}
    // A backend's own deadline for poll (-1: none), such as a rename waiting for its pair.
    virtual int extra_timeout_ms() const { return -1; }

    void emit(std::string path, bool recursive);
    // A file changed. `may_have_grown`: the event can change the size (a write or
    // truncate, a file moved in), so the size class (-B) is looked up; creation, close
    // and attribute events cannot make a file big: a size change always comes with
    // its own modify event (writes through mmap cannot extend a file).
    // A created or changed file; not one reported under the made-up name of an
    // O_TMPFILE file (is_unnamed_file).
    void emit_changed_file(std::string path, bool may_have_grown);
    bool is_unnamed_file(const std::string& path) const;
    void emit_rename(std::string from, std::string to);
    // The kernel dropped events: schedule a rescan (with back-off when it repeats).
    void on_overflow();

    // Mount points strictly below the root (relative paths) that a walk must not enter
    // with --one-file-system; read from /proc/self/mountinfo at start and each rescan.
    const std::set<std::string>& excluded_mounts() const { return excluded_mounts_; }
    // Whether the rules let the watcher enter directory `path`.
    bool directory_included(const std::string& path) const;
    // Every mount point strictly below the root, whatever the options (fanotify marks each).
    const std::set<std::string>& mounts_below_root() const { return mounts_below_root_; }

    const WatcherSettings settings_;
    EventSink& sink_;
    UnsyncableDirs& unsyncable_;

private:
    SizeClass size_class_of(const std::string& path) const;  // lstat
    void run();
    void rescan();
    int poll_timeout_ms() const;
    bool wait_for_stop(int timeout_ms) const;  // true if stop() was called
    void read_mounts();

    UniqueFd stop_fd_;  // eventfd: written by stop()
    std::atomic<bool> drain_on_stop_{false};
    UniqueFd rescan_fd_;  // eventfd: written by request_rescan()
    std::thread thread_;
    std::vector<PathEvent> outbox_;
    std::set<std::string> mounts_below_root_;
    std::set<std::string> excluded_mounts_;

    bool rescan_pending_ = false;
    TimePoint rescan_at_{};
    TimePoint last_rescan_{};
    Millis rescan_backoff_{0};
};

}  // namespace clsync
