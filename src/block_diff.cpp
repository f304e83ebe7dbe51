#include "block_diff.h"

#include <xxhash.h>

#include <algorithm>

namespace clsync {

std::uint64_t block_hash(const void* data, std::size_t length) { return XXH3_64bits(data, length); }

std::uint64_t block_count(std::uint64_t size, std::size_t block_size) { return (size + block_size - 1) / block_size; }

bool block_unchanged(const BlockSignature& old, std::uint64_t index, std::uint64_t length, std::uint64_t hash,
                     std::size_t block_size) {
    std::uint64_t offset = index * block_size;
    if (index >= old.hashes.size() || offset >= old.size) return false;
    std::uint64_t old_length = std::min<std::uint64_t>(block_size, old.size - offset);
    return old_length == length && old.hashes[index] == hash;
}

std::vector<ByteRange> changed_ranges(const BlockSignature& old, const BlockSignature& now, std::size_t block_size) {
    std::vector<ByteRange> ranges;
    std::uint64_t blocks = block_count(now.size, block_size);
    for (std::uint64_t i = 0; i < blocks && i < now.hashes.size(); ++i) {
        std::uint64_t offset = i * block_size;
        std::uint64_t length = std::min<std::uint64_t>(block_size, now.size - offset);
        if (block_unchanged(old, i, length, now.hashes[i], block_size)) continue;
        if (!ranges.empty() && ranges.back().offset + ranges.back().length == offset)
            ranges.back().length += length;
        else
            ranges.push_back({offset, length});
    }
    return ranges;
}

}  // namespace clsync
