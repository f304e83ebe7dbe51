// Overtaken writes (cluster, doc/PROTOCOL.md "Resend"): two peers writing one path here
// at once (ExpectedChanges' ContestedPath) each compared their version with what was
// here before either landed (rsync --update), so the one that landed last stays, newer
// or not, and nothing would ever correct it: the trees stay apart. Once both are done,
// each writer whose version the path does not hold is asked to sync it again; its
// rsync's --update then brings it only if it is newer than what is here.
//
// Threads: the main thread (ClusterNotifier's Done and Resend).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "clock.h"
#include "cluster_packet.h"
#include "expected_changes.h"
#include "path_event.h"

namespace clsync {

class OvertakenWrites {
public:
    explicit OvertakenWrites(std::string watch_dir) : watch_dir_(std::move(watch_dir)) {}

    // For each of `contested` that is a file (or symlink, or the like) here now, the
    // writers whose announced version it does not hold: by node, the paths to ask it
    // for, each with the signature it announced. A (node, path, signature) is asked
    // once: a writer whose version is older than what is here is not asked again and
    // again.
    std::map<std::string, std::vector<NoticeEntry>> to_ask(const std::vector<ContestedPath>& contested, TimePoint now);

private:
    static constexpr std::size_t kMaxAsked = 100000;
    std::string watch_dir_;
    std::map<std::string, TimePoint> asked_;  // node, path and signature -> until when
};

// What `peer`'s Resend asks this node to sync again: each path (relative, "" for the
// top) that still holds what this node announced (the signature), and is not a
// directory, is queued for every destination (`sink`), exempt from the echo filter
// (ExpectedChanges::resend). A path changed since is synced anyway, if it is this
// node's change.
void queue_resends(const std::string& watch_dir, const std::string& peer, const std::vector<NoticeEntry>& asked,
                   ExpectedChanges& expected, EventSink& sink);

}  // namespace clsync
