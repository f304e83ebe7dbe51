// Syncs one batch in process at a local (or mounted) destination: -M librsync.
//
// The same result as `rsync -aH --delete` of the batch's paths: files, directories,
// symlinks, devices, FIFOs, sockets and hard links; modes, mtimes (files, symlinks and
// directories) and, when running as root, ownership. The batch's renames are replayed
// first (rename_replay.h). Recursive entries (new directories, the whole tree) are
// walked on both sides: what the source has is written where it differs (size or
// mtime, as rsync's quick check), what only the destination has is deleted, and what
// the rules exclude is left alone on both sides. Listed paths are always written.
//
// How a regular file is written (delta_engine.h): below the delta threshold, into a
// temp file renamed over the old one; at or above it, by blocks in place when the
// state store's signature says the destination is what clsync last wrote, else by a
// librsync delta into a temp file. Renamed temp files are made durable by the fsync
// policy first (--fsync), so a crash never leaves a visible file half-written.
//
// run() is called on worker threads; it is thread safe (each run has its own state).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "options.h"
#include "sync_runner.h"

namespace clsync {

class Rules;
class StateStore;
class UnsyncableDirs;

// Files of this size or more are updated through block signatures or a delta.
constexpr std::uint64_t kDeltaThreshold = 1024 * 1024;

struct LocalSettings {
    std::string source;       // watch dir, absolute, canonical
    std::string destination;  // local directory, absolute
    bool one_file_system = false;
    bool exclude_mount_points = false;
    const Rules* rules = nullptr;   // -R: what runs leave alone
    bool full_initialsync = false;  // -F: the initial sync ignores the rules
    FsyncPolicy fsync = FsyncPolicy::Batch;
    std::uint64_t delta_threshold = kDeltaThreshold;
    StateStore* state = nullptr;  // block signatures; null: every big file goes by delta
};

class LocalRunner : public SyncRunner {
public:
    // Big-file updates a crash interrupted (state store) are written whole by the
    // first run that meets them, whatever their size and mtime say.
    LocalRunner(LocalSettings settings, const UnsyncableDirs& unsyncable);

    SyncResult run(const Batch& batch) const override;
    void cancel() const override { cancelled_ = true; }

private:
    LocalSettings settings_;
    const UnsyncableDirs& unsyncable_;
    mutable std::atomic<bool> cancelled_{false};  // set by the main thread, read by workers
    mutable std::mutex interrupted_mutex_;
    mutable std::set<std::string> interrupted_;  // guarded by interrupted_mutex_
};

}  // namespace clsync
