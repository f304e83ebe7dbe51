#include "cluster_runner.h"

#include <sys/stat.h>

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

bool ClusterRunner::delivered_by_writer(const std::string& path) const {
    std::optional<Expectation> e = expected_.find(path, Clock::now());
    if (!e || e->deleted) return false;
    // rsync sets the mtime of its temporary file before renaming it: a file written
    // here since has its mtime at its ctime.
    struct stat st;
    if (lstat((watch_dir_ + '/' + path).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    return st.st_mtim.tv_sec != st.st_ctim.tv_sec || st.st_mtim.tv_nsec != st.st_ctim.tv_nsec;
}

bool ClusterRunner::changed_here_since(const std::string& path, std::int64_t since_us) const {
    // Made (or moved) here after the peer deleted it: a rename or a creation sets the
    // ctime; the newer change wins.
    struct stat st;
    if (lstat((watch_dir_ + '/' + path).c_str(), &st) != 0) return false;
    std::int64_t changed_us = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000 + st.st_ctim.tv_nsec / 1000;
    return changed_us >= since_us;
}

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
    kept.peer_deleted = peer_deletions_below(kept);
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
    // A rename the peer made itself is in place there already; the others are
    // replayed, in their order. A peer's writer renaming its temporary file into place
    // delivered that file, whatever it holds: a copy torn by a write at the peer during
    // the transfer differs from the notice, and must not go back over the newer file
    // (the peer syncs that one next).
    std::unordered_set<std::string> delivered;
    kept.renames.clear();
    TimePoint now = Clock::now();
    for (const Rename& r : batch.renames) {
        if (expected_.is_writer_temp(r.from, now) && delivered_by_writer(r.to)) {
            delivered.insert(r.to);
            left_out += 2;
        } else if (is_echo(r.from, true) && is_echo(r.to, true)) {
            left_out += 2;
        } else {
            kept.renames.push_back(r);
        }
    }
    kept.paths.clear();
    for (const QueuedPath& p : batch.paths) {
        if (delivered.count(p.path) || is_echo(p.path, p.recursive))
            ++left_out;
        else
            kept.paths.push_back(p);
    }
    // A path a peer deleted here is the peer's deletion, not ours to pass on (the
    // peer may have made something new under that name since).
    kept.deletion_candidates.clear();
    for (const std::string& path : batch.deletion_candidates)
        if (!is_echo(path, false)) kept.deletion_candidates.push_back(path);
    return kept;
}

std::vector<std::string> ClusterRunner::peer_deletions_below(const Batch& batch) const {
    // A recursive sync adds what the peer lacks; what it lacks because it deleted it
    // (and announced so) must not come back. A path this batch lists itself changed
    // here since: that change is synced.
    std::vector<std::string> roots;
    if (batch.full_tree) roots.push_back("");
    for (const QueuedPath& p : batch.paths)
        if (p.recursive) roots.push_back(p.path);
    for (const Rename& r : batch.renames) roots.push_back(r.to);
    std::unordered_set<std::string> listed;
    for (const QueuedPath& p : batch.paths) listed.insert(p.path);
    std::vector<std::string> deleted;
    TimePoint now = Clock::now();
    for (const std::string& root : roots)
        for (auto& [path, announced_at_us] : expected_.deleted_below(root, kMaxPeerDeletions - deleted.size(), now))
            if (!listed.count(path) && !changed_here_since(path, announced_at_us)) deleted.push_back(std::move(path));
    return deleted;
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
