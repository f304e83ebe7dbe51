// Renames replayed at a [user@]host:path destination: one remote shell session per
// batch runs one `mv -fT` per rename, in order, so that renaming a big directory at
// the source moves it at the mirror instead of deleting and copying it again. Pure:
// the session is run by rsync_runner.cpp.
#pragma once

#include <string>
#include <vector>

#include "delay_queue.h"

namespace clsync {

// "user@host:path" split into the remote shell's target and the remote path ("."
// for an empty one).
struct SshDestination {
    std::string host;  // with the user, if given
    std::string path;
};
SshDestination split_ssh_destination(const std::string& destination);

// `text` quoted for a POSIX shell: any bytes, newlines included.
std::string shell_quoted(const std::string& text);

// The script that applies `renames` below `remote_path`, reporting each failure on
// stderr as "clsync-rename-failed N" and its end as "clsync-renames-done".
std::string remote_rename_script(const std::string& remote_path, const std::vector<Rename>& renames);

// Which renames the script's stderr says were applied: none unless it ran to its end.
std::vector<bool> applied_renames(const std::string& stderr_text, std::size_t count);

}  // namespace clsync
