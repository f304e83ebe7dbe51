// What the cluster notifier compares: one 64-bit XXH3 signature of an entry's type,
// permissions and content (a file's size, mtime in seconds and bytes; a symlink's
// target; a directory's permissions only, since its mtime changes with every entry
// written into it). Two nodes holding the same entry get the same signature, which is
// how a node recognises the writes a peer announced (doc/PROTOCOL.md). Owners are left
// out: a peer syncing without root cannot set them.
//
// Threads: any (no shared state).
#pragma once

#include <cstdint>

namespace clsync {

struct EntryState {
    enum class Kind { Absent, Present, Unreadable };
    Kind kind = Kind::Absent;
    std::uint64_t signature = 0;  // Present: never 0 (0 means "deleted" on the wire)
    bool directory = false;
    // Present: the inode and its ctime (ns) when the signature was taken; the same
    // inode with the same ctime holds the same thing (any write or chmod moves ctime).
    std::uint64_t inode = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const EntryState& o) const {
        return kind == o.kind && signature == o.signature && directory == o.directory;
    }
};

// The entry `name` in the directory open as `dir_fd` (symlinks not followed). A file
// that changes while it is read gives the signature of what was read: the caller
// compares it with an announced one, and a mismatch only means "sync it". `known`:
// what an earlier call gave for the same path; returned as it is, unread, while the
// entry's inode and ctime are unchanged.
EntryState entry_state(int dir_fd, const char* name, const EntryState* known = nullptr);

}  // namespace clsync
