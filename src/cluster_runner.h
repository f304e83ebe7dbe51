// A destination's runner in a cluster: wraps the runner that writes (rsync) with the
// two halves of the cluster protocol (doc/PROTOCOL.md).
//
// - Echo filter: a path of the batch that a peer announced, and that is now exactly
//   as announced (content signature, content_signature.h), is the peer's own write
//   arriving here: it is left out, so that it does not bounce back. A path that
//   differs (changed here since) is synced as usual. A batch left empty runs nothing.
// - Notice: before the runner writes, the peers are told what every path the batch
//   touches will hold (its state here now), and every directory above them (rsync
//   sets their attributes). After the run, a second walk of the same paths finds what
//   changed here while rsync ran (its recursion carried entries made after the first
//   walk, or a later state of a file): that is announced before Done, so that the
//   peers do not take it for their own changes. At a local destination, so is what
//   the run wrote there of a path the source changed while it ran, as it is there (a
//   state between the two walks, which neither announced): the peers would take it
//   for their own change, and send their whole directory back.
// - Leftovers: at a destination that is a local path, what this node wrote there and
//   no longer has is removed after the run, and announced as deleted (own_writes.h).
//
// Threads: run() on worker threads, as every SyncRunner.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster_notifier.h"
#include "conflict_keeper.h"
#include "content_signature.h"
#include "expected_changes.h"
#include "own_writes.h"
#include "path_event.h"
#include "sync_runner.h"

namespace clsync {

// A notice is built from a walk of what the batch touches; beyond this many paths
// (a whole-tree sync of a big tree) the rest is not announced: its echoes are synced
// back, rsync finding them equal.
constexpr std::size_t kMaxNoticeEntries = 200000;
// Directories are announced complete (NoticeEntry::complete) only in batches of at most
// this many paths: their notices, and those after the run, fit one Done packet.
constexpr std::size_t kMaxCompleteEntries = 20000;
// At most this many of a peer's temporary files are left out of one run (each is an
// rsync argument); more are copied, and their copies at the peers stay.
constexpr std::size_t kMaxExcludedTemps = 1000;
// A path that differs from what a peer announced is not judged while the peer's run
// is still writing (no Done yet, for at most kMaxInFlight), nor within kSettle of the
// notice (a Done may be lost): the peer's run may be renaming and deleting around
// it. The batch waits, at most kMaxDeferrals times.
constexpr Millis kSettle{1000};
constexpr Millis kMaxInFlight{60000};
constexpr unsigned kMaxDeferrals = 20;
// A path that differs from what a peer announced after this node last changed it waits
// this long from the notice (the peer's write may come with its next run).
constexpr Millis kPeerNewerWait{5000};

// Whether `event` is a peer's writer delivering an announced file (an event on its
// temporary name, or the rename of that name onto the announced one), or a peer's
// run replaying one of its renames here. Counted as not synced back. A rename of a
// writer's temporary name onto a path no notice names yet, while a peer is writing, is
// noted instead (ExpectedChanges::note_delivery); any other event on a path forgets
// that. Any thread.
bool is_peer_delivery(const PathEvent& event, ExpectedChanges& expected, ClusterNotifier& notifier);

class ClusterRunner : public SyncRunner {
public:
    // `peer_node`: the node whose tree `destination` is (--cluster-peer); empty when not
    // known.
    ClusterRunner(std::unique_ptr<SyncRunner> inner, std::string watch_dir, std::string destination,
                  std::string peer_node, ClusterNotifier& notifier, ExpectedChanges& expected,
                  ConflictKeeper& conflicts, bool local_destination);

    std::optional<Batch> needed(const Batch& batch) const override;
    SyncResult run(const Batch& batch) const override;
    void cancel() const override { inner_->cancel(); }
    std::optional<bool> reachable() const override { return inner_->reachable(); }

private:
    // The batch without the peers' writes; `left_out` counts the paths taken out.
    Batch without_echoes(const Batch& batch, std::size_t& left_out, bool& unsettled) const;
    // Whether `path` (and all below it, if `recursive`) is as peers announced it.
    // `unsettled` is set when a path differs from a notice whose batch the peer is still
    // writing (no Done yet), or that is younger than kSettle.
    // `local`: when this node last changed the batch's paths.
    bool is_echo(const std::string& path, bool recursive, const LocalEvents& local, bool* unsettled = nullptr) const;
    // Whether a directory above `path` here differs from a peer's announcement of it
    // that came after this node last changed it: the peer's newer directory (its
    // permissions, say) is on its way, and a sync of `path` now would set the older
    // attributes back at the peer (rsync sets those of every directory above a listed
    // path; cluster.py two-node seeds 282, 335). The batch waits for it.
    bool directory_above_older_here(const std::string& path, const LocalEvents& local, TimePoint now) const;
    // What a batch touches, walked before or after its run: the entries to announce and
    // each one's state, by its wire path.
    struct Walk {
        std::vector<NoticeEntry> entries;
        std::unordered_map<std::string, EntryState> states;
        // A peer's writer's temporary files found (not announced): not this node's to
        // copy, and a partial file copied to the other peers would stay there for good.
        std::vector<std::string> peer_temps;
    };
    // `before`: the walk before the run, whose signatures are reused where an entry is
    // unchanged (same inode and ctime).
    Walk walk_batch(const Batch& batch, const Walk* before = nullptr) const;
    // What rsync's log says a run wrote, and what each path holds as written.
    struct Written {
        std::vector<NoticeEntry> entries;
        // Those of `entries` that neither walk announced as they are (read at the
        // destination: the source changed while the run copied them).
        std::vector<NoticeEntry> unannounced;
    };
    // `before`, `after`: the walks before and after the run; `changed`: what the one
    // after it announced.
    Written what_was_written(const SyncResult& result, const Walk& before, const Walk& after,
                             const std::vector<NoticeEntry>& changed) const;
    // Takes out of `batch` the paths that are in it only because a peer asked for them
    // again (a Resend; not changed here), as a batch that creates nothing at the
    // destination (Batch::existing_only).
    Batch take_requested(Batch& batch) const;
    // Whether `p` is in the batch only because a peer asked for it again (not changed
    // here), and the request is `to` for this destination.
    bool only_asked_for(const QueuedPath& p, const LocalEvents& local, ExpectedChanges::ResendTo to,
                        TimePoint now) const;
    // What --update left alone at the destination (a newer copy) that is this node's own
    // earlier write there, unchanged since: written again over it (a file renamed or
    // swapped over the name here with an older mtime is still the newest change).
    void overwrite_own_newer(SyncResult& result) const;
    // After a run: what it wrote is recorded, and the leftovers below its recursive
    // paths go, announced as deleted (their notices' sequence numbers added to `seqs`).
    void remove_leftovers(const Batch& batch, const SyncResult& result, const std::vector<NoticeEntry>& written,
                          std::vector<std::uint64_t>& seqs) const;

    std::unique_ptr<SyncRunner> inner_;
    std::string watch_dir_;
    std::string destination_;
    std::string peer_node_;
    ClusterNotifier& notifier_;
    ExpectedChanges& expected_;  // marks what landed (Expectation::landed)
    ConflictKeeper& conflicts_;
    std::unique_ptr<OwnWrites> own_writes_;  // a local destination's only
};

}  // namespace clsync
