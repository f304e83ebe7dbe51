// The directory where list files for handlers are written (-L), and the files in it.
//
// List files name what is about to be synced, so nobody else may read or plant them:
// a given directory is created private if missing and refused if group or others can
// get in or it is not ours; by default a private directory is made under $TMPDIR and
// removed at exit. Thread safe.
#pragma once

#include <atomic>
#include <stdexcept>
#include <string>

namespace clsync {

// Why the lists dir cannot be used (exit code 77).
struct ListsDirError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class ListsDir;

// A list file, removed when it goes out of scope (unless -U keeps list files).
class ListFile {
public:
    ListFile(const ListsDir& dir, std::string path) : dir_(dir), path_(std::move(path)) {}
    ~ListFile();
    ListFile(const ListFile&) = delete;
    ListFile& operator=(const ListFile&) = delete;
    const std::string& path() const { return path_; }

private:
    const ListsDir& dir_;
    std::string path_;
};

class ListsDir {
public:
    // `dir` empty: a new private temporary directory. Throws ListsDirError.
    ListsDir(const std::string& dir, bool keep_files);
    ~ListsDir();
    ListsDir(const ListsDir&) = delete;
    ListsDir& operator=(const ListsDir&) = delete;

    // Writes `content` to a new file named after `label` and `kind`. Throws
    // std::system_error.
    ListFile write(const std::string& label, const char* kind, const std::string& content);
    // Removes a file written here, unless list files are kept (-U).
    void discard(const std::string& path) const;

private:
    std::string dir_;
    bool keep_files_;
    bool temporary_ = false;
    std::atomic<unsigned> counter_{0};
};

}  // namespace clsync
