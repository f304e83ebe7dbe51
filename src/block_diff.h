// Which parts of a big file to write at the destination, found from xxHash (XXH3)
// hashes of fixed-size blocks: those of the destination as clsync last wrote it
// (kept in the state store) and those of the source now. Only blocks whose hash
// differs, or that the old file did not have, are written; a shorter file is
// truncated. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace clsync {

// 64 KiB: a 1 GiB file has 16,384 hashes (128 KiB of state); an append rewrites at
// most one old partial block.
constexpr std::size_t kBlockSize = 64 * 1024;

struct BlockSignature {
    std::uint64_t size = 0;
    std::vector<std::uint64_t> hashes;  // one per block; the last block may be partial
    bool operator==(const BlockSignature& o) const { return size == o.size && hashes == o.hashes; }
};

struct ByteRange {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    bool operator==(const ByteRange& o) const { return offset == o.offset && length == o.length; }
};

// The hash of one block's bytes.
std::uint64_t block_hash(const void* data, std::size_t length);

// How many blocks a file of `size` bytes has.
std::uint64_t block_count(std::uint64_t size, std::size_t block_size = kBlockSize);

// Whether block `index` of a new file, `length` bytes long with hash `hash`, is
// already in the file that has signature `old` (same place, same length, same hash).
bool block_unchanged(const BlockSignature& old, std::uint64_t index, std::uint64_t length, std::uint64_t hash,
                     std::size_t block_size = kBlockSize);

// The byte ranges of `now` to write over a file that has `old`, in order, adjacent
// blocks merged, the last one ending at now.size. (When now.size < old.size the file
// must also be truncated to now.size.)
std::vector<ByteRange> changed_ranges(const BlockSignature& old, const BlockSignature& now,
                                      std::size_t block_size = kBlockSize);

}  // namespace clsync
