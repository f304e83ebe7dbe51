#include "daemon.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "child_process.h"
#include "exit_codes.h"
#include "log.h"

namespace clsync {
namespace {

// A name or a number; -1 if neither.
long lookup_id(const std::string& name, bool group) {
    char* end = nullptr;
    long number = std::strtol(name.c_str(), &end, 10);
    if (!name.empty() && *end == '\0') return number;
    if (group) {
        struct group* g = getgrnam(name.c_str());
        return g ? static_cast<long>(g->gr_gid) : -1;
    }
    struct passwd* p = getpwnam(name.c_str());
    return p ? static_cast<long>(p->pw_uid) : -1;
}

}  // namespace

void Detacher::detach() {
    // What the starter left open (LXC's hook pipes, say) is not the daemon's to keep:
    // a starter waiting for the end of such a pipe would wait for the daemon's exit.
    if (close_range(3, ~0U, 0) != 0)  // before Linux 5.9: one by one
        for (int fd = 3; fd < 1024; ++fd) close(fd);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw StartupError{kExitOsErr, std::string("pipe: ") + strerror(errno)};
    pid_t pid = fork();
    if (pid < 0) throw StartupError{kExitOsErr, std::string("fork: ") + strerror(errno)};
    if (pid > 0) {
        close(fds[1]);
        unsigned char code = kExitSoftware;  // the child died before it could say
        while (read(fds[0], &code, 1) < 0 && errno == EINTR) {
        }
        _exit(code);
    }
    close(fds[0]);
    pipe_.reset(fds[1]);
    setsid();
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        close(null);
    }
}

void Detacher::report(int code) {
    if (!pipe_.valid()) return;
    auto byte = static_cast<unsigned char>(code);
    if (::write(pipe_.get(), &byte, 1) < 0) log_warning("telling the parent process: %s", strerror(errno));
    pipe_.reset();
}

PidFile::PidFile(const std::string& path) : path_(path) {
    long old_pid = 0;
    // The lock must be on the file the path names: an exiting owner unlinks it between
    // our open and our flock, and the lock would then be on a file nobody can see.
    for (;;) {
        fd_.reset(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
        if (!fd_.valid()) throw StartupError{kExitCantCreate, "pid file " + path + ": " + strerror(errno)};
        char old[32] = {};
        ssize_t n = pread(fd_.get(), old, sizeof old - 1, 0);
        old_pid = n > 0 ? std::strtol(old, nullptr, 10) : 0;
        if (flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
            fd_.reset();
            path_.clear();  // not ours: never removed by us
            throw StartupError{kExitCantCreate, "pid file " + path + " is held by a running clsync (pid " +
                                                    std::to_string(old_pid) + ")"};
        }
        struct stat locked, named;
        if (fstat(fd_.get(), &locked) == 0 && stat(path.c_str(), &named) == 0 && locked.st_ino == named.st_ino &&
            locked.st_dev == named.st_dev)
            break;
    }
    if (old_pid > 0) log_info("pid file %s: taking over from pid %ld, which is gone", path.c_str(), old_pid);
    write_pid();
}

void PidFile::write_pid() {
    std::string text = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_.get(), 0) != 0 || pwrite(fd_.get(), text.data(), text.size(), 0) < 0)
        throw StartupError{kExitCantCreate, "pid file " + path_ + ": " + strerror(errno)};
}

PidFile::~PidFile() {
    // After -u the directory may not let us remove it: the next start takes it over.
    if (!path_.empty() && fd_.valid() && unlink(path_.c_str()) != 0 && errno != ENOENT)
        log_warning("cannot remove pid file %s: %s (the next start takes it over)", path_.c_str(), strerror(errno));
}

StatusFile::StatusFile(std::string path, const Identity& owner) : path_(std::move(path)) {
    fd_.reset(open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd_.valid()) throw StartupError{kExitCantCreate, "status file " + path_ + ": " + strerror(errno)};
    // Written in place: not through a hard link to some other file.
    struct stat st;
    if (fstat(fd_.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1)
        throw StartupError{kExitCantCreate, "status file " + path_ + " is not a plain file of its own"};
    if (owner.set && fchown(fd_.get(), owner.uid, owner.gid) != 0)
        throw StartupError{kExitCantCreate, "status file " + path_ + ": " + strerror(errno)};
}

void StatusFile::write(const std::string& text) const {
    ssize_t n = pwrite(fd_.get(), text.data(), text.size(), 0);
    if (n != static_cast<ssize_t>(text.size()) || ftruncate(fd_.get(), static_cast<off_t>(text.size())) != 0)
        log_warning("status file %s: %s", path_.c_str(), n < 0 ? strerror(errno) : "short write");
}

void enter_chroot(const std::string& dir) {
    if (chroot(dir.c_str()) != 0 || chdir("/") != 0)
        throw StartupError{kExitOsErr, "--chroot " + dir + ": " + strerror(errno)};
    // Checked now rather than met as failures of every watch or every run later.
    auto require = [&dir](const char* path, bool present, const std::string& why, const std::string& fix) {
        if (!present)
            throw StartupError{kExitUnavailable, "--chroot " + dir + ": " + dir + path + " " + why + " (" + fix + ")"};
    };
    struct stat st;
    require("/dev/null", stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode),
            "is missing or not a device, and rsync and the handlers need it",
            "mknod -m 666 " + dir + "/dev/null c 1 3");
    // Watches, mount points and conflict copies go through the process's own descriptors.
    require("/proc", access("/proc/self/fd", X_OK) == 0, "is not a mounted proc file system, and clsync needs it",
            "mount -t proc proc " + dir + "/proc");
}

Identity resolve_identity(const std::string& user, const std::string& group) {
    Identity identity;
    if (user.empty() && group.empty()) return identity;
    identity.set = true;
    identity.uid = geteuid();
    identity.gid = getegid();
    if (!user.empty()) {
        long uid = lookup_id(user, false);
        if (uid < 0) throw StartupError{kExitUsage, "--uid: no user '" + user + "'"};
        identity.uid = static_cast<uid_t>(uid);
        // Without -g: the user's own group, not root's.
        struct passwd* p = getpwuid(identity.uid);
        if (p) identity.gid = p->pw_gid;
    }
    if (!group.empty()) {
        long gid = lookup_id(group, true);
        if (gid < 0) throw StartupError{kExitUsage, "--gid: no group '" + group + "'"};
        identity.gid = static_cast<gid_t>(gid);
    }
    return identity;
}

void drop_privileges(const Identity& identity) {
    if (!identity.set) return;
    if (setgroups(1, &identity.gid) != 0 || setgid(identity.gid) != 0)
        throw StartupError{kExitOsErr, "switching to group " + std::to_string(identity.gid) + ": " + strerror(errno)};
    if (setuid(identity.uid) != 0)
        throw StartupError{kExitOsErr, "switching to user " + std::to_string(identity.uid) + ": " + strerror(errno)};
}

void run_hook(const char* what, const std::string& program, const std::string& label, Millis timeout,
              ChildRegistry& children) {
    log_info("running the %s: %s %s", what, program.c_str(), label.c_str());
    ChildSpec spec;
    spec.argv = {program, label};
    spec.timeout = timeout;
    ChildOutcome outcome = run_child(spec, children);
    if (!outcome.started || outcome.exit_code != 0)
        log_warning("%s %s: %s%s%s", what, program.c_str(), describe_exit(outcome).c_str(),
                    outcome.stderr_text.empty() ? "" : ": ", outcome.stderr_text.c_str());
}

}  // namespace clsync
