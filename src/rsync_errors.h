// Reading rsync's exit status, error output and log. Pure.
#pragma once

#include <string>
#include <vector>

namespace clsync {

enum class RsyncOutcome {
    Complete,  // the destination is as complete as the source allowed
    Retry,     // the source changed while rsync listed it: run the batch again, no back-off
    Failed,    // a real failure: run the batch again after a back-off
};

// Classifies a finished run from its exit status and its messages (rsync runs with
// --stderr=all, so this is everything it said):
//  - 0, and 24 (files vanished), are complete;
//  - 23 is complete when every error is the source changing after rsync listed it (a
//    file that vanished, or became a directory or a symlink, before rsync opened it):
//    such a change raised its own event after the batch was taken;
//  - 23 with errors while rsync listed the source (opendir, link_stat) is a retry:
//    rsync skips every deletion of such a run ("IO error encountered -- skipping file
//    deletion"), so the deletions must be run again;
//  - anything else, including errors at the destination, is a failure.
RsyncOutcome classify_rsync_run(int exit_code, const std::string& messages);

// Whether `rsync --version` output names a version clsync can drive (3.2.4 or later:
// --stderr=all). `found` receives the version text ("3.2.7"), empty if none was found.
bool rsync_version_supported(const std::string& version_output, std::string& found);

// The log-file format whose lines written_paths_in_log reads.
constexpr const char* kRsyncLogFormat = "%i %n";
// The paths a run wrote at the destination (made, or copied over: not an entry whose
// attributes alone it set, not deletions, not the top directory), from its --log-file
// written with kRsyncLogFormat: each line "DATE TIME [PID] " and an itemize string
// (">f+++++++++", "cd+++++++++"; ".d..t......" is left out), a space and the name
// ("dir/" for a directory; rsync writes a byte it cannot print as "\#ooo", octal).
std::vector<std::string> written_paths_in_log(const std::string& log);

// The files a run with --update --info=skip1 left alone because the destination's copy
// is newer (rsync says "NAME is newer", NAME escaped as in the log), taken out of
// `messages`, which keeps the rest. classify_rsync_run ignores those lines.
std::vector<std::string> kept_newer_paths(std::string& messages);

}  // namespace clsync
