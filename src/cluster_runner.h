// A destination's runner in a cluster: wraps the runner that writes (rsync) with the
// two halves of the cluster protocol (doc/PROTOCOL.md).
//
// - Echo filter: a path of the batch that a peer announced, and that is now exactly
//   as announced (content signature, content_signature.h), is the peer's own write
//   arriving here: it is left out, so that it does not bounce back. A path that
//   differs (changed here since) is synced as usual. A batch left empty runs nothing.
// - Notice: before the runner writes, the peers are told what every path the batch
//   touches will hold (its state here now), and every directory above them (rsync
//   sets their attributes).
//
// Threads: run() on worker threads, as every SyncRunner.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cluster_notifier.h"
#include "expected_changes.h"
#include "sync_runner.h"

namespace clsync {

// A notice is built from a walk of what the batch touches; beyond this many paths
// (a whole-tree sync of a big tree) the rest is not announced: its echoes are synced
// back, rsync finding them equal.
constexpr std::size_t kMaxNoticeEntries = 200000;
// Peers' deletions kept from coming back by one run (one exclude rule each, which
// rsync matches against every file).
constexpr std::size_t kMaxPeerDeletions = 1000;

class ClusterRunner : public SyncRunner {
public:
    ClusterRunner(std::unique_ptr<SyncRunner> inner, std::string watch_dir, std::string destination,
                  ClusterNotifier& notifier, const ExpectedChanges& expected);

    Batch needed(const Batch& batch) const override;
    SyncResult run(const Batch& batch) const override;
    void cancel() const override { inner_->cancel(); }
    std::optional<bool> reachable() const override { return inner_->reachable(); }

private:
    // The batch without the peers' writes; `left_out` counts the paths taken out.
    Batch without_echoes(const Batch& batch, std::size_t& left_out) const;
    bool is_echo(const std::string& path, bool recursive) const;
    std::vector<NoticeEntry> notice_entries(const Batch& batch) const;
    std::vector<std::string> peer_deletions_below(const Batch& batch) const;
    bool changed_here_since(const std::string& path, std::int64_t since_us) const;
    // Whether the announced `path`, just renamed into place by a peer's writer, is
    // still as the writer left it.
    bool delivered_by_writer(const std::string& path) const;

    std::unique_ptr<SyncRunner> inner_;
    std::string watch_dir_;
    std::string destination_;
    ClusterNotifier& notifier_;
    const ExpectedChanges& expected_;
};

}  // namespace clsync
