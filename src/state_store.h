// The state dir (--state-dir): an SQLite database (WAL mode) of what clsync must
// remember across restarts about each destination.
//
// Today it holds, per destination and path, the block signature of each big file as
// clsync last wrote it (with the destination file's size, mtime and inode, so that a
// change made behind clsync's back is noticed), and the big-file updates in progress:
// an update is recorded as unfinished before the first byte is written (which makes
// the file's signature unusable) and cleared with the new signature once the file is
// complete and on disk. An unfinished update found at start-up means the file may be
// half-written: the path is written again whole.
//
// And, for every destination, the paths still to be synced there: recorded when their
// events arrive, before any batch with them is attempted, and cleared only once a
// batch that covered them completed. A restart syncs them first (a destination down
// at the last stop is caught up exactly), then verifies the whole tree.
//
// One instance owns a state dir at a time (a lock file). Thread safe: the main thread
// and the worker threads share one connection behind a mutex; every call is one short
// transaction.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "block_diff.h"
#include "delay_queue.h"
#include "unique_fd.h"

namespace clsync {

struct StateStoreError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Another clsync holds the state dir.
struct StateDirInUse : StateStoreError {
    using StateStoreError::StateStoreError;
};

// A destination file as clsync last wrote it.
struct FileSignature {
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;
    BlockSignature blocks;  // blocks.size is the file's size
};

class StateStore {
public:
    // Opens (creating it 0700 if missing) the state dir and its database. Throws
    // StateStoreError naming the dir and the reason, also when another clsync holds it.
    explicit StateStore(const std::string& dir);

    std::optional<FileSignature> signature(const std::string& destination, const std::string& path);
    // Records the signature and clears an unfinished update of the path, in one
    // transaction. With `previous` (the signature the update started from), only the
    // hashes that changed are written.
    void finish_update(const std::string& destination, const std::string& path, const FileSignature& signature,
                       const BlockSignature* previous = nullptr);
    // Forgets the signature of `path` and of everything below it (deleted, replaced).
    void forget(const std::string& destination, const std::string& path);

    // Before an in-place update: recorded (on disk) as unfinished, which makes its
    // signature unusable until finish_update.
    void begin_update(const std::string& destination, const std::string& path);
    // Updates that were begun and never finished (a crash): to be synced again.
    std::vector<std::string> unfinished_updates(const std::string& destination);
    void clear_update(const std::string& destination, const std::string& path);

    // Records `paths` as pending for `destination`, stamped `seq` (increasing). A path
    // already pending keeps being recursive if it was.
    void add_pending(const std::string& destination, const std::vector<QueuedPath>& paths, std::int64_t seq);
    // Clears what `covered` covers (a recursive path: everything below it too) among
    // the pending paths stamped `up_to_seq` or earlier: later events stay pending.
    void clear_pending(const std::string& destination, const std::vector<QueuedPath>& covered, std::int64_t up_to_seq);
    // The pending paths of `destination`, and the highest stamp among all of them.
    std::vector<QueuedPath> pending(const std::string& destination);
    std::int64_t last_pending_seq();
    // When `destination` was last found in sync (nothing queued after a batch), as Unix
    // time; kept across restarts. 0 when never.
    void set_last_in_sync(const std::string& destination, std::int64_t when);
    std::int64_t last_in_sync(const std::string& destination);

    const std::string& dir() const { return dir_; }

private:
    struct Closer {
        void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
    };
    static constexpr std::size_t kHashesPerChunk = 512;  // 4 KiB: one database page

    void exec(const char* sql);
    [[noreturn]] void fail(const std::string& what) const;

    std::string dir_;
    UniqueFd lock_;
    std::mutex mutex_;
    std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace clsync
