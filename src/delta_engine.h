// Writes one regular file's content at a local destination, in process (-M librsync).
//
// Three ways, chosen by the caller (local_runner.h):
//  - copy_to_temp: the whole file into a new temp file beside the destination name,
//    which the caller renames over it once the data is on disk: no half-written
//    file is ever visible under the real name;
//  - update_in_place: a big file whose destination is still what clsync last wrote
//    (its block signature in the state store matches its size, mtime and inode): the
//    source is read once, hashed by blocks, and only the blocks that differ are
//    written into the destination file, which is then truncated to size;
//  - delta_to_temp: a big file whose destination changed behind clsync's back (or
//    has no signature yet): librsync computes a signature of the destination and a
//    delta of the source against it, and patches into a new temp file.
// All three return the block signature of what they wrote when asked to (big files).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "block_diff.h"
#include "unique_fd.h"

namespace clsync {

// A temp file in a destination directory, removed when destroyed unless committed.
class TempFile {
public:
    // Creates ".NAME.clsync-XXXXXX" (cut to fit NAME_MAX) in `dir_fd`; throws std::system_error.
    TempFile(int dir_fd, const std::string& name);
    TempFile(TempFile&& other) noexcept;
    TempFile& operator=(TempFile&&) = delete;
    ~TempFile();

    int fd() const { return fd_.get(); }
    int dir_fd() const { return dir_fd_; }
    const std::string& name() const { return name_; }
    void close() { fd_.reset(); }
    // Renames the temp file to `target` in the same directory; throws std::system_error.
    void commit(const std::string& target);

private:
    int dir_fd_;
    std::string name_;
    UniqueFd fd_;
    bool committed_ = false;
};

// Thrown when a write is stopped by the `stop` flag; temp files are removed, an
// in-place update stays recorded as unfinished.
struct WriteStopped : std::runtime_error {
    WriteStopped() : std::runtime_error("stopped: clsync is exiting") {}
};

struct WriteResult {
    std::uint64_t bytes_written = 0;
    std::optional<BlockSignature> signature;  // when asked for
    bool source_changed = false;              // size or mtime differed after reading
};

// Copies all of `source` (opened, with its stat) into `temp`.
// Each stops with WriteStopped between two chunks once `stop` is set.
WriteResult copy_to_temp(int source, const struct stat& st, TempFile& temp, bool want_signature,
                         const std::atomic<bool>& stop);

// Writes the blocks of `source` that differ from `old` into `destination` (opened for
// writing) and truncates it to the source's size.
WriteResult update_in_place(int source, const struct stat& st, int destination, const BlockSignature& old,
                            const std::atomic<bool>& stop);

// librsync: signature of `basis` (the destination), delta of `source` against it,
// patched into `temp`. `scratch_dir` holds the signature and delta while they exist.
WriteResult delta_to_temp(int source, const struct stat& st, int basis, TempFile& temp, const std::string& scratch_dir,
                          const std::atomic<bool>& stop);

// Sets owner (when `as_root`), mode and times of the open file `fd` from `st`.
void apply_file_metadata(int fd, const struct stat& st, bool as_root);

}  // namespace clsync
