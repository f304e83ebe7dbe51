// Running as a daemon: detaching (-b), the pid file (-z), the status file
// (--status-file), privilege dropping (-u, -g, --chroot) and the exit hooks.
#pragma once

#include <sys/types.h>

#include <string>

#include "clock.h"
#include "unique_fd.h"

namespace clsync {

class ChildRegistry;

// A start-up failure with its exit code (sysexits.h).
struct StartupError {
    int exit_code;
    std::string message;
};

// -b: forks; the parent waits until the child says it started (or why it did not)
// and exits with that code, so that scripts and service managers see start-up errors.
class Detacher {
public:
    // In the parent this does not return. Throws StartupError if fork fails.
    void detach();
    // In the child: start-up is complete (exit 0) or failed (exit `code`).
    void report(int code);

private:
    UniqueFd pipe_;  // the child's end
};

// -z: the pid file, locked (flock) for the daemon's lifetime, removed at exit. A file
// left by a dead instance is taken over; one held by a running instance is refused.
class PidFile {
public:
    explicit PidFile(const std::string& path);  // throws StartupError (exit 73)
    ~PidFile();
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;

private:
    void write_pid();
    std::string path_;
    UniqueFd fd_;
};

// Who -u/-g make clsync; resolved before --chroot (the user database is outside it).
struct Identity {
    bool set = false;
    uid_t uid = 0;
    gid_t gid = 0;  // -g, or the user's primary group
};

// Throws StartupError (exit 64) for an unknown user or group.
Identity resolve_identity(const std::string& user, const std::string& group);

// --status-file (its text: status_report.h). Opened once, before privileges are
// dropped, and rewritten in place with one write: a reader sees the old or the new
// text (or, for a moment, the new one with the old one's tail).
class StatusFile {
public:
    // Throws StartupError (exit 73); the file is handed to `owner` when set.
    StatusFile(std::string path, const Identity& owner);
    void write(const std::string& text) const;

private:
    std::string path_;
    UniqueFd fd_;
};

// --chroot: enters `dir` (before anything else is opened). Throws StartupError.
void enter_chroot(const std::string& dir);
// -u/-g: becomes `identity`, with its group as the only one. Throws StartupError.
void drop_privileges(const Identity& identity);

// --exit-hook / --pre-exit-hook: runs "program label" to its end (within `timeout`).
void run_hook(const char* what, const std::string& program, const std::string& label, Millis timeout,
              ChildRegistry& children);

}  // namespace clsync
