#include "child_process.h"

#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "unique_fd.h"

namespace clsync {
namespace {

constexpr std::size_t kMaxStderr = 64 * 1024;

// Runs in the child before exec.
void prepare_child(gpointer) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

// How long a process group gets between SIGTERM and SIGKILL when its time is up.
constexpr Millis kKillGrace{5000};

// Writes `input` to `in` and reads `err`, whichever is ready, until the child exits
// (its pidfd turns readable), so that neither a child writing much to stderr before
// reading its input, nor a helper it left behind holding stderr open, can block us.
// Past the deadline, the child's process group is stopped.
class Exchange {
public:
    Exchange(pid_t pid, UniqueFd in, UniqueFd err, Millis timeout)
        : pid_(pid),
          in_(std::move(in)),
          err_(std::move(err)),
          deadline_(timeout.count() > 0 ? Clock::now() + timeout : TimePoint::max()) {}

    void run(const std::string& input, ChildOutcome& outcome) {
        UniqueFd exited(static_cast<int>(syscall(SYS_pidfd_open, pid_, 0)));
        if (input.empty())
            in_.reset();
        else
            fcntl(in_.get(), F_SETFL, fcntl(in_.get(), F_GETFL) | O_NONBLOCK);
        fcntl(err_.get(), F_SETFL, fcntl(err_.get(), F_GETFL) | O_NONBLOCK);
        // Until the child exits; without a pidfd (kernel < 5.3), until it closes its pipes.
        while (exited.valid() || err_.valid() || in_.valid()) {
            struct pollfd fds[3] = {{err_.get(), POLLIN, 0}, {in_.get(), POLLOUT, 0}, {exited.get(), POLLIN, 0}};
            if (poll(fds, 3, wait_ms()) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            if (fds[0].revents) read_stderr(outcome.stderr_text);
            if (fds[1].revents) write_input(input);
            if (fds[2].revents) {
                read_stderr(outcome.stderr_text);  // what is already there; no waiting for helpers
                break;
            }
            if (Clock::now() >= deadline_) escalate(outcome);
        }
    }

private:
    int wait_ms() const {
        if (deadline_ == TimePoint::max()) return -1;
        auto left = std::chrono::duration_cast<Millis>(deadline_ - Clock::now()).count();
        return static_cast<int>(std::max<long long>(0, std::min<long long>(left, 1000)));
    }

    void read_stderr(std::string& text) {
        char buffer[4096];
        for (;;) {
            ssize_t n = read(err_.get(), buffer, sizeof buffer);
            if (n > 0 && text.size() < kMaxStderr) text.append(buffer, static_cast<std::size_t>(n));
            if (n > 0) continue;
            if (n == 0 || (errno != EINTR && errno != EAGAIN)) err_.reset();
            if (n == 0 || errno != EINTR) return;
        }
    }

    void write_input(const std::string& input) {
        ssize_t n = write(in_.get(), input.data() + written_, input.size() - written_);
        if (n > 0) written_ += static_cast<std::size_t>(n);
        if (written_ == input.size() || (n < 0 && errno != EINTR && errno != EAGAIN)) in_.reset();
    }

    // SIGTERM to the group at the deadline, SIGKILL once the grace period is over too.
    void escalate(ChildOutcome& outcome) {
        if (!outcome.timed_out) {
            outcome.timed_out = true;
            ::kill(-pid_, SIGTERM);
            deadline_ = Clock::now() + kKillGrace;
        } else {
            ::kill(-pid_, SIGKILL);
            deadline_ = TimePoint::max();
        }
    }

    pid_t pid_;
    UniqueFd in_, err_;
    TimePoint deadline_;
    std::size_t written_ = 0;
};

gchar** child_environment(const ChildSpec& spec) {
    gchar** env = g_get_environ();
    for (const auto& [name, value] : spec.environment) env = g_environ_setenv(env, name.c_str(), value.c_str(), TRUE);
    return env;
}

}  // namespace

ChildOutcome run_child(const ChildSpec& spec, ChildRegistry& children) {
    std::vector<char*> args;
    for (const std::string& a : spec.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    ChildOutcome outcome;
    GPid pid = 0;
    gint stdin_fd = -1, stderr_fd = -1;
    GError* error = nullptr;
    // A bare name ("ssh" of --ssh-command) is looked up in PATH.
    auto flags = static_cast<GSpawnFlags>(G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                          G_SPAWN_CLOEXEC_PIPES | G_SPAWN_SEARCH_PATH);
    gchar** env = spec.environment.empty() ? nullptr : child_environment(spec);
    const char* cwd = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
    bool spawned = g_spawn_async_with_pipes_and_fds(cwd, args.data(), env, flags, prepare_child, nullptr, -1, -1, -1,
                                                    nullptr, nullptr, 0, &pid, &stdin_fd, nullptr, &stderr_fd, &error);
    g_strfreev(env);
    if (!spawned) {
        outcome.error = error ? error->message : "unknown error";
        if (error) g_error_free(error);
        return outcome;
    }
    outcome.started = true;
    if (!children.add(pid)) ::kill(-pid, SIGTERM);  // shutdown began meanwhile

    Exchange(pid, UniqueFd(stdin_fd), UniqueFd(stderr_fd), spec.timeout).run(spec.input, outcome);

    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    children.remove(pid);
    if (WIFEXITED(status))
        outcome.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        outcome.term_signal = WTERMSIG(status);
    return outcome;
}

std::string describe_exit(const ChildOutcome& outcome) {
    if (!outcome.started) return "could not start: " + outcome.error;
    std::string text = outcome.term_signal ? "killed by signal " + std::to_string(outcome.term_signal)
                                           : "exit code " + std::to_string(outcome.exit_code);
    if (outcome.timed_out) text += " (ran past --timeout-sync)";
    return text;
}

}  // namespace clsync
