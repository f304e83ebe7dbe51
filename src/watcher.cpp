#include "watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "log.h"
#include "mount_table.h"
#include "rules.h"

namespace clsync {
namespace {

constexpr int kCoalesceMs = 10;
constexpr Millis kMaxRescanBackoff{30000};
constexpr Millis kOverflowQuietPeriod{10000};

}  // namespace

Watcher::Watcher(WatcherSettings settings, EventSink& sink, UnsyncableDirs& unsyncable)
    : settings_(std::move(settings)), sink_(sink), unsyncable_(unsyncable) {}

Watcher::~Watcher() = default;

void Watcher::start() {
    stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    rescan_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_fd_.valid() || !rescan_fd_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
    open_kernel_interface();
    read_mounts();
    watch_whole_tree();
    outbox_.clear();  // the initial sync covers what the first walk found
    thread_ = std::thread([this] { run(); });
}

void Watcher::drain_and_stop() {
    drain_on_stop_ = true;
    stop();
}

void Watcher::stop() {
    if (!thread_.joinable()) return;
    std::uint64_t one = 1;
    if (write(stop_fd_.get(), &one, sizeof one) < 0) log_error("waking the watcher: %s", strerror(errno));
    thread_.join();
}

void Watcher::request_rescan() {
    std::uint64_t one = 1;
    if (write(rescan_fd_.get(), &one, sizeof one) < 0) log_error("waking the watcher: %s", strerror(errno));
}

bool Watcher::directory_included(const std::string& path) const {
    return !settings_.rules || path.empty() || settings_.rules->get()->dir_included(path);
}

void Watcher::run() {
    for (;;) {
        struct pollfd fds[3] = {{kernel_fd(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}, {rescan_fd_.get(), POLLIN, 0}};
        int ready = poll(fds, 3, poll_timeout_ms());
        if (ready < 0) {
            if (errno == EINTR) continue;
            log_error("watcher: poll: %s", strerror(errno));
            return;
        }
        if (fds[1].revents) {
            if (drain_on_stop_) {
                read_events();
                if (!outbox_.empty()) sink_.deliver(std::exchange(outbox_, {}));
            }
            return;
        }
        std::uint64_t requests;
        if (fds[2].revents && read(rescan_fd_.get(), &requests, sizeof requests) > 0) {
            rescan_pending_ = true;
            rescan_at_ = Clock::now();
        }
        if (fds[0].revents)
            read_events();
        else
            on_idle();
        if (rescan_pending_ && Clock::now() >= rescan_at_) rescan();
        if (!outbox_.empty()) {
            sink_.deliver(std::exchange(outbox_, {}));
            // Let events gather in the kernel queue for a moment: nothing is synced before a
            // window closes anyway, and waking per event costs more CPU than the events do.
            if (wait_for_stop(kCoalesceMs)) return;
        }
    }
}

bool Watcher::wait_for_stop(int timeout_ms) const {
    struct pollfd stop = {stop_fd_.get(), POLLIN, 0};
    return poll(&stop, 1, timeout_ms) > 0;
}

int Watcher::poll_timeout_ms() const {
    int timeout = extra_timeout_ms();
    if (rescan_pending_) {
        auto wait = std::chrono::duration_cast<Millis>(rescan_at_ - Clock::now()).count();
        int rescan_in = static_cast<int>(std::max<long long>(wait, 0));
        timeout = timeout < 0 ? rescan_in : std::min(timeout, rescan_in);
    }
    return timeout;
}

void Watcher::on_overflow() {
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
        log_warning("%s event queue overflowed: rescanning the whole tree%s", backend(),
                    rescan_backoff_.count() ? " after a back-off" : "");
    }
}

void Watcher::rescan() {
    rescan_pending_ = false;
    last_rescan_ = Clock::now();
    read_mounts();
    watch_whole_tree();
    outbox_.clear();
    emit("", true);
}

void Watcher::read_mounts() {
    mounts_below_root_ = mount_points_below(read_mountinfo(), settings_.root);
    excluded_mounts_ = settings_.one_file_system ? mounts_below_root_ : std::set<std::string>{};
}

void Watcher::emit(std::string path, bool recursive) {
    PathEvent event;
    event.path = std::move(path);
    event.recursive = recursive;
    outbox_.push_back(std::move(event));
}

void Watcher::emit_rename(std::string from, std::string to) {
    PathEvent event;
    event.path = std::move(to);
    event.renamed_from = std::move(from);
    outbox_.push_back(std::move(event));
}

bool Watcher::is_unnamed_file(const std::string& path) const {
    // An O_TMPFILE file (clsync's conflict copies, editors' safe writes) is in no
    // directory until linkat(2) names it (an event of its own), but inotify and
    // fanotify report its writes under the name the kernel made up for it, "#INODE".
    std::string::size_type start = path.rfind('/') + 1;  // npos + 1 == 0
    if (start + 1 >= path.size() || path[start] != '#') return false;
    for (std::string::size_type i = start + 1; i < path.size(); ++i)
        if (path[i] < '0' || path[i] > '9') return false;
    struct stat st;
    return lstat((settings_.root + '/' + path).c_str(), &st) != 0 && errno == ENOENT;
}

void Watcher::emit_changed_file(std::string path, bool may_have_grown) {
    if (is_unnamed_file(path)) return;
    bool needs_size = may_have_grown && settings_.threshold_bigfile != 0;
    // A writer raises create, modify and close-write in a row: one entry is enough (the
    // queue would fold them anyway), looked up at most once.
    if (!outbox_.empty() && !outbox_.back().is_rename() && outbox_.back().path == path) {
        PathEvent& last = outbox_.back();
        if (needs_size && last.size_class == SizeClass::Normal) last.size_class = size_class_of(last.path);
        return;
    }
    PathEvent event;
    event.path = std::move(path);
    if (needs_size) event.size_class = size_class_of(event.path);
    outbox_.push_back(std::move(event));
}

SizeClass Watcher::size_class_of(const std::string& path) const {
    struct stat st;
    std::string absolute = settings_.root + '/' + path;
    bool big = lstat(absolute.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
               static_cast<std::uint64_t>(st.st_size) >= settings_.threshold_bigfile;
    return big ? SizeClass::Big : SizeClass::Normal;
}

}  // namespace clsync
