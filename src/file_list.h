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
std::string rsync_include_rules(const std::vector<QueuedPath>& paths);

// Splits a NUL-separated list back into its items (for tests and handlers).
std::vector<std::string> split_nul_list(const std::string& list);

// A path as an anchored rsync pattern, escaped for rsync's wildcard matcher.
std::string rsync_pattern(const std::string& path, const char* suffix);

}  // namespace clsync
