// Reading rsync's exit status and error output. Pure.
#pragma once

#include <string>

namespace clsync {

// True when the run left the destination as complete as the source allowed:
// exit 0; 24 (files vanished); or 23 when every error rsync reported is the source
// changing under it (a file vanished, or became a directory or a symlink, between
// rsync listing it and opening it). Such a change raised its own event after the batch
// was taken, so the next batch syncs it. Errors at the destination, or rsync skipping
// deletions after an I/O error, are failures.
bool rsync_run_complete(int exit_code, const std::string& stderr_text);

}  // namespace clsync
