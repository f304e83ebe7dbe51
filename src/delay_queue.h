// Pending changes, folded per path, waiting for their batching window to close.
//
// Owned by the coordinator (main thread); not thread safe. Pure: time is passed in.
//
// Semantics:
//  - one entry per path; repeated events fold into it (recursive wins, big wins);
//  - a recursive entry (new directory, deletion, rescan) absorbs every entry below it,
//    and later events below it fold into it;
//  - a rename inside the tree moves the pending entries at and below its old name to
//    the new name (they describe what is there now) and is kept, in order, to be
//    replayed at the destination before the next batch; it waits in the window of
//    ordinary files;
//  - a rename straight back (b -> a right after a -> b) is a round trip or the two
//    halves of a RENAME_EXCHANGE: what the first one moved stays under both names;
//  - each size class has a window: it closes at the first-seen time of its oldest entry
//    plus that class's delay; when it closes, every entry of the class is taken at once.
//    This bounds latency by one window (it is not a debounce that restarts on every event).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock.h"
#include "path_tree.h"

namespace clsync {

enum class SizeClass { Normal = 0, Big = 1 };

// A path relative to the watch dir, without leading slash; "" is the whole tree.
struct QueuedPath {
    std::string path;
    bool recursive = false;
    bool operator==(const QueuedPath& o) const { return path == o.path && recursive == o.recursive; }
};

// `from` was renamed to `to` (both relative paths inside the tree).
struct Rename {
    std::string from;
    std::string to;
    bool operator==(const Rename& o) const { return from == o.from && to == o.to; }
};

// What became of a rename at a destination (rename_replay.h): the two renames a
// RENAME_EXCHANGE is reported as are Exchanged both.
enum class RenameReplay : unsigned char { NotReplayed, Renamed, Exchanged };

class DelayQueue {
public:
    struct Delays {
        Millis normal;
        Millis big;
    };

    explicit DelayQueue(Delays delays) : delays_(delays) {}
    // New windows apply to entries already queued, too (SIGHUP).
    void set_delays(Delays delays) { delays_ = delays; }

    void add(const std::string& path, bool recursive, SizeClass size_class, TimePoint now);

    void rename(const std::string& from, const std::string& to, TimePoint now);

    // Puts back the paths of a batch. They are names from before the renames still
    // pending here, so they follow those renames first. With `only_renamed`, only the
    // paths such a rename moved (or moved a part of) come back: the batch synced the
    // rest, but a path renamed during the run may have been gone when rsync looked, and
    // the replay of its rename would carry that gap along. Returns the paths put back,
    // as named now.
    std::vector<QueuedPath> requeue(std::vector<QueuedPath> paths, TimePoint first_seen, bool only_renamed = false);

    // When the earliest window closes; nullopt when empty.
    std::optional<TimePoint> next_due() const;
    // When the oldest entry (or rename) was first seen; nullopt when empty.
    std::optional<TimePoint> oldest_first_seen() const;

    // Takes every entry of each class whose window has closed at `now`. Sorted by path.
    std::vector<QueuedPath> take_due(TimePoint now);
    // Takes every pending rename, oldest first. Called with each take_due().
    std::vector<Rename> take_renames();
    // Puts back renames taken and not replayed (a batch deferred), before those that
    // came since: replayed later, in order, they still tell what moved where (a file
    // renamed over another replaces it, however old its mtime). Call after requeue()
    // of the same batch's paths, whose names they are not to move again.
    void put_back_renames(const std::vector<Rename>& older, TimePoint first_seen);

    bool empty() const { return entries_.empty() && renames_.empty(); }
    // True when the whole tree ("" recursive) is queued: every other path is covered.
    bool covers_whole_tree() const {
        auto it = entries_.find(std::string_view());
        return it != entries_.end() && it->second.recursive;
    }
    std::size_t size() const { return entries_.size() + renames_.size(); }

private:
    struct Entry {
        TimePoint first_seen;
        bool recursive;
        SizeClass size_class;
    };

    TimePoint due(const Entry& e) const {
        return e.first_seen + (e.size_class == SizeClass::Big ? delays_.big : delays_.normal);
    }
    // The entry of a recursive ancestor that covers `path`, or end().
    using Entries = std::map<std::string, Entry, std::less<>>;  // looked up by string_view too
    Entries::iterator covering_ancestor(const std::string& path);
    // Removes entries strictly below `path`; returns the earliest first-seen among them.
    std::optional<TimePoint> absorb_descendants(const std::string& path);

    // An entry a rename moved, under its new name.
    struct MovedEntry {
        std::string path;
        Entry entry;
    };
    // Adds `moved` back, keeping its first-seen time (its window stays bounded).
    void add_moved(const MovedEntry& moved, TimePoint now);

    Delays delays_;
    Entries entries_;
    std::vector<Rename> renames_;
    std::vector<MovedEntry> last_moved_;  // by renames_.back(): an exchange's second half puts them back
    TimePoint first_rename_seen_{};       // of renames_.front()
};

}  // namespace clsync
