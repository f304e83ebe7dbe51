#include "content_signature.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <memory>

#include "unique_fd.h"

namespace clsync {
namespace {

struct XxhStateDeleter {
    void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
};
using XxhState = std::unique_ptr<XXH3_state_t, XxhStateDeleter>;

// The part of struct stat both nodes agree on after a sync (rsync -a keeps the
// permissions and the mtime; a directory's mtime is left out: see the header),
// little-endian whatever the host, so that nodes of any kind agree.
void add_header(XXH3_state_t* state, const struct stat& st) {
    bool directory = S_ISDIR(st.st_mode);
    bool symlink = S_ISLNK(st.st_mode);
    bool device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
    std::uint64_t fields[] = {
        static_cast<std::uint64_t>(st.st_mode & (symlink ? S_IFMT : S_IFMT | 07777)),
        S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0,
        directory || symlink ? 0 : static_cast<std::uint64_t>(st.st_mtime),
        device ? static_cast<std::uint64_t>(st.st_rdev) : 0,
    };
    unsigned char bytes[sizeof fields];
    for (std::size_t i = 0; i < sizeof fields; ++i)
        bytes[i] = static_cast<unsigned char>(fields[i / 8] >> (8 * (i % 8)));
    XXH3_64bits_update(state, bytes, sizeof bytes);
}

// Symlinks' own permissions are always 0777 on Linux and their mtime is not kept by
// every rsync: only the target counts.
bool add_symlink_target(XXH3_state_t* state, int dir_fd, const char* name) {
    char target[4096];
    ssize_t n = readlinkat(dir_fd, name, target, sizeof target);
    if (n < 0) return false;
    XXH3_64bits_update(state, target, static_cast<std::size_t>(n));
    return true;
}

bool add_file_content(XXH3_state_t* state, int dir_fd, const char* name) {
    UniqueFd fd(openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) return false;
    static thread_local std::unique_ptr<char[]> buffer(new char[1 << 18]);
    for (;;) {
        ssize_t n = read(fd.get(), buffer.get(), 1 << 18);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        XXH3_64bits_update(state, buffer.get(), static_cast<std::size_t>(n));
    }
}

}  // namespace

EntryState entry_state(int dir_fd, const char* name, const EntryState* known) {
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return {errno == ENOENT || errno == ENOTDIR ? EntryState::Kind::Absent : EntryState::Kind::Unreadable};
    std::int64_t ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    if (known && known->kind == EntryState::Kind::Present && known->inode == st.st_ino && known->ctime_ns == ctime_ns)
        return *known;
    XxhState state(XXH3_createState());
    XXH3_64bits_reset(state.get());
    add_header(state.get(), st);
    bool read = true;
    if (S_ISLNK(st.st_mode)) read = add_symlink_target(state.get(), dir_fd, name);
    if (S_ISREG(st.st_mode)) read = add_file_content(state.get(), dir_fd, name);
    if (!read) return {EntryState::Kind::Unreadable};
    std::uint64_t signature = XXH3_64bits_digest(state.get());
    return {EntryState::Kind::Present, signature ? signature : 1, S_ISDIR(st.st_mode),
            static_cast<std::uint64_t>(st.st_ino), ctime_ns};
}

}  // namespace clsync
