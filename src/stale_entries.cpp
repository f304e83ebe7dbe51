#include "stale_entries.h"

#include <glib.h>

#include "content_signature.h"
#include "log.h"
#include "scanner.h"
#include "tree_pruner.h"
#include "unique_fd.h"

namespace clsync {
namespace {

// What the batch's node announced for `path` before the batch and wrote here (not
// what it announced because it had it from this node), unchanged here since.
bool is_peers_unchanged_write(const SettledBatch& batch, const ExpectedChanges& expected, const std::string& path,
                              const EntryState& state) {
    if (state.kind != EntryState::Kind::Present) return false;
    std::optional<Expectation> e = expected.find(path, Clock::now());
    return e && e->node == batch.node && !e->deleted && e->landed && e->announced_at_us < batch.announced_at_us &&
           e->matches(false, state.signature);
}

}  // namespace

std::size_t remove_stale_entries(const std::string& watch_dir, const SettledBatch& batch, ExpectedChanges& expected) {
    TreePruner pruner(
        [&](int dir_fd, const std::string& name, const std::string& path) {
            if (batch.named.count(path)) return PruneVerdict{};
            EntryState state = entry_state(dir_fd, name.c_str());
            if (!is_peers_unchanged_write(batch, expected, path, state)) return PruneVerdict{};
            return PruneVerdict{PruneVerdict::Action::Remove, state.directory};
        },
        [&](const std::string& path) {
            // The peer's deletion, not ours: the watcher's event for it reaches this (the
            // main) thread only after this returns.
            expected.expect(batch.node, {{path, true, 0}}, Clock::now(), g_get_real_time());
            log_debug("cluster: removed '%s': node %s wrote it here and no longer has it", printable(path).c_str(),
                      printable(batch.node).c_str());
        });
    for (const std::string& top : batch.complete) {
        UniqueFd dir = open_directory(watch_dir, top);
        if (dir.valid()) pruner.clear(dir.get(), top);
    }
    if (pruner.count())
        log_info("cluster: removed %zu entries that node %s wrote here and no longer has", pruner.count(),
                 printable(batch.node).c_str());
    return pruner.count();
}

}  // namespace clsync
