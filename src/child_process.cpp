#include "child_process.h"

#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

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

// Writes `input` to `in` and reads `err` until EOF, whichever is ready, so that a
// child writing much to stderr before it has read its input cannot deadlock us.
void exchange(UniqueFd& in, UniqueFd& err, const std::string& input, std::string& stderr_text) {
    std::size_t written = 0;
    if (input.empty())
        in.reset();
    else
        fcntl(in.get(), F_SETFL, fcntl(in.get(), F_GETFL) | O_NONBLOCK);
    while (err.valid() || in.valid()) {
        struct pollfd fds[2] = {{err.get(), POLLIN, 0}, {in.get(), POLLOUT, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents) {
            char buffer[4096];
            ssize_t n = read(err.get(), buffer, sizeof buffer);
            if (n > 0 && stderr_text.size() < kMaxStderr) stderr_text.append(buffer, static_cast<std::size_t>(n));
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) err.reset();
        }
        if (fds[1].revents) {
            ssize_t n = write(in.get(), input.data() + written, input.size() - written);
            if (n > 0) written += static_cast<std::size_t>(n);
            if (written == input.size() || (n < 0 && errno != EINTR && errno != EAGAIN)) in.reset();
        }
    }
}

}  // namespace

ChildOutcome run_child(const std::vector<std::string>& argv, const std::string& input, ChildRegistry& children) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    ChildOutcome outcome;
    GPid pid = 0;
    gint stdin_fd = -1, stderr_fd = -1;
    GError* error = nullptr;
    auto flags =
        static_cast<GSpawnFlags>(G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_CLOEXEC_PIPES);
    if (!g_spawn_async_with_pipes_and_fds(nullptr, args.data(), nullptr, flags, prepare_child, nullptr, -1, -1, -1,
                                          nullptr, nullptr, 0, &pid, &stdin_fd, nullptr, &stderr_fd, &error)) {
        outcome.error = error ? error->message : "unknown error";
        if (error) g_error_free(error);
        return outcome;
    }
    outcome.started = true;
    if (!children.add(pid)) ::kill(-pid, SIGTERM);  // shutdown began meanwhile

    UniqueFd in(stdin_fd), err(stderr_fd);
    exchange(in, err, input, outcome.stderr_text);

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

}  // namespace clsync
