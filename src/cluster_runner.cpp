#include "cluster_runner.h"

#include <unordered_set>

#include "content_signature.h"
#include "log.h"
#include "scanner.h"

namespace clsync {
namespace {

// Calls visit(path, state) for `start` and, if it is a directory, everything below
// it, until visit returns false.
void walk_states(const std::string& root, const std::string& start,
                 const std::function<bool(const std::string&, const EntryState&)>& visit) {
    EntryState top = path_state(root, start);
    if (!visit(start, top) || !top.directory) return;
    bool going = true;
    walk_directories(
        root, start,
        [&](const std::string& path, int dir_fd) {
            if (!going) return false;
            if (path != start) going = visit(path, entry_state(dir_fd, "."));
            return going;
        },
        {},
        [&](const std::string& dir, int dir_fd, const char* name) {
            if (going) going = visit(join_path(dir, name), entry_state(dir_fd, name));
        });
}

}  // namespace

ClusterRunner::ClusterRunner(std::unique_ptr<SyncRunner> inner, std::string watch_dir, std::string destination,
                             ClusterNotifier& notifier, const ExpectedChanges& expected)
    : inner_(std::move(inner)),
      watch_dir_(std::move(watch_dir)),
      destination_(std::move(destination)),
      notifier_(notifier),
      expected_(expected) {}

Batch ClusterRunner::needed(const Batch& batch) const {
    std::size_t left_out = 0;
    Batch kept = without_echoes(batch, left_out);
    if (left_out) {
        notifier_.count_echoes(left_out);
        log_info("%zu changed paths are what other nodes wrote: not synced back to %s", left_out, destination_.c_str());
    }
    return kept;
}

SyncResult ClusterRunner::run(const Batch& batch) const {
    notifier_.notify(notice_entries(batch));
    return inner_->run(batch);
}

bool ClusterRunner::is_echo(const std::string& path, bool recursive) const {
    TimePoint now = Clock::now();
    auto matches = [this, now](const std::string& p, const EntryState& state) {
        if (expected_.is_writer_temp(p, now)) return true;
        std::optional<Expectation> e = expected_.find(p, now);
        if (!e) return false;
        return e->deleted ? state.kind == EntryState::Kind::Absent
                          : state.kind == EntryState::Kind::Present && state.signature == e->signature;
    };
    if (!recursive) {
        // Cheap first: most paths were never announced, and need no signature.
        if (!expected_.is_writer_temp(path, now) && !expected_.find(path, now)) return false;
        return matches(path, path_state(watch_dir_, path));
    }
    bool all = true;
    walk_states(watch_dir_, path,
                [&](const std::string& p, const EntryState& state) { return all = matches(p, state); });
    return all;
}

Batch ClusterRunner::without_echoes(const Batch& batch, std::size_t& left_out) const {
    Batch kept = batch;
    if (batch.full_tree) {
        if (!is_echo("", true)) return kept;
        kept.full_tree = false;
        left_out += 1;
    }
    // Renames are replayed in order, one after the other: all of them are left out, or none.
    bool renames_echo = !batch.renames.empty();
    for (const Rename& r : batch.renames) renames_echo = renames_echo && is_echo(r.from, true) && is_echo(r.to, true);
    if (renames_echo) {
        left_out += 2 * kept.renames.size();
        kept.renames.clear();
    }
    kept.paths.clear();
    for (const QueuedPath& p : batch.paths) {
        if (is_echo(p.path, p.recursive))
            ++left_out;
        else
            kept.paths.push_back(p);
    }
    return kept;
}

std::vector<NoticeEntry> ClusterRunner::notice_entries(const Batch& batch) const {
    std::vector<NoticeEntry> entries;
    std::unordered_set<std::string> seen;
    auto add = [&](const std::string& path, const EntryState& state) {
        if (entries.size() >= kMaxNoticeEntries || state.kind == EntryState::Kind::Unreadable) return;
        if (!seen.insert(path).second) return;
        bool deleted = state.kind == EntryState::Kind::Absent;
        entries.push_back({path.empty() ? kRootWirePath : path, deleted, deleted ? 0 : state.signature});
    };
    auto add_tree = [&](const std::string& path) {
        walk_states(watch_dir_, path, [&](const std::string& p, const EntryState& state) {
            add(p, state);
            return entries.size() < kMaxNoticeEntries;
        });
    };
    // rsync sets the attributes of every directory above a listed path.
    auto add_parents = [&](const std::string& path) {
        for (std::string dir = split_parent(path).first;; dir = split_parent(dir).first) {
            if (!seen.count(dir)) add(dir, path_state(watch_dir_, dir));
            if (dir.empty()) break;
        }
    };
    if (batch.full_tree) add_tree("");
    for (const Rename& r : batch.renames) {
        for (const std::string* name : {&r.from, &r.to}) {
            add_tree(*name);
            add_parents(*name);
        }
    }
    for (const QueuedPath& p : batch.paths) {
        if (p.recursive)
            add_tree(p.path);
        else
            add(p.path, path_state(watch_dir_, p.path));
        if (!p.path.empty()) add_parents(p.path);
    }
    if (entries.size() >= kMaxNoticeEntries)
        log_debug("cluster: only the first %zu paths of the sync to %s are announced", kMaxNoticeEntries,
                  destination_.c_str());
    return entries;
}

}  // namespace clsync
