#include "handler_runner.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <set>

#include "child_process.h"
#include "excluded_paths.h"
#include "file_list.h"
#include "lists_dir.h"
#include "log.h"
#include "rename_replay.h"
#include "scanner.h"
#include "substitute.h"
#include "unsyncable_dirs.h"

namespace clsync {
namespace {

// direct mode splits long lists over several runs, as xargs does, well below the
// kernel's limit for one exec's arguments.
constexpr std::size_t kMaxArgumentBytes = 64 * 1024;

using Values = std::vector<std::pair<std::string, std::string>>;

// A dangling symlink exists too: lstat, not access.
ListedPath look_up(const std::string& root, const std::string& path) {
    struct stat st;
    std::string absolute = path.empty() ? root : root + '/' + path;
    if (lstat(absolute.c_str(), &st) != 0) return {path, false, false};
    return {path, true, S_ISDIR(st.st_mode)};
}

// What no run may touch: directories clsync cannot read.
std::vector<ExcludedPath> unsyncable_excludes(const std::vector<std::string>& unsyncable) {
    std::vector<ExcludedPath> excluded;
    for (const std::string& dir : unsyncable) excluded.push_back({dir, true});
    return excluded;
}
}  // namespace

unsigned event_mask(const ListedPath& path) {
    if (!path.exists) return IN_DELETE;
    return path.is_dir ? IN_CREATE | IN_ISDIR : IN_CLOSE_WRITE;
}

SyncResult HandlerRunner::run(const Batch& batch) const {
    // No rename is replayed: the handler gets the old name (gone) and the new one.
    ReplayedRenames renames = replay_renames(settings_.watch_dir, "", false, batch.renames);
    std::vector<QueuedPath> paths = without_unsyncable(batch.paths, unsyncable_.snapshot());
    for (QueuedPath& p : without_unsyncable(renames.paths, unsyncable_.snapshot())) paths.push_back(std::move(p));
    SyncResult result;
    switch (settings_.mode) {
        case Mode::RsyncShell:
            result = run_rsyncshell(batch, paths);
            break;
        case Mode::Shell:
            result = run_shell(batch, paths);
            break;
        case Mode::Direct:
            result = run_direct(batch, paths);
            break;
        default:
            result = run_simple(batch, paths);
            break;
    }
    result.rename_paths = std::move(renames.paths);
    return result;
}

SyncResult HandlerRunner::run_rsyncshell(const Batch& batch, const std::vector<QueuedPath>& paths) const {
    std::string includes = batch.full_tree ? "/***\n" : rsync_include_rules(paths, '\n');
    std::vector<ExcludedPath> excluded = unsyncable_excludes(unsyncable_.snapshot());
    if (auto rules = rules_for(batch)) {
        std::vector<QueuedPath> roots = batch.full_tree ? std::vector<QueuedPath>{{"", true}} : paths;
        for (ExcludedPath& e : find_excluded(settings_.watch_dir, roots, *rules)) excluded.push_back(std::move(e));
    }
    std::string excludes = rsync_exclude_rules(excluded, '\n', false);
    ListFile include_list = lists_.write(settings_.label, "include", includes);
    ListFile exclude_list = lists_.write(settings_.label, "exclude", excludes);
    return run_handler(batch, {"rsynclist", "%label%", "%INCLUDE-LIST-PATH%", "%EXCLUDE-LIST-PATH%"},
                       {{"INCLUDE-LIST-PATH", include_list.path()}, {"EXCLUDE-LIST-PATH", exclude_list.path()}});
}

SyncResult HandlerRunner::run_shell(const Batch& batch, const std::vector<QueuedPath>& paths) const {
    // The whole tree in one recursive call, unless rules must leave parts of it out:
    // then every included path is listed, as for any batch.
    if (batch.full_tree && !rules_for(batch))
        return run_handler(batch, {"initialsync", "%label%", "%INCLUDE-LIST%"},
                           {{"INCLUDE-LIST", settings_.watch_dir}, {"TYPE", "initialsync"}});
    std::string list;
    for (const ListedPath& p : listed_paths(batch, batch.full_tree ? std::vector<QueuedPath>{{"", true}} : paths)) {
        if (p.path.find('\n') != std::string::npos) {
            // One line per path: such a name would inject lines of its own.
            log_warning("'%s' has a newline in its name: left out of the shell mode list", printable(p.path).c_str());
            continue;
        }
        if (!settings_.synclist_simplify) list += "sync " + settings_.label + ' ' + std::to_string(event_mask(p)) + ' ';
        list += p.path + '\n';
    }
    ListFile list_file = lists_.write(settings_.label, "sync", list);
    return run_handler(batch, {"synclist", "%label%", "%INCLUDE-LIST-PATH%"},
                       {{"INCLUDE-LIST-PATH", list_file.path()}, {"TYPE", "sync"}});
}

SyncResult HandlerRunner::run_direct(const Batch& batch, const std::vector<QueuedPath>& paths) const {
    std::vector<QueuedPath> all = batch.full_tree ? std::vector<QueuedPath>{{"", true}} : paths;
    std::vector<std::string> chunk;
    std::size_t chunk_bytes = 0;
    SyncResult result;
    result.outcome = RsyncOutcome::Complete;
    auto flush = [&] {
        if (chunk.empty() || result.outcome != RsyncOutcome::Complete) return;
        result = run_handler(batch, {"%INCLUDE-LIST%", "%destination-dir%/"}, {}, chunk);
        chunk.clear();
        chunk_bytes = 0;
    };
    for (const ListedPath& p : listed_paths(batch, all)) {
        if (p.path.empty()) continue;
        if (chunk_bytes + p.path.size() + 1 > kMaxArgumentBytes) flush();
        chunk.push_back(p.path);
        chunk_bytes += p.path.size() + 1;
    }
    flush();
    return result;
}

SyncResult HandlerRunner::run_simple(const Batch& batch, const std::vector<QueuedPath>& paths) const {
    std::vector<QueuedPath> all = batch.full_tree ? std::vector<QueuedPath>{{"", true}} : paths;
    SyncResult result;
    result.outcome = RsyncOutcome::Complete;
    for (const ListedPath& p : listed_paths(batch, all)) {
        std::string absolute = p.path.empty() ? settings_.watch_dir : settings_.watch_dir + '/' + p.path;
        result = run_handler(batch, {"sync", "%label%", "%EVENT-MASK%", "%INCLUDE-LIST%"},
                             {{"INCLUDE-LIST", absolute}, {"EVENT-MASK", std::to_string(event_mask(p))}});
        if (result.outcome != RsyncOutcome::Complete) break;
    }
    return result;
}

std::shared_ptr<const RuleSet> HandlerRunner::rules_for(const Batch& batch) const {
    if (!settings_.rules || (batch.initial_sync && settings_.full_initialsync)) return nullptr;
    auto rules = settings_.rules->get();
    return rules->empty() ? nullptr : rules;
}

std::vector<ListedPath> HandlerRunner::listed_paths(const Batch& batch, const std::vector<QueuedPath>& paths) const {
    std::shared_ptr<const RuleSet> rules = rules_for(batch);
    std::vector<ListedPath> listed;
    std::set<std::string> seen;
    auto add = [&listed, &seen](ListedPath p) {
        if (seen.insert(p.path).second) listed.push_back(std::move(p));
    };
    for (const QueuedPath& q : paths) {
        ListedPath top = look_up(settings_.watch_dir, q.path);
        add(top);
        if (!q.recursive || !top.is_dir) continue;
        walk_directories(
            settings_.watch_dir, q.path,
            [&add, &rules, &q](const std::string& dir, int) {
                if (dir != q.path && rules && !rules->dir_included(dir)) return false;
                add({dir, true, true});
                return true;
            },
            {},
            [&add, &rules](const std::string& dir, int, const char* name) {
                std::string path = join_path(dir, name);
                if (!rules || rules->file_included(path)) add({std::move(path), true, false});
            });
    }
    return listed;
}

SyncResult HandlerRunner::run_handler(const Batch& batch, const std::vector<std::string>& defaults,
                                      const Values& values, const std::vector<std::string>& include_list) const {
    Values all = values;
    all.insert(
        all.end(),
        {{"label", settings_.label}, {"watch-dir", settings_.watch_dir}, {"destination-dir", settings_.destination}});
    auto lookup = [&all](const std::string& name, std::string& out) {
        for (const auto& [key, value] : all)
            if (key == name) {
                out = value;
                return true;
            }
        return false;
    };
    ChildSpec spec;
    spec.argv.push_back(settings_.handler);
    for (const std::string& arg : settings_.arguments.empty() ? defaults : settings_.arguments) {
        std::string unused;
        if (arg == "%INCLUDE-LIST%" && !lookup("INCLUDE-LIST", unused))
            spec.argv.insert(spec.argv.end(), include_list.begin(), include_list.end());
        else
            spec.argv.push_back(substitute(arg, lookup));
    }
    spec.working_dir = settings_.watch_dir;
    spec.environment = {{"CLSYNC_STATUS", batch.initial_sync ? "initsync" : "running"},
                        {"CLSYNC_ITERATION", std::to_string(batch.iteration)},
                        {"CLSYNC_LABEL", settings_.label},
                        {"CLSYNC_WATCH_DIR", settings_.watch_dir}};
    spec.timeout = settings_.timeout;
    ChildOutcome child = run_child(spec, children_);

    SyncResult result;
    result.exit_code = child.exit_code;
    result.message = trimmed(child.stderr_text);
    bool ok = child.started && !child.timed_out &&
              (child.exit_code == 0 || is_ignored_exit_code(settings_.ignored_exit_codes, child.exit_code));
    if (!ok) result.message += (result.message.empty() ? "" : "; ") + settings_.handler + ": " + describe_exit(child);
    if (ok && !result.message.empty()) log_debug("%s said: %s", settings_.handler.c_str(), result.message.c_str());
    result.outcome = ok ? RsyncOutcome::Complete : RsyncOutcome::Failed;
    return result;
}

}  // namespace clsync
