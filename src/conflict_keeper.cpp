#include "conflict_keeper.h"

#include <fcntl.h>
#include <glib.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "content_signature.h"
#include "directory_opener.h"
#include "log.h"
#include "scanner.h"

namespace clsync {
namespace {

// Around a peer's run (its notice to its Done), a change here counts as its delivery.
constexpr std::int64_t kDeliverySlackUs = 1000000;
// File times come from the kernel's coarse clock, up to a tick (4 ms at 250 Hz) behind
// the time of the change.
constexpr std::int64_t kTimestampGrainUs = 10000;
// Copies of one file within one second beyond this are not made (logged as failed).
constexpr unsigned kMaxCopiesPerSecond = 9;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Copies the file `name` in `dir_fd` to the new name `copy` beside it, with the mode
// and times of what was opened; "" or what failed (`name_taken`: `copy` exists). The
// source is opened first: from then on its data is safe from a peer's rsync renaming
// a new file over the name. The
// copy is built as an unnamed file (O_TMPFILE) and named when whole: no half-written
// copy is ever visible, and no temporary name raises events. Not a hard link: a file
// with two names makes rsync -H relink its copies at the peers whatever --update says.
std::string copy_file(int dir_fd, const std::string& name, const std::string& copy, bool& name_taken) {
    name_taken = false;
    UniqueFd source(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!source.valid()) return errno_text("open");
    struct stat st;
    if (fstat(source.get(), &st) != 0) return errno_text("fstat");
    UniqueFd target(openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, st.st_mode & 07777));
    if (!target.valid()) return errno_text("O_TMPFILE");
    for (;;) {
        ssize_t n = copy_file_range(source.get(), nullptr, target.get(), nullptr, 1 << 30, 0);
        if (n < 0) return errno_text("copy_file_range");
        if (n == 0) break;
    }
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (futimens(target.get(), times) != 0) return errno_text("futimens");
    std::string proc = "/proc/self/fd/" + std::to_string(target.get());
    if (linkat(AT_FDCWD, proc.c_str(), dir_fd, copy.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        name_taken = errno == EEXIST;
        return errno_text("linkat");
    }
    return {};
}

}  // namespace

std::string conflict_name(const std::string& name, const std::string& node, std::int64_t at_us, unsigned n) {
    std::time_t seconds = static_cast<std::time_t>(at_us / 1000000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    std::string safe_node = node;
    for (char& c : safe_node)
        if (c == '/') c = '_';
    std::string suffix = ".clsync-conflict-" + safe_node + "-" + stamp + (n > 1 ? "-" + std::to_string(n) : "");
    std::size_t room = suffix.size() < NAME_MAX ? NAME_MAX - suffix.size() : 0;
    return name.substr(0, room) + suffix;
}

ConflictKeeper::ConflictKeeper(std::string watch_dir, std::string node, Millis window, const ExpectedChanges& expected)
    : watch_dir_(std::move(watch_dir)),
      node_(std::move(node)),
      window_us_(std::chrono::microseconds(window).count()),
      expected_(expected) {}

void ConflictKeeper::prune_locked(std::int64_t now_us) {
    if (now_us - pruned_at_us_ <= window_us_) return;
    for (auto it = own_.begin(); it != own_.end();)
        it = now_us - it->second.at_us > window_us_ ? own_.erase(it) : std::next(it);
    touched_.forget_before(now_us - window_us_);
    pruned_at_us_ = now_us;
}

bool ConflictKeeper::peer_is_writing(const std::string& path, std::int64_t now_us) const {
    std::optional<Expectation> e = expected_.find(to_wire_path(path), Clock::now());
    if (!e || e->node == node_ || e->deleted) return false;
    return now_us <= (e->in_flight ? now_us : e->settled_at_us) + kDeliverySlackUs;
}

void ConflictKeeper::touched(const PathEvent& event) {
    std::int64_t now_us = g_get_real_time();
    std::vector<std::pair<std::string, EventTimes>> named = paths_named(event, now_us);
    // A directory a peer's run made here (its rsync's mkdir): what is below it is the
    // peer's delivery, not this node's change.
    if (!event.is_rename() && event.recursive && peer_is_writing(event.path, now_us))
        named.front().second.subtree_seen_us = 0;
    std::lock_guard<std::mutex> lock(mutex_);
    prune_locked(now_us);
    for (const auto& [path, times] : named) touched_.add(path, times);
}

void ConflictKeeper::announced(const std::vector<NoticeEntry>& entries) {
    std::int64_t now_us = g_get_real_time();
    std::lock_guard<std::mutex> lock(mutex_);
    prune_locked(now_us);
    // A whole-tree or recursive notice also names what peers wrote here: not ours.
    TimePoint now = Clock::now();
    for (const NoticeEntry& e : entries) {
        if (e.deleted || touched_.last_touching(e.path) < now_us - window_us_) continue;
        std::optional<Expectation> peer = expected_.find(e.path, now);
        if (peer && peer->matches(false, e.signature)) continue;
        Own& own = own_[e.path];
        if (now_us - own.at_us > window_us_) own = Own{};
        if (own.signature != e.signature && own.signature) {
            std::copy_backward(own.earlier.begin(), own.earlier.end() - 1, own.earlier.end());
            own.earlier[0] = own.signature;
        }
        own.signature = e.signature;
        own.at_us = now_us;
    }
}

bool ConflictKeeper::announced_here(const std::string& path, std::uint64_t signature, std::int64_t now_us) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = own_.find(path);
    if (it == own_.end() || now_us - it->second.at_us > window_us_) return false;
    const Own& own = it->second;
    return own.signature == signature ||
           std::find(own.earlier.begin(), own.earlier.end(), signature) != own.earlier.end();
}

void ConflictKeeper::shared_by_peer(const std::string& path, std::uint64_t signature) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = own_.find(path);
    if (it != own_.end() && it->second.signature == signature) own_.erase(it);
}

bool ConflictKeeper::is_recent_here(const std::string& path, std::uint64_t signature, std::int64_t ctime_us,
                                    std::int64_t now_us) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = own_.find(path);
        if (it != own_.end() && now_us - it->second.at_us <= window_us_) return it->second.signature == signature;
        // Not announced yet: a change made here lately, that this node's watcher
        // reported (the event is read after the change).
        if (now_us - ctime_us > window_us_) return false;
        if (touched_.last_touching(path) < ctime_us - kTimestampGrainUs) return false;
    }
    // But not while a peer's run was writing the file or a directory above it (a run
    // also delivers what its notice could not name, made after its walk; its notice
    // after the run names it later).
    TimePoint now = Clock::now();
    for (std::string p = path;; p = parent_of(p)) {
        std::optional<Expectation> e = expected_.find(p, now);
        if (e && e->node != node_) {
            std::int64_t end = e->in_flight ? now_us : e->settled_at_us;
            if (ctime_us >= e->announced_at_us - kDeliverySlackUs && ctime_us <= end + kDeliverySlackUs) return false;
        }
        if (p.empty()) break;
    }
    std::optional<Expectation> e = expected_.find(path, now);
    return !(e && e->matches(false, signature));
}

bool ConflictKeeper::may_be_recent_here(const std::string& path, std::int64_t ctime_us, std::int64_t now_us) {
    if (now_us - ctime_us <= window_us_) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = own_.find(path);
    return it != own_.end() && now_us - it->second.at_us <= window_us_;
}

std::unordered_set<std::uint64_t> ConflictKeeper::signatures_moved_by(const std::string& peer,
                                                                      const std::vector<NoticeEntry>& entries) const {
    std::unordered_set<std::uint64_t> signatures;
    TimePoint now = Clock::now();
    for (const NoticeEntry& e : entries) {
        if (!e.deleted) continue;
        std::optional<Expectation> before = expected_.find(e.path, now);
        if (!before || before->node != peer || before->deleted) continue;
        signatures.insert(before->signature);
        for (std::uint64_t earlier : before->earlier)
            if (earlier) signatures.insert(earlier);
    }
    return signatures;
}

void ConflictKeeper::keep_conflicting(const std::string& peer, const std::vector<NoticeEntry>& entries,
                                      std::int64_t arrived_us) {
    std::int64_t now_us = g_get_real_time();
    std::optional<std::unordered_set<std::uint64_t>> moved_by_peer;  // when first needed
    for (const NoticeEntry& e : entries) {
        if (e.deleted || e.path == kRootWirePath) continue;
        // cluster.py seed 182: a peer's initial sync's file arrived here before its
        // notice, this node's whole-tree walk announced it as its own, and the peer's
        // first change of it made a conflict copy.
        shared_by_peer(e.path, e.signature);
        UniqueFd dir = open_directory(watch_dir_, parent_of(e.path));
        if (!dir.valid()) continue;
        std::string name = name_of(e.path);
        struct stat st;
        if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        // The peer has an earlier version from this node (its notice names a whole
        // directory as it has it): no change of the peer's.
        if (announced_here(e.path, e.signature, now_us)) continue;
        std::int64_t ctime_us = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000 + st.st_ctim.tv_nsec / 1000;
        if (ctime_us >= arrived_us - kTimestampGrainUs) continue;
        // Cheap first: the signature reads the whole file, on the main thread.
        if (!may_be_recent_here(e.path, ctime_us, now_us)) continue;
        EntryState state = entry_state(dir.get(), name.c_str());
        if (state.kind != EntryState::Kind::Present || state.signature == e.signature) continue;
        if (!is_recent_here(e.path, state.signature, ctime_us, now_us)) continue;
        if (!moved_by_peer) moved_by_peer = signatures_moved_by(peer, entries);
        if (moved_by_peer->count(state.signature)) continue;
        // Another conflict of the same file within the same second took the name already:
        // with that very version (each destination's sync sends its own notice), kept.
        std::string copy, error;
        bool name_taken = true, kept_already = false;
        for (unsigned n = 1; name_taken && !kept_already && n <= kMaxCopiesPerSecond; ++n) {
            copy = conflict_name(name, node_, now_us, n);
            error = copy_file(dir.get(), name, copy, name_taken);
            kept_already = name_taken && entry_state(dir.get(), copy.c_str()).signature == state.signature;
        }
        if (kept_already) continue;
        if (!error.empty()) {
            log_warning("conflict: cannot keep this node's version of '%s' as '%s': %s", printable(e.path).c_str(),
                        printable(copy).c_str(), error.c_str());
            continue;
        }
        log_info(
            "conflict: '%s' changed here and at node %s at once: this node's version is kept as '%s' (the "
            "newest mtime keeps the name)",
            printable(e.path).c_str(), printable(peer).c_str(), printable(copy).c_str());
    }
}

}  // namespace clsync
