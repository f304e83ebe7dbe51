#include "rsync_runner.h"

#include <sys/stat.h>

#include <vector>

#include "child_process.h"
#include "file_list.h"
#include "log.h"
#include "rsync_errors.h"
#include "unreadable_dirs.h"

namespace clsync {
namespace {

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
        if (!p.path.empty() && lstat(absolute.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1) return true;
    }
    return false;
}

}  // namespace

SyncResult RsyncRunner::run(const Batch& batch) const {
    // --modify-window=-1: nanoseconds count when comparing times; otherwise rsync leaves a
    // directory (or a same-size file) alone whose time differs only below the second.
    // --no-inc-recursive: with incremental recursion rsync was seen to deadlock on hard
    // links in a tree changing under it. --timeout: a run moving no data for that long
    // exits (code 30) and is retried.
    std::vector<std::string> argv = {settings_.rsync_binary, "-aH",         "--delete", "--force", "--modify-window=-1",
                                     "--no-inc-recursive",   "--timeout=30"};
    // Before the include rules: the first matching rule wins.
    for (const std::string& dir : unreadable_.snapshot()) argv.push_back("--exclude=" + rsync_pattern(dir, "/"));
    std::string rules;
    bool whole_tree = batch.full_tree || has_multilinked_file(settings_.source, batch.paths);
    if (whole_tree && !batch.full_tree) log_debug("batch has a hard-linked file: syncing the whole tree");
    if (!whole_tree) {
        rules = rsync_include_rules(batch.paths);
        // Every listed path had an event: copy it even if size and time look unchanged
        // (two writes within one timestamp tick).
        argv.insert(argv.end(), {"--ignore-times", "--from0", "--include-from=-", "--exclude=*"});
    }
    argv.insert(argv.end(), {"--", settings_.source + '/', settings_.destination + '/'});

    ChildOutcome child = run_child(argv, rules, children_);
    SyncResult result;
    result.exit_code = child.exit_code;
    if (!child.started)
        result.message = "cannot run " + settings_.rsync_binary + ": " + child.error;
    else
        result.message = trimmed(child.stderr_text);
    if (child.term_signal) result.message += " (rsync killed by signal " + std::to_string(child.term_signal) + ")";
    result.ok = child.started && rsync_run_complete(child.exit_code, child.stderr_text);
    return result;
}

}  // namespace clsync
