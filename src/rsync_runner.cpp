#include "rsync_runner.h"

#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "child_process.h"
#include "excluded_paths.h"
#include "file_list.h"
#include "log.h"
#include "path_tree.h"
#include "remote_rename.h"
#include "rename_replay.h"
#include "rsync_errors.h"
#include "scanner.h"
#include "unsyncable_dirs.h"

namespace clsync {
namespace {

// A file in $TMPDIR for a child to write, removed with this.
class TempFile {
public:
    explicit TempFile(const char* name_template) {
        gchar* path = nullptr;
        GError* error = nullptr;
        int fd = g_file_open_tmp(name_template, &path, &error);
        if (fd < 0) {
            log_debug("cannot make a temporary file: %s", error->message);
            g_error_free(error);
            return;
        }
        close(fd);
        path_ = path;
        g_free(path);
    }
    ~TempFile() {
        if (!path_.empty()) unlink(path_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }  // empty: none could be made
    // Empty if there is none, or more than `max_bytes`.
    std::string contents(std::size_t max_bytes) const {
        struct stat st;
        if (path_.empty() || stat(path_.c_str(), &st) != 0 || static_cast<std::size_t>(st.st_size) > max_bytes)
            return {};
        gchar* text = nullptr;
        gsize size = 0;
        if (!g_file_get_contents(path_.c_str(), &text, &size, nullptr)) return {};
        std::string s(text, size);
        g_free(text);
        return s;
    }

private:
    std::string path_;
};

// The remote shell's words (empty command: "ssh"); false if it does not parse (which
// options.cpp refuses at start).
bool parse_ssh_command(const std::string& ssh_command, std::vector<std::string>& argv) {
    gchar** words = nullptr;
    if (!g_shell_parse_argv(ssh_command.empty() ? "ssh" : ssh_command.c_str(), nullptr, &words, nullptr)) return false;
    for (gchar** w = words; *w; ++w) argv.emplace_back(*w);
    g_strfreev(words);
    return true;
}

// Runs remote_rename_script over `ssh_command` (empty: "ssh"); which renames were applied.
std::vector<bool> rename_remotely(const std::string& ssh_command, const std::string& destination,
                                  const std::vector<Rename>& renames, Millis timeout, ChildRegistry& children) {
    if (renames.empty()) return {};
    ChildSpec spec;
    if (!parse_ssh_command(ssh_command, spec.argv)) return std::vector<bool>(renames.size(), false);
    SshDestination d = split_ssh_destination(destination);
    // The remote command is read by the remote user's shell; the script by sh.
    spec.argv.insert(spec.argv.end(), {d.host, "sh -s"});
    spec.input = remote_rename_script(d.path, renames);
    spec.timeout = timeout;
    ChildOutcome outcome = run_child(spec, children);
    std::vector<bool> applied = applied_renames(outcome.stderr_text, renames.size());
    if (outcome.exit_code != 0)
        log_debug("renaming at %s: %s: %s (copying instead)", d.host.c_str(), describe_exit(outcome).c_str(),
                  outcome.stderr_text.c_str());
    return applied;
}

// In a cluster (RsyncSettings::cluster) --delete removes only what was deleted here:
// each path an event named (Batch::deletion_candidates, and the batch's own paths)
// that the source no longer has is at risk ("R"), and so is whatever the peer holds
// below a listed path that is not a directory here (it must make way); everything
// else is protected ("P *"). Receiver-side rules, ahead of the include list: a
// whole-tree run adds what the peer lacks and deletes nothing, and a directory's
// recursive sync keeps what the peer wrote into it meanwhile. A path deleted here
// before a rename of its directory is, after the replay of that rename, under the new
// name at the peer: it is at risk under both.
std::string cluster_deletion_rules(const std::string& source, const std::vector<QueuedPath>& paths,
                                   const std::vector<DeletionCandidate>& candidates,
                                   const std::vector<Rename>& renames) {
    std::string rules;
    auto risk = [&rules](const std::string& path, const char* suffix) {
        rules += "R " + rsync_pattern(path, suffix) + '\0';
    };
    std::unordered_set<std::string> done;
    auto look_at = [&](const std::string& path) {
        if (path.empty() || !done.insert(path).second) return;
        if (is_absent(source, path)) {
            risk(path, "");
            risk(path, "/***");
        } else if (!is_directory(source, path)) {
            risk(path, "/***");
        }
    };
    for (const QueuedPath& p : paths) look_at(p.path);
    for (const DeletionCandidate& c : candidates) {
        look_at(c.path);
        std::string moved = c.path;
        for (const Rename& r : renames) follow_rename(r, moved);
        look_at(moved);
    }
    return rules + "P *" + '\0';
}

// "+ " before each NUL-terminated include rule, for a merged filter list (which,
// unlike --include-from, takes every kind of rule).
std::string as_include_rules(const std::string& rules) {
    std::string prefixed;
    prefixed.reserve(rules.size() + rules.size() / 8);
    for (std::size_t start = 0; start < rules.size();) {
        std::size_t end = rules.find('\0', start);
        prefixed += "+ " + rules.substr(start, end + 1 - start);
        start = end + 1;
    }
    return prefixed;
}

}  // namespace

std::optional<bool> RsyncRunner::reachable() const {
    ChildSpec spec;
    spec.timeout = Millis(15000);
    const std::string& d = settings_.destination;
    if (settings_.ssh_command) {
        if (!parse_ssh_command(*settings_.ssh_command, spec.argv)) return std::nullopt;
        spec.argv.insert(spec.argv.end(), {split_ssh_destination(d).host, "true"});
    } else if (d.compare(0, 8, "rsync://") == 0) {
        // rsync://host[:port]/module/path -> rsync://host[:port]/ (the module list)
        spec.argv = {settings_.rsync_binary, "--timeout=10", d.substr(0, d.find('/', 8) + 1)};
    } else {
        return std::nullopt;
    }
    return run_child(spec, children_).exit_code == 0;
}

SyncResult RsyncRunner::run(const Batch& batch) const {
    std::vector<bool> applied_remotely;
    if (settings_.ssh_command)
        applied_remotely =
            rename_remotely(*settings_.ssh_command, settings_.destination, batch.renames, settings_.timeout, children_);
    ReplayedRenames replayed = replay_renames(settings_.source, settings_.destination, settings_.local_destination,
                                              batch.renames, applied_remotely);
    SyncResult result = run_rsync(batch, replayed.paths);
    if (settings_.cluster && !replayed.replaced.empty() && result.outcome == RsyncOutcome::Complete) {
        // A file renamed over another here replaced it: the destination's copy of the
        // name goes even if its mtime is newer (the renamed file kept its older one).
        Batch replaced;
        replaced.overwrite_newer = true;
        for (const std::string& name : replayed.replaced) replaced.paths.push_back({name, false});
        log_debug("%zu files renamed over others here: copied to %s even where its copy is newer",
                  replaced.paths.size(), settings_.destination.c_str());
        fold_rerun(result, run_rsync(replaced, {}));
    }
    result.rename_paths = std::move(replayed.paths);
    result.renames_applied = replayed.applied;
    result.renames_replayed = std::move(replayed.each);
    return result;
}

SyncResult RsyncRunner::run_rsync(const Batch& batch, const std::vector<QueuedPath>& rename_paths) const {
    // --modify-window=-1: nanoseconds count when comparing times; otherwise rsync leaves a
    // directory (or a same-size file) alone whose time differs only below the second.
    // --no-inc-recursive: with incremental recursion rsync was seen to deadlock on hard
    // links in a tree changing under it. --timeout: a run moving no data for that long
    // exits (code 30) and is retried. --stderr=all: every message (such as "skipping
    // file deletion") reaches the classifier.
    std::vector<std::string> argv = {
        settings_.rsync_binary, "-aH",          "--delete",     "--force", "--modify-window=-1",
        "--no-inc-recursive",   "--timeout=30", "--stderr=all", "--mkpath"};
    // -x keeps rsync on the watch dir's file system; -xx also leaves out mount points.
    if (settings_.one_file_system) argv.push_back(settings_.exclude_mount_points ? "-xx" : "-x");
    // Before the include rules: the first matching rule wins.
    std::vector<std::string> unsyncable = unsyncable_.snapshot();
    for (const std::string& dir : unsyncable) argv.push_back("--exclude=" + rsync_pattern(dir, "/"));
    for (const std::string& path : batch.excluded) argv.push_back("--exclude=" + rsync_pattern(path, ""));
    static const std::string too_deep = "--exclude=" + rsync_depth_limit_pattern();
    argv.push_back(too_deep);
    std::vector<QueuedPath> paths = batch.paths;
    paths.insert(paths.end(), rename_paths.begin(), rename_paths.end());
    paths = without_unsyncable(std::move(paths), unsyncable);
    bool whole_tree = batch.full_tree || has_multilinked_file(settings_.source, paths);
    if (whole_tree && !batch.full_tree) log_debug("batch has a hard-linked file: syncing the whole tree");
    // What the rules exclude below the run's directories: "- " rules before the includes.
    std::string rules;
    if (settings_.rules && !(batch.initial_sync && settings_.full_initialsync)) {
        std::vector<QueuedPath> roots = whole_tree ? std::vector<QueuedPath>{{"", true}} : paths;
        auto rule_set = settings_.rules->get();
        std::vector<ExcludedPath> excluded = find_excluded(settings_.source, roots, *rule_set);
        // What the rules exclude is left alone at the destination, also where the source
        // has nothing of that name (rsync --delete would remove it otherwise).
        if (settings_.local_destination)
            for (ExcludedPath& e : find_excluded(settings_.destination, roots, *rule_set))
                excluded.push_back(std::move(e));
        rules = rsync_exclude_rules(excluded, '\0', true);
    }
    std::string includes = whole_tree ? std::string() : rsync_include_rules(paths);
    // Every listed path had an event: copy it even if size and time look unchanged
    // (two writes within one timestamp tick).
    if (!whole_tree) argv.push_back("--ignore-times");
    if (settings_.cluster) {
        // The newest mtime wins: a peer's file changed after ours is not overwritten.
        // Not with --modify-window=-1: rsync 3.5.0 then overwrites a file up to about
        // 2 s newer (tests/system/cluster.py, scenario 7); whole seconds compare right.
        argv.erase(std::find(argv.begin(), argv.end(), "--modify-window=-1"));
        // --info=skip1: what --update left alone is named (kept_newer_paths).
        if (!batch.overwrite_newer) argv.insert(argv.end(), {"--update", "--info=skip1"});
        if (batch.existing_only) argv.push_back("--existing");
        argv.insert(argv.end(), {"--from0", "--filter=. -"});
        rules = cluster_deletion_rules(settings_.source, paths, batch.deletion_candidates, batch.renames) + rules +
                as_include_rules(includes);
    } else if (!whole_tree || !rules.empty()) {
        argv.insert(argv.end(), {"--from0", "--include-from=-"});
        rules += includes;
    }
    if (!whole_tree) argv.push_back("--exclude=*");
    if (settings_.ssh_command && !settings_.ssh_command->empty()) argv.push_back("--rsh=" + *settings_.ssh_command);
    argv.insert(argv.end(), {"--", settings_.source + '/', settings_.destination + '/'});

    // A cluster node takes back what it wrote to a peer and no longer has (own_writes.h):
    // rsync's log says what it wrote, even what the source held only while it ran.
    std::optional<TempFile> log;
    if (settings_.cluster && settings_.local_destination) {
        log.emplace("clsync-rsync-XXXXXX.log");
        if (log->path().empty()) {
            log.reset();
        } else {
            argv.insert(argv.end() - 3,
                        {"--log-file=" + log->path(), std::string("--log-file-format=") + kRsyncLogFormat});
        }
    }
    ChildSpec spec{std::move(argv), std::move(rules), {}, {}, settings_.timeout};
    ChildOutcome child = run_child(spec, children_);
    SyncResult result;
    // (A whole-tree run of a big tree writes more than is worth keeping: own_writes.h.)
    constexpr std::size_t kMaxLogBytes = 32 << 20;
    if (log) result.written = written_paths_in_log(log->contents(kMaxLogBytes));
    result.exit_code = child.exit_code;
    if (settings_.cluster) result.kept_newer = kept_newer_paths(child.stderr_text);
    result.message = trimmed(child.stderr_text);
    if (!child.started || child.exit_code < 0 || child.timed_out)
        result.message += " (rsync " + describe_exit(child) + ")";
    if (!child.started || child.timed_out) return result;
    bool accepted = is_ignored_exit_code(settings_.ignored_exit_codes, child.exit_code);  // -x
    result.outcome = accepted ? RsyncOutcome::Complete : classify_rsync_run(child.exit_code, child.stderr_text);
    result.source_changed = !accepted && child.exit_code != 0 && result.outcome == RsyncOutcome::Complete;
    return result;
}

}  // namespace clsync
