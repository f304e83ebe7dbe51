#include "rsync_runner.h"

#include "file_list.h"
#include "glib_ptr.h"
#include "log.h"

#include <csignal>
#include <sys/stat.h>
#include <cstdlib>
#include <unistd.h>
#include <vector>

namespace clsync {
namespace {

// Runs in the child before exec: its own process group (so shutdown can stop it and
// its helpers), and none of the daemon's blocked signals.
void prepare_child(gpointer) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

std::string trimmed(const std::string& text) {
    auto end = text.find_last_not_of(" \n\t");
    return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

// rsync -H links only the files it transfers together; a changed file with other
// names elsewhere in the tree needs them in the same run, and finding them takes a walk.
bool has_multilinked_file(const std::string& root, const std::vector<QueuedPath>& paths) {
    for (const QueuedPath& p : paths) {
        struct stat st;
        std::string absolute = root + '/' + p.path;
        if (!p.path.empty() && lstat(absolute.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1)
            return true;
    }
    return false;
}

}  // namespace

bool rsync_exit_is_success(int exit_code) {
    return exit_code == 0 || exit_code == 24;  // 24: some files vanished before they could be sent
}

SyncResult RsyncRunner::run(const Batch& batch) const {
    // --modify-window=-1: nanoseconds count when comparing times; otherwise rsync leaves a
    // directory (or a same-size file) alone whose time differs only below the second.
    // --timeout: a run that moves no data for that long is stuck (rsync has been seen
    // to deadlock on a tree changing under it); it exits with code 30 and is retried.
    std::vector<const char*> argv = {settings_.rsync_binary.c_str(), "-aH", "--delete", "--force",
                                     "--modify-window=-1", "--timeout=30", "--no-inc-recursive"};
    std::string rules;
    bool whole_tree = batch.full_tree || has_multilinked_file(settings_.source, batch.paths);
    if (whole_tree && !batch.full_tree) log_debug("batch has a hard-linked file: syncing the whole tree");
    if (!whole_tree) {
        rules = rsync_include_rules(batch.paths);
        // Every listed path had an event: copy it even if size and time look unchanged
        // (two writes within one timestamp tick).
        argv.insert(argv.end(), {"--ignore-times", "--from0", "--include-from=-", "--exclude=*"});
    }
    std::string source = settings_.source + '/';
    std::string destination = settings_.destination + '/';
    argv.insert(argv.end(), {"--", source.c_str(), destination.c_str(), nullptr});

    GObjectPtr<GSubprocessLauncher> launcher(g_subprocess_launcher_new(static_cast<GSubprocessFlags>(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE)));
    g_subprocess_launcher_set_child_setup(launcher.get(), prepare_child, nullptr, nullptr);

    SyncResult result;
    GError* raw_error = nullptr;
    GObjectPtr<GSubprocess> child(g_subprocess_launcher_spawnv(launcher.get(), argv.data(), &raw_error));
    if (!child) {
        GErrorPtr error(raw_error);
        result.message = std::string("cannot run ") + settings_.rsync_binary + ": " + error->message;
        return result;
    }
    pid_t pid = static_cast<pid_t>(std::atoi(g_subprocess_get_identifier(child.get())));
    if (!children_.add(pid)) ::kill(-pid, SIGTERM);

    GBytesPtr input(g_bytes_new(rules.data(), rules.size()));
    GBytes* raw_stderr = nullptr;
    gboolean communicated = g_subprocess_communicate(child.get(), input.get(), nullptr, nullptr, &raw_stderr, &raw_error);
    GBytesPtr stderr_bytes(raw_stderr);
    if (!communicated) {
        GErrorPtr error(raw_error);
        g_subprocess_force_exit(child.get());
        g_subprocess_wait(child.get(), nullptr, nullptr);
        result.message = std::string("talking to rsync: ") + error->message;
    }
    children_.remove(pid);

    if (stderr_bytes) {
        gsize size = 0;
        const char* data = static_cast<const char*>(g_bytes_get_data(stderr_bytes.get(), &size));
        if (result.message.empty()) result.message = trimmed(std::string(data ? data : "", size));
    }
    if (g_subprocess_get_if_exited(child.get())) result.exit_code = g_subprocess_get_exit_status(child.get());
    else if (g_subprocess_get_if_signaled(child.get()))
        result.message += " (rsync killed by signal " + std::to_string(g_subprocess_get_term_sig(child.get())) + ")";
    result.ok = communicated && rsync_exit_is_success(result.exit_code);
    return result;
}

}  // namespace clsync
