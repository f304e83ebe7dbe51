// Mount points below a directory, from /proc/self/mountinfo. Pure parsing, so that
// it is unit tested; reading the file is the caller's business.
#pragma once

#include <set>
#include <string>

namespace clsync {

// The mount points strictly below `root` (absolute, canonical), as paths relative to
// it, from the text of a mountinfo file (proc(5): the fifth field, octal escaped).
std::set<std::string> mount_points_below(const std::string& mountinfo, const std::string& root);

// The contents of /proc/self/mountinfo ("" if it cannot be read).
std::string read_mountinfo();

}  // namespace clsync
