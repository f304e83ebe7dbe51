// Stale entries of a peer (cluster, doc/PROTOCOL.md): what a peer wrote into this
// node's tree and no longer has. A peer's rsync deletes here only what it deleted
// itself (its deletion rules protect the rest, which may be this node's new entries),
// so where a replay of its renames failed, or its runs overtook each other, a
// directory here can keep entries the peer's own copy of it lost, and nothing would
// ever sync them again: the trees stay apart.
//
// When a peer's batch that wrote a directory whole (NoticeEntry::complete) is done,
// each entry below that directory here (at any depth) that the batch's notices did not
// name, and that holds exactly what the same peer announced for it before the batch and
// that arrived here as such (Expectation::landed: the peer's write, unchanged here
// since; not what the peer announced because it had it from this node), or that the
// peer's renames moved here from a name where the peer announced what it holds
// (ExpectedChanges::moved_by_peer), is removed; a directory only with everything below
// it. A change made here, or anything another node wrote,
// matches no such announcement and stays. Each removal is recorded as that peer's deletion, so that it is not synced
// back as a change of this node.
//
// Threads: the main thread (ClusterNotifier's Done).
#pragma once

#include <cstddef>
#include <string>

#include "clock.h"
#include "expected_changes.h"

namespace clsync {

// How long after a peer's Done its stale entries are looked for: the watcher's events
// of the peer's run (its replayed renames, which move what it announced along) may
// reach the main thread after the Done packet.
constexpr Millis kStaleCheckDelay{1000};

// Removes what `batch` shows stale below its complete directories in `watch_dir`;
// how many entries went.
std::size_t remove_stale_entries(const std::string& watch_dir, const SettledBatch& batch, ExpectedChanges& expected);

}  // namespace clsync
