// Runs an administrator's handler program for a batch: modes rsyncshell, shell,
// direct and simple, with the original clsync's arguments and list files (see
// clsync(1), SYNC HANDLER MODES).
//
// Handlers run with the watch dir as their current directory, in their own process
// group, with CLSYNC_STATUS, CLSYNC_ITERATION, CLSYNC_LABEL and CLSYNC_WATCH_DIR set.
// Renames reach them as a deletion of the old name and a copy of the new one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "child_registry.h"
#include "clock.h"
#include "options.h"
#include "sync_runner.h"

namespace clsync {

class ListsDir;
class Rules;
class RuleSet;
class UnsyncableDirs;

struct HandlerSettings {
    Mode mode = Mode::RsyncShell;
    std::string handler;                 // absolute path
    std::vector<std::string> arguments;  // after "--"; empty: the mode's defaults
    std::string watch_dir;               // absolute, canonical
    std::string destination;             // for %destination-dir%; may be empty
    std::string label;
    bool synclist_simplify = false;
    std::vector<int> ignored_exit_codes;
    Millis timeout{0};
    const Rules* rules = nullptr;   // -R
    bool full_initialsync = false;  // -F
};

// One path of a list, as handlers see it.
struct ListedPath {
    std::string path;  // relative to the watch dir
    bool exists = false;
    bool is_dir = false;
};

class HandlerRunner : public SyncRunner {
public:
    HandlerRunner(HandlerSettings settings, ChildRegistry& children, ListsDir& lists, const UnsyncableDirs& unsyncable)
        : settings_(std::move(settings)), children_(children), lists_(lists), unsyncable_(unsyncable) {}

    SyncResult run(const Batch& batch) const override;

private:
    SyncResult run_rsyncshell(const Batch& batch, const std::vector<QueuedPath>& paths) const;
    SyncResult run_shell(const Batch& batch, const std::vector<QueuedPath>& paths) const;
    SyncResult run_direct(const Batch& batch, const std::vector<QueuedPath>& paths) const;
    SyncResult run_simple(const Batch& batch, const std::vector<QueuedPath>& paths) const;

    // Runs the handler with `defaults` (or the administrator's arguments), %NAME%
    // substituted from `values`; an argument that is exactly %INCLUDE-LIST% becomes
    // the items of `include_list`.
    SyncResult run_handler(const Batch& batch, const std::vector<std::string>& defaults,
                           const std::vector<std::pair<std::string, std::string>>& values,
                           const std::vector<std::string>& include_list = {}) const;
    // Every path of the batch with everything below its recursive entries.
    std::vector<ListedPath> listed_paths(const Batch& batch, const std::vector<QueuedPath>& paths) const;
    // The rules that apply to this batch (none for the initial sync with -F).
    std::shared_ptr<const RuleSet> rules_for(const Batch& batch) const;

    HandlerSettings settings_;
    ChildRegistry& children_;
    ListsDir& lists_;
    const UnsyncableDirs& unsyncable_;
};

// The inotify-style mask a handler sees for a listed path (IN_CLOSE_WRITE for a
// file that is there, IN_CREATE|IN_ISDIR for a directory, IN_DELETE when gone).
unsigned event_mask(const ListedPath& path);

}  // namespace clsync
