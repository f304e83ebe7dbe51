// What clsync checks and resolves before it starts: the watch dir, the destination,
// the programs it runs, and the files of its own that lie inside the tree. Each
// failure is a StartupError with its exit code (daemon.h).
#pragma once

#include <string>
#include <vector>

#include "options.h"

namespace clsync {

// The watch dir's canonical absolute path; exit 66 if it is missing or unreadable.
std::string canonical_watch_dir(const std::string& dir);

// rsync reads "host:path" and "rsync://..." as remote; everything else is local.
bool is_remote_destination(const std::string& destination);

// A remote destination reached over a remote shell ([user@]host:path), not an rsync
// daemon (rsync://host/module, host::module).
bool is_ssh_destination(const std::string& destination);

// The absolute path, resolving symlinks of the part that exists.
std::string resolve_local_path(const std::string& path);

// Whether the absolute `path` is `dir` or below it.
bool is_within(const std::string& path, const std::string& dir);

// The destination as rsync will get it: local paths made absolute (and refused, exit
// 64, when inside the watch dir or containing it); remote ones unchanged.
std::string checked_destination(const std::string& watch_dir, const std::string& destination);
// checked_destination of each; two that name the same directory are refused (exit 64).
std::vector<std::string> checked_destinations(const std::string& watch_dir, const std::vector<std::string>& given);

// The rsync binary (-S, or rsync from PATH), 3.2.4 or later; exit 69 otherwise.
std::string find_rsync(const std::string& configured);

// A handler or hook program, absolute; exit 69 if missing or not executable.
std::string find_handler(const std::string& handler);

// Raises the soft limit of open files to the hard one.
void raise_open_file_limit();

// Those of `files` that lie inside the watch dir, relative to it.
std::vector<std::string> own_paths_in(const std::string& watch_dir, const std::vector<std::string>& files);

}  // namespace clsync

namespace clsync {
struct Identity;

// The state dir: `configured`, or /var/lib/clsync/NAME for root, else
// $XDG_STATE_HOME/clsync/NAME, where NAME is the label, or without -l
// "nolabel-HASH" of the watch dir and destinations as given (so that instances
// without labels do not share one). Created (0700) while clsync is still root, and
// given to the -u/-g identity, which opens it. Throws StartupError (exit 73), also
// when the dir can be read or entered by others.
std::string prepare_state_dir(const Options& options, const Identity& identity);
}  // namespace clsync

namespace clsync {
// The cluster's shared secret from --cluster-key (without one trailing newline), read
// while clsync is still root. Refused: a file others can read (exit 77), one that
// cannot be read or holds fewer than 16 bytes (exit 64).
std::string read_cluster_key(const std::string& path);
}  // namespace clsync
