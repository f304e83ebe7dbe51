// What peers announced they are writing into this node's tree (cluster notices, see
// doc/PROTOCOL.md): per path, the signature of what will be there, or that it goes.
// A change this node's watcher reports on such a path, that left the path as
// announced, is the peer's write arriving: it is not synced back (echo suppression).
//
// Announcements are kept for kExpectationLifetime, renewed by each notice naming the
// path, and the table holds at most kMaxExpectations paths (the oldest go first): a
// change whose announcement was lost or dropped is synced back, which is wasted work
// but never wrong (rsync then finds the peer's copy equal, or newer: --update).
//
// Threads: any (one mutex); notices are added on the main thread, workers look up.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "clock.h"
#include "cluster_packet.h"

namespace clsync {

constexpr Millis kExpectationLifetime{10 * 60 * 1000};
constexpr std::size_t kMaxExpectations = 1000000;

struct Expectation {
    std::string node;  // who announced it
    bool deleted = false;
    std::uint64_t signature = 0;
    // What the same node announced for the path before (newest first, 0: none): a
    // peer's run that failed or was overtaken may leave one of them here, which is
    // still the peer's write, not a change of this node (the signature holds the
    // mtime: a local edit does not come out equal).
    std::array<std::uint64_t, 3> earlier{};
    std::int64_t announced_at_us = 0;  // wall clock (g_get_real_time) when the notice came
    // The announcing batch is still being written (no Done for its notice yet): what the
    // path holds now may be a state on the way.
    bool in_flight = false;

    // Whether `state` is what this announcement, or one of the node's earlier ones,
    // leaves at the path.
    bool matches(bool absent, std::uint64_t state_signature) const;
};

class ExpectedChanges {
public:
    // `seq`: the notice's; its paths are in flight until settle() names it (0: settled).
    void expect(const std::string& node, const std::vector<NoticeEntry>& entries, TimePoint now,
                std::int64_t now_us = 0, std::uint64_t seq = 0);
    // The batches of `node`'s notices `seqs` are written (a Done packet).
    void settle(const std::string& node, const std::vector<std::uint64_t>& seqs);
    // Every batch of `node` (it restarted, or went silent).
    void settle_all(const std::string& node);
    // The newest announcement of `path` that has not expired.
    std::optional<Expectation> find(const std::string& path, TimePoint now) const;
    // Whether `path` is a temporary name under which a writer builds an announced file
    // before renaming it into place: rsync's ".NAME.XXXXXX" and clsync -M librsync's
    // ".NAME.clsync-XXXXXX" beside an announced NAME that is written (not deleted).
    // Such a name appears and goes while the peer writes; it is not the peer's to sync.
    bool is_writer_temp(const std::string& path, TimePoint now) const;
    // Drops the announcements that expired.
    void expire(TimePoint now);
    std::size_t size() const;

private:
    struct Entry {
        Expectation expectation;
        std::uint64_t seq = 0;
        TimePoint expires;
    };
    struct InFlight {
        TimePoint expires;
        std::vector<std::string> paths;
    };
    void drop_oldest_locked();
    void settle_locked(std::map<std::pair<std::string, std::uint64_t>, InFlight>::iterator it);

    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;  // guarded by mutex_
    // The paths of each notice not settled yet, by (node, seq); guarded by mutex_.
    std::map<std::pair<std::string, std::uint64_t>, InFlight> in_flight_;
};

// The parent directory and the name of a relative path ("a/b" -> "a", "b"; "b" -> "", "b").
std::pair<std::string, std::string> split_parent(const std::string& path);

}  // namespace clsync
