// Taking back what this node wrote into a peer's tree and no longer has (own_writes.h
// says why and what counts as this node's).
//
// Threads: any (the OwnWrites table locks itself).
#pragma once

#include <string>
#include <vector>

#include "own_writes.h"

namespace clsync {

// Removes below each of `roots` (paths; "" the whole tree) in `destination` what
// `source` lacks and `own` says this node wrote there, unchanged; the paths removed.
std::vector<std::string> remove_own_leftovers(const std::string& source, const std::string& destination,
                                              std::vector<std::string> roots, const OwnWrites& own);

}  // namespace clsync
