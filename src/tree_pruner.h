// Removes chosen entries below a directory, depth first, never following a symlink:
// the removal both halves of a cluster use for what a node wrote into another's tree
// and no longer has (stale_entries.h at the receiver, own_writes.h at the writer).
//
// Threads: any (no shared state; the judge's own).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace clsync {

struct PruneVerdict {
    enum class Action {
        Keep,        // left alone, with everything below it
        Remove,      // goes; a directory only with everything below it
        LookInside,  // a directory that stays, below which entries may go
    };
    Action action = Action::Keep;
    bool directory = false;
};

// Deeper than this below the starting directory, everything stays (no stack to spare).
constexpr int kMaxPruneDepth = 256;

class TreePruner {
public:
    // judge(dir_fd, name, path): what to do with the entry `name` of the open directory
    // `dir_fd`, at `path` (relative, as given to clear()). removed(path): called after
    // each removal.
    using Judge = std::function<PruneVerdict(int dir_fd, const std::string& name, const std::string& path)>;
    using Removed = std::function<void(const std::string& path)>;

    TreePruner(Judge judge, Removed removed) : judge_(std::move(judge)), removed_(std::move(removed)) {}

    // Removes what the judge picks below the open directory `dir_fd` at `dir`; whether
    // it is empty now (of what this looked at).
    bool clear(int dir_fd, const std::string& dir, int depth = 0);
    std::size_t count() const { return count_; }

private:
    bool prune(int dir_fd, const std::string& path, const std::string& name, int depth);

    Judge judge_;
    Removed removed_;
    std::size_t count_ = 0;
};

}  // namespace clsync
