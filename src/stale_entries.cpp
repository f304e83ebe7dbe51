#include "stale_entries.h"

#include <fcntl.h>
#include <glib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "content_signature.h"
#include "log.h"
#include "scanner.h"
#include "unique_fd.h"

namespace clsync {
namespace {

// Deeper than this below a complete directory, everything stays (no stack to spare).
constexpr int kMaxDepth = 256;

class StaleRemover {
public:
    StaleRemover(const SettledBatch& batch, ExpectedChanges& expected) : batch_(batch), expected_(expected) {}

    // Removes the stale entries below the open directory `dir_fd` at `dir`; whether it
    // is empty now (of what this looked at).
    bool clear(int dir_fd, const std::string& dir, int depth) {
        std::optional<std::vector<std::string>> names = names_in(dir_fd);
        if (!names) return false;
        bool all_gone = true;
        for (const std::string& name : *names)
            all_gone = remove_if_stale(dir_fd, join_path(dir, name), name, depth) && all_gone;
        return all_gone;
    }

    std::size_t removed() const { return removed_; }

private:
    bool remove_if_stale(int dir_fd, const std::string& path, const std::string& name, int depth) {
        if (batch_.named.count(path)) return false;
        EntryState state = entry_state(dir_fd, name.c_str());
        if (!is_peers_unchanged_write(path, state)) return false;
        if (state.directory) {
            if (depth >= kMaxDepth) return false;
            UniqueFd sub(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub.valid() || !clear(sub.get(), path, depth + 1)) return false;
        }
        if (unlinkat(dir_fd, name.c_str(), state.directory ? AT_REMOVEDIR : 0) != 0) {
            log_debug("cluster: cannot remove '%s' (stale, from node %s): %s", printable(path).c_str(),
                      printable(batch_.node).c_str(), strerror(errno));
            return false;
        }
        // The peer's deletion, not ours: the watcher's event for it reaches this (the
        // main) thread only after this returns.
        expected_.expect(batch_.node, {{path, true, 0}}, Clock::now(), g_get_real_time());
        log_debug("cluster: removed '%s': node %s wrote it here and no longer has it", printable(path).c_str(),
                  printable(batch_.node).c_str());
        ++removed_;
        return true;
    }

    // What the batch's node announced for `path` before the batch and wrote here (not
    // what it announced because it had it from this node), unchanged here since.
    bool is_peers_unchanged_write(const std::string& path, const EntryState& state) const {
        if (state.kind != EntryState::Kind::Present) return false;
        std::optional<Expectation> e = expected_.find(path, Clock::now());
        return e && e->node == batch_.node && !e->deleted && e->landed && e->announced_at_us < batch_.announced_at_us &&
               e->matches(false, state.signature);
    }

    const SettledBatch& batch_;
    ExpectedChanges& expected_;
    std::size_t removed_ = 0;
};

}  // namespace

std::size_t remove_stale_entries(const std::string& watch_dir, const SettledBatch& batch, ExpectedChanges& expected) {
    StaleRemover remover(batch, expected);
    for (const std::string& top : batch.complete) {
        UniqueFd dir = open_directory(watch_dir, top);
        if (dir.valid()) remover.clear(dir.get(), top, 0);
    }
    if (remover.removed())
        log_info("cluster: removed %zu entries that node %s wrote here and no longer has", remover.removed(),
                 printable(batch.node).c_str());
    return remover.removed();
}

}  // namespace clsync
