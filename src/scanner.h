// Walks the directories of a tree without recursion and without depth limit, using
// d_type so that no entry needs an lstat when the file system reports its type.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "content_signature.h"
#include "delay_queue.h"
#include "unique_fd.h"

namespace clsync {

// Called with a directory's fd and the name of an entry in it that is not a directory.
using FileVisitor = std::function<void(const std::string& dir_path, int dir_fd, const char* name)>;

// Calls visit(relative_path, dir_fd) for `start` (relative to `root`, "" = root) and
// every directory below it, parents before children. dir_fd is the directory opened
// with O_NOFOLLOW, valid during the call. If visit returns false, that directory's
// children are skipped. A directory that cannot be read (EACCES) is logged and passed
// to `unreadable`; one that vanished or was replaced meanwhile is skipped silently
// (its parent's events cover it). Symlinks are never followed. Other entries (files,
// symlinks, devices; by d_type, no lstat unless the file system does not report
// types) go to `on_file`.
void walk_directories(const std::string& root, const std::string& start,
                      const std::function<bool(const std::string& path, int dir_fd)>& visit,
                      const std::function<void(const std::string& path)>& unreadable = {},
                      const FileVisitor& on_file = {});

// Opens the directory `path` below `root` ("" = root itself) without following
// symlinks, also when the whole path is longer than PATH_MAX.
UniqueFd open_directory(const std::string& root, const std::string& path);

// The names in the open directory `dir_fd` (without "." and ".."), in readdir order;
// nullopt (errno set) if it cannot be read.
std::optional<std::vector<std::string>> names_in(int dir_fd);

// The state and content signature of `path` below `root` ("" = root itself), its
// directories opened as open_directory does (content_signature.h).
EntryState path_state(const std::string& root, const std::string& path, const EntryState* known = nullptr);
// Whether nothing is at `path` below `root` (false where that cannot be told: EACCES).
bool is_absent(const std::string& root, const std::string& path);

// Whether `path` below `root` ("" = root) is a directory (not following a symlink).
bool is_directory(const std::string& root, const std::string& path);

// "a" + "b" -> "a/b"; "" + "b" -> "b".
std::string join_path(const std::string& dir, const std::string& name);

// rsync -H links only the files it transfers together; a changed file with other
// names elsewhere in the tree needs them in the same run, and finding them takes a
// walk. Whether one of `paths` (below `root`) is a regular file with more than one
// name; recursive entries (new, renamed or moved-in directories) are searched inside.
bool has_multilinked_file(const std::string& root, const std::vector<QueuedPath>& paths);

}  // namespace clsync
