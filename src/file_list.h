// The list of paths handed to rsync, as NUL-separated include rules
// (rsync --from0 --include-from=- ... --exclude='*').
//
// Every legal file name survives: NUL separation covers newlines; rules are anchored
// with a leading '/', so names starting with '-', '+', '#' or ';' are never read as
// rule prefixes or comments; wildcard characters are escaped where rsync would
// interpret them. Pure.
#pragma once

#include <string>
#include <vector>

#include "delay_queue.h"

namespace clsync {

// Include rules for `paths` ("" is skipped: rsync always syncs the top directory): each path, every ancestor directory
// of it (so rsync descends there, and --delete sees the parent), and for recursive entries everything below.
// With `separator` '\n' (list files for rsync --include-from without --from0), a
// newline in a name is written as '?', which matches it (and at worst a sibling).
std::string rsync_include_rules(const std::vector<QueuedPath>& paths, char separator = '\0');

// `paths` without those in (or below) the `unsyncable` directories or too deep for
// rsync: they are excluded from every run, and their include rules could be longer
// than rsync accepts.
std::vector<QueuedPath> without_unsyncable(std::vector<QueuedPath> paths, const std::vector<std::string>& unsyncable);

// Splits a NUL-separated list back into its items (for tests and handlers).
std::vector<std::string> split_nul_list(const std::string& list);

// rsync (3.2 to 3.5) fails with "Cannot allocate memory" on directories more than about
// 1,024 levels deep (measured), and then skips every deletion of the run. Directories
// this many levels below the watch dir are left out of every run instead.
constexpr int kMaxSyncDepth = 1000;

// How many levels below the watch dir `path` is ("" is 0, "a" is 1, "a/b" is 2).
int path_depth(const std::string& path);

// The exclude pattern that matches every directory kMaxSyncDepth levels deep.
std::string rsync_depth_limit_pattern();

// A path as an anchored rsync pattern, escaped for rsync's wildcard matcher.
std::string rsync_pattern(const std::string& path, const char* suffix, char separator = '\0');

}  // namespace clsync
