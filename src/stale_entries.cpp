#include "stale_entries.h"

#include <glib.h>

#include "content_signature.h"
#include "log.h"
#include "scanner.h"
#include "tree_pruner.h"
#include "unique_fd.h"

namespace clsync {
namespace {

// Why `path` is not what the batch's node announced for it before the batch and wrote
// here (not what it announced because it had it from this node), unchanged here since;
// nullptr if it is.
const char* why_not_peers_unchanged_write(const SettledBatch& batch, const ExpectedChanges& expected,
                                          const std::string& path, const EntryState& state) {
    if (state.kind != EntryState::Kind::Present) return "gone";
    std::optional<Expectation> e = expected.find(path, Clock::now());
    if (!e) {
        // Moved here by the node's renames under a name no notice named (moved_by_peer):
        // its write, if it holds what the node had under the earlier name.
        std::optional<Expectation> moved = expected.moved_by_peer(path, Clock::now());
        if (!moved || moved->node != batch.node) return "no notice names it";
        return moved->once_held(state.signature) ? nullptr : "moved here by the node's renames, changed since";
    }
    if (e->node != batch.node) return "another node announced it";
    if (e->deleted || e->announced_at_us >= batch.announced_at_us) return "not as announced before the batch";
    if (!e->landed) return "the node's write of it never arrived";
    if (!e->matches(false, state.signature)) return "changed here since";
    return nullptr;
}

}  // namespace

std::size_t remove_stale_entries(const std::string& watch_dir, const SettledBatch& batch, ExpectedChanges& expected) {
    TreePruner pruner(
        [&](int dir_fd, const std::string& name, const std::string& path) {
            EntryState state = entry_state(dir_fd, name.c_str());
            // Named: it stays, but below a directory may be what the node no longer has.
            if (batch.named.count(path))
                return state.directory ? PruneVerdict{PruneVerdict::Action::LookInside, true} : PruneVerdict{};
            if (const char* why = why_not_peers_unchanged_write(batch, expected, path, state)) {
                // Kept: a change of this node's, or a stale entry this cannot tell (traces).
                log_debug("cluster: '%s' is not in node %s's copy of its directory, but kept: %s",
                          printable(path).c_str(), printable(batch.node).c_str(), why);
                return PruneVerdict{};
            }
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
