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
// Threads: any (one mutex); notices are added on the main thread, workers look up (and
// mark what landed).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "clock.h"
#include "cluster_packet.h"

namespace clsync {

constexpr Millis kExpectationLifetime{10 * 60 * 1000};
constexpr std::size_t kMaxExpectations = 1000000;
constexpr Millis kResendLifetime{60000};
// How long a notice's renames are followed back (moved_by_peer), at most how many notices.
constexpr Millis kMovedLookback{60000};
constexpr std::size_t kMaxMovedNotices = 256;

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
    // When the Done of the announcing batch came (wall clock); for a notice that expects
    // no Done, its arrival. So a peer's run was writing from announced_at_us to then.
    std::int64_t settled_at_us = 0;
    // This node saw the announced state arrive (an event on the path judged its echo,
    // or the peer's writer renaming it into place): the peer wrote it here, rather
    // than announcing what this node had already (a tree it syncs whole names those too).
    bool landed = false;

    // Whether `state` is what this announcement, or one of the node's earlier ones,
    // leaves at the path.
    bool matches(bool absent, std::uint64_t state_signature) const;
    // Whether the node announced an entry with this signature at the path, now or
    // before (also where it announces the path deleted now).
    bool once_held(std::uint64_t state_signature) const;
};

// A path two peers wrote here at once with different content: one's notice came while
// the other had a batch in flight (not done) that was announced earlier. Which write landed last is a matter of timing,
// not of which is newer (each rsync's --update compared with what was here before either landed), so the newer one may
// have been overwritten by the older.
struct ContestedPath {
    std::string path;
    std::vector<std::pair<std::string, std::uint64_t>> writers;  // node, the signature it announced
};
constexpr std::size_t kMaxContestedPaths = 10000;

// What a peer's batch named, once its Done came.
struct SettledBatch {
    std::string node;
    std::int64_t announced_at_us = 0;       // when its first notice came (wall clock)
    std::vector<std::string> complete;      // directories it wrote whole (NoticeEntry::complete)
    std::unordered_set<std::string> named;  // every path its notices named
    bool all_known = true;                  // every notice the Done lists came (none lost)
    // Contested paths (any peers') whose writers' batches announced by then are all done
    // now.
    std::vector<ContestedPath> contested;
};

class ExpectedChanges {
public:
    // `seq`: the notice's; its paths are in flight until settle() names it (0: settled).
    // `renames`: those its batch replays here first (Packet::renames).
    void expect(const std::string& node, const std::vector<NoticeEntry>& entries, TimePoint now,
                std::int64_t now_us = 0, std::uint64_t seq = 0, const std::vector<NoticeRename>& renames = {});
    // The batches of `node`'s notices `seqs` are written (a Done packet), at `now_us`;
    // what those notices named.
    SettledBatch settle(const std::string& node, const std::vector<std::uint64_t>& seqs, std::int64_t now_us);
    // Every batch of `node` (it restarted, or went silent).
    void settle_all(const std::string& node, std::int64_t now_us);
    // The newest announcement of `path` that has not expired.
    std::optional<Expectation> find(const std::string& path, TimePoint now) const;
    // The announcement of the nearest directory above `path` that a peer announced, if it
    // says deleted: what was below it went with it.
    std::optional<Expectation> deleted_above(const std::string& path, TimePoint now) const;
    // Whether a peer announced that its batch replays the rename of `from` to `to` here,
    // in a notice that came after `in_flight_since_us` and is not done yet, or whose
    // Done came after `settled_since_us` (wall clock): the watcher's event on it is the
    // peer's replay, not a rename made here.
    bool announced_rename(const std::string& from, const std::string& to, std::int64_t in_flight_since_us,
                          std::int64_t settled_since_us) const;
    // Whether a peer's batch announced after `since_us` (wall clock) is still being
    // written (no Done yet): its run may carry paths its notice could not name, which
    // the notice it sends after the run names.
    bool peer_writing(std::int64_t since_us) const;
    // Whether `path` is a temporary name under which a writer builds an announced file
    // before renaming it into place: rsync's ".NAME.XXXXXX" and clsync -M librsync's
    // ".NAME.clsync-XXXXXX" beside an announced NAME that is written (not deleted).
    // Such a name appears and goes while the peer writes; it is not the peer's to sync.
    bool is_writer_temp(const std::string& path, TimePoint now) const;
    // The announcement of `path` arrived here (Expectation::landed).
    void mark_landed(const std::string& path);
    // A peer's run replayed its rename of `from` to `to` here: what was announced below
    // `from` is below `to` now. Each such announcement moves along, settled, as an
    // earlier announcement where the peer's notice names the new path already (what the
    // peer's replay brought there is its older state, not a change of this node).
    void follow_peer_rename(const std::string& from, const std::string& to);
    // The announcement of the name `path` had before the renames that peers' recent
    // notices (kMovedLookback) replay here moved it, by the node whose renames did:
    // its nearest earlier name that the node announced. Where this node's watcher could
    // not follow a chain of such renames (a directory moved on before it was watched),
    // what they carried here turns up under its new name as if made here: it is the
    // peer's older write, moved along, not a change of this node.
    std::optional<Expectation> moved_by_peer(const std::string& path, TimePoint now) const;
    // A writer's temporary name renamed onto `path` while a peer was writing, but before
    // any notice named `path`: a file the peer made after its walk, delivered by its
    // run, whose notice after the run names it. From then on, once a peer announced
    // the path, what it holds is that peer's (a later state of the file at the peer
    // comes with the peer's next sync), until forget_delivery().
    void note_delivery(const std::string& path, TimePoint now);
    // Any other event on `path`: changed here since.
    void forget_delivery(const std::string& path);
    bool was_delivered(const std::string& path, TimePoint now) const;
    // Whether note_delivery() noted `path`, announced since or not.
    bool delivery_noted(const std::string& path, TimePoint now) const;
    // Peer `asker` asked this node to sync `path` again (overtaken_writes.h): whatever
    // it holds, it is no echo for a destination until that destination's run carried it
    // (resend_carried), for at most kResendLifetime. A destination known to be another
    // node's tree (--cluster-peer) is not asked: that node's copy was not overtaken, and
    // a run there would race its owner's changes (cluster.py seed 170).
    void resend(const std::string& path, const std::string& asker, TimePoint now);
    enum class ResendTo {
        None,       // no request pending for this destination: judged as any path
        Here,       // to be carried to this destination
        Elsewhere,  // asked by other nodes only: not for this destination
    };
    // `destination_node`: the node whose tree `destination` is; empty when not known
    // (then a request is for every destination).
    ResendTo resend_to(const std::string& path, const std::string& destination, const std::string& destination_node,
                       TimePoint now) const;
    void resend_carried(const std::string& path, const std::string& destination);
    // Drops the announcements that expired (a notice whose Done never came is settled).
    void expire(TimePoint now, std::int64_t now_us);
    std::size_t size() const;

private:
    struct Entry {
        Expectation expectation;
        std::uint64_t seq = 0;
        TimePoint expires;
    };
    struct InFlight {
        TimePoint expires;
        std::int64_t announced_at_us = 0;
        std::vector<std::string> paths;
        std::vector<std::string> complete;
        std::vector<NoticeRename> renames;
    };
    // A rename a peer's notice announced (announced_rename).
    struct AnnouncedRename {
        std::string node;
        std::uint64_t seq = 0;
        std::int64_t announced_at_us = 0;
        std::int64_t settled_at_us = 0;  // 0: in flight
        TimePoint expires;
    };
    // Paths written by several peers at once: who announced what, and when the last of
    // them came (a writer's batches announced until then may be writing the path: one
    // notice per destination's run, and the expectation keeps only the newest).
    struct Contest {
        std::int64_t noted_at_us = 0;
        std::vector<std::pair<std::string, std::uint64_t>> writers;  // node, signature
    };
    void drop_oldest_locked();
    // Whether `node` has a notice announced by `until_us` whose batch is not done.
    bool writing_locked(const std::string& node, std::int64_t until_us) const;
    bool delivery_noted_locked(const std::string& path, TimePoint now) const;
    // `node`'s notice announces `signature` for `path` at `now_us` while `before`
    // (another node's announcement) may still be being written.
    void note_contest_locked(const std::string& path, const Expectation& before, const std::string& node,
                             std::uint64_t signature, std::int64_t now_us);
    // The contests whose writers are all done, taken out.
    std::vector<ContestedPath> decided_contests_locked();
    void drop_old_renames_locked(TimePoint now);
    void settle_locked(std::map<std::pair<std::string, std::uint64_t>, InFlight>::iterator it, std::int64_t now_us);

    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;  // guarded by mutex_
    // note_delivery()'s paths, until when they count; guarded by mutex_.
    std::map<std::string, TimePoint> deliveries_;
    // resend()'s paths: until when, who asked, and the destinations that carried them;
    // guarded by mutex_.
    struct Resend {
        TimePoint expires;
        std::set<std::string> askers;
        std::set<std::string> carried_to;
    };
    std::map<std::string, Resend> resends_;
    // The paths of each notice not settled yet, by (node, seq); guarded by mutex_.
    std::map<std::pair<std::string, std::uint64_t>, InFlight> in_flight_;
    // Paths written by several peers at once, by path; guarded by mutex_.
    std::map<std::string, Contest> contests_;
    // Renames peers announced, by (from, to); guarded by mutex_.
    std::map<std::pair<std::string, std::string>, AnnouncedRename> renames_;
    // The renames of peers' recent notices, in order, oldest first (moved_by_peer);
    // guarded by mutex_.
    struct NoticeRenames {
        std::string node;
        TimePoint expires;
        std::vector<NoticeRename> renames;
    };
    std::deque<NoticeRenames> recent_renames_;
    // How many of recent_renames_ have each new name; guarded by mutex_.
    std::unordered_map<std::string, std::size_t> recent_targets_;
};

// Whether `temp` is a name under which a writer (rsync, clsync -M librsync) builds
// `path` before renaming it into place: ".NAME.XXXXXX" beside it, and the like.
bool is_temp_name_for(const std::string& temp, const std::string& path);

// The parent directory and the name of a relative path ("a/b" -> "a", "b"; "b" -> "", "b").
std::pair<std::string, std::string> split_parent(const std::string& path);

}  // namespace clsync
