// What the rules exclude below the directories a run syncs recursively, found by
// walking them: a whole-tree or new-directory run must tell rsync (or the handler)
// to leave these alone. Excluded directories are not entered.
#pragma once

#include <string>
#include <vector>

#include "delay_queue.h"
#include "rules.h"

namespace clsync {

struct ExcludedPath {
    std::string path;
    bool is_dir;
};

// Every excluded path below the recursive entries of `paths` (all of them when one is
// the whole tree ""), for the rules in force.
std::vector<ExcludedPath> find_excluded(const std::string& root, const std::vector<QueuedPath>& paths,
                                        const RuleSet& rules);

// rsync exclude rules for `excluded`, one per item, ending in `separator`; with
// `prefixed`, each starts with "- " (for an --include-from list).
std::string rsync_exclude_rules(const std::vector<ExcludedPath>& excluded, char separator, bool prefixed);

}  // namespace clsync
