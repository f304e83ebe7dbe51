#include "delta_engine.h"

#include <fcntl.h>
#include <librsync.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <random>
#include <system_error>
#include <vector>

namespace clsync {
namespace {

constexpr std::size_t kCopyBuffer = 16 * kBlockSize;  // 1 MiB

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// Reads up to `length` bytes at `offset`; fewer only at end of file (a regular file
// reads short only there, so a short read ends the file without one more call).
std::size_t read_at(int fd, char* buffer, std::size_t length, std::uint64_t offset) {
    for (;;) {
        ssize_t n = pread(fd, buffer, length, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read");
        return static_cast<std::size_t>(n);
    }
}

void write_at(int fd, const char* data, std::size_t length, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < length) {
        ssize_t n = pwrite(fd, data + done, length - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write");
        done += static_cast<std::size_t>(n);
    }
}

void append_block_hashes(BlockSignature& signature, const char* data, std::size_t length) {
    for (std::size_t at = 0; at < length; at += kBlockSize)
        signature.hashes.push_back(block_hash(data + at, std::min(kBlockSize, length - at)));
}

// Whether the file behind `fd` still has the size and mtime of `before`.
bool changed_since(int fd, const struct stat& before) {
    struct stat now;
    if (fstat(fd, &now) != 0) return true;
    return now.st_size != before.st_size || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
           now.st_mtim.tv_nsec != before.st_mtim.tv_nsec;
}

// Reads `fd` from the start to its end, handing each chunk to `chunk`. Returns the
// size read. `expected_size` only sizes the buffer: most files are small, and neither
// a 1 MiB allocation nor zeroing it is free when it happens per file.
template <typename Chunk>
std::uint64_t read_chunks(int fd, std::uint64_t expected_size, const std::atomic<bool>& stop, Chunk&& chunk) {
    // Whole blocks, so that every chunk starts at a block boundary.
    std::uint64_t blocks = block_count(expected_size + 1);
    std::size_t size = static_cast<std::size_t>(std::min<std::uint64_t>(blocks * kBlockSize, kCopyBuffer));
    std::unique_ptr<char[]> buffer(new char[size]);  // not zeroed: every byte used is read first
    std::uint64_t offset = 0;
    for (;;) {
        if (stop.load(std::memory_order_relaxed)) throw WriteStopped();
        std::size_t n = read_at(fd, buffer.get(), size, offset);
        if (n == 0) break;
        chunk(buffer.get(), n, offset);
        offset += n;
        if (n < size) break;
    }
    return offset;
}

struct FileCloser {
    void operator()(FILE* f) const { std::fclose(f); }
};
using StdioFile = std::unique_ptr<FILE, FileCloser>;

// A stdio stream of its own over `fd`'s file, positioned at the start.
StdioFile stream_over(int fd, const char* mode) {
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw_errno("dup");
    FILE* f = fdopen(copy, mode);
    if (!f) {
        ::close(copy);
        throw_errno("fdopen");
    }
    StdioFile file(f);
    if (std::fseek(f, 0, SEEK_SET) != 0) throw_errno("seek");
    return file;
}

// An unnamed scratch file in `dir` (the state dir), gone when closed.
StdioFile scratch_stream(const std::string& dir) {
    UniqueFd fd(open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd.valid()) throw_errno("scratch file in " + dir);
    return stream_over(fd.get(), "w+b");
}

void check_librsync(rs_result result, const char* step) {
    if (result != RS_DONE)
        throw std::system_error(EIO, std::generic_category(),
                                std::string("librsync ") + step + ": " + rs_strerror(result));
}

struct SumsetFree {
    void operator()(rs_signature_t* s) const { rs_free_sumset(s); }
};

std::string random_suffix() {
    static thread_local std::mt19937 generator{std::random_device{}()};
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string suffix(6, 'x');
    for (char& c : suffix) c = letters[generator() % (sizeof(letters) - 1)];
    return suffix;
}

}  // namespace

TempFile::TempFile(int dir_fd, const std::string& name) : dir_fd_(dir_fd) {
    constexpr std::size_t kDecoration = 1 + 8 + 6;  // "." + ".clsync-" + suffix
    std::string base = name.substr(0, NAME_MAX - kDecoration);
    for (int attempt = 0; attempt < 100; ++attempt) {
        name_ = "." + base + ".clsync-" + random_suffix();
        fd_.reset(openat(dir_fd, name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (fd_.valid()) return;
        if (errno != EEXIST) throw_errno("create a temp file for " + name);
    }
    throw_errno("create a temp file for " + name);
}

TempFile::TempFile(TempFile&& other) noexcept
    : dir_fd_(other.dir_fd_), name_(std::move(other.name_)), fd_(std::move(other.fd_)), committed_(other.committed_) {
    other.committed_ = true;
}

TempFile::~TempFile() {
    if (!committed_) unlinkat(dir_fd_, name_.c_str(), 0);
}

void TempFile::commit(const std::string& target) {
    if (renameat(dir_fd_, name_.c_str(), dir_fd_, target.c_str()) != 0) throw_errno("rename into place");
    committed_ = true;
}

WriteResult copy_to_temp(int source, const struct stat& st, TempFile& temp, bool want_signature,
                         const std::atomic<bool>& stop) {
    WriteResult result;
    if (want_signature) result.signature.emplace();
    std::uint64_t size = read_chunks(source, static_cast<std::uint64_t>(st.st_size), stop,
                                     [&](const char* data, std::size_t n, std::uint64_t offset) {
                                         write_at(temp.fd(), data, n, offset);
                                         if (want_signature) append_block_hashes(*result.signature, data, n);
                                     });
    result.bytes_written = size;
    if (want_signature) result.signature->size = size;
    result.source_changed = changed_since(source, st) || size != static_cast<std::uint64_t>(st.st_size);
    return result;
}

WriteResult update_in_place(int source, const struct stat& st, int destination, const BlockSignature& old,
                            const std::atomic<bool>& stop) {
    WriteResult result;
    result.signature.emplace();
    BlockSignature& now = *result.signature;
    // Blocks are compared as they are read, so each block is read once and the data
    // written is the data hashed.
    std::uint64_t size = read_chunks(source, static_cast<std::uint64_t>(st.st_size), stop,
                                     [&](const char* data, std::size_t n, std::uint64_t offset) {
                                         for (std::size_t at = 0; at < n; at += kBlockSize) {
                                             std::size_t length = std::min(kBlockSize, n - at);
                                             std::uint64_t index = (offset + at) / kBlockSize;
                                             std::uint64_t hash = block_hash(data + at, length);
                                             now.hashes.push_back(hash);
                                             if (block_unchanged(old, index, length, hash)) continue;
                                             write_at(destination, data + at, length, offset + at);
                                             result.bytes_written += length;
                                         }
                                     });
    now.size = size;
    if (ftruncate(destination, static_cast<off_t>(size)) != 0) throw_errno("truncate");
    result.source_changed = changed_since(source, st) || size != static_cast<std::uint64_t>(st.st_size);
    return result;
}

WriteResult delta_to_temp(int source, const struct stat& st, int basis, TempFile& temp, const std::string& scratch_dir,
                          const std::atomic<bool>& stop) {
    struct stat basis_st;
    if (fstat(basis, &basis_st) != 0) throw_errno("stat");
    rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
    size_t block_len = 0, strong_len = 0;
    check_librsync(rs_sig_args(basis_st.st_size, &magic, &block_len, &strong_len), "signature arguments");

    StdioFile basis_stream = stream_over(basis, "rb");
    StdioFile signature = scratch_stream(scratch_dir);
    check_librsync(rs_sig_file(basis_stream.get(), signature.get(), block_len, strong_len, magic, nullptr),
                   "signature");
    std::rewind(signature.get());
    rs_signature_t* loaded = nullptr;
    check_librsync(rs_loadsig_file(signature.get(), &loaded, nullptr), "load signature");
    std::unique_ptr<rs_signature_t, SumsetFree> sums(loaded);
    check_librsync(rs_build_hash_table(sums.get()), "hash table");

    StdioFile source_stream = stream_over(source, "rb");
    StdioFile delta = scratch_stream(scratch_dir);
    check_librsync(rs_delta_file(sums.get(), source_stream.get(), delta.get(), nullptr), "delta");
    std::rewind(delta.get());
    std::rewind(basis_stream.get());
    StdioFile output = stream_over(temp.fd(), "wb");
    rs_stats_t stats{};
    check_librsync(rs_patch_file(basis_stream.get(), delta.get(), output.get(), &stats), "patch");
    if (std::fflush(output.get()) != 0) throw_errno("write");

    WriteResult result;
    result.bytes_written = static_cast<std::uint64_t>(stats.out_bytes);
    result.signature.emplace();
    // The signature of what was written, read back (from the page cache).
    result.signature->size = read_chunks(
        temp.fd(), static_cast<std::uint64_t>(st.st_size), stop,
        [&](const char* data, std::size_t n, std::uint64_t) { append_block_hashes(*result.signature, data, n); });
    result.source_changed =
        changed_since(source, st) || result.signature->size != static_cast<std::uint64_t>(st.st_size);
    return result;
}

void apply_file_metadata(int fd, const struct stat& st, bool as_root) {
    // chown first: it clears set-user-ID bits that the chmod then sets.
    if (as_root && fchown(fd, st.st_uid, st.st_gid) != 0) throw_errno("chown");
    if (fchmod(fd, st.st_mode & 07777) != 0) throw_errno("chmod");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (futimens(fd, times) != 0) throw_errno("set times");
}

}  // namespace clsync
