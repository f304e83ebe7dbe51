#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "block_diff.h"

using namespace clsync;

namespace {

constexpr std::uint64_t B = kBlockSize;

// The signature of `data` cut into blocks of `block_size`, hashed with block_hash.
BlockSignature signature_of(const std::string& data, std::size_t block_size = kBlockSize) {
    BlockSignature s;
    s.size = data.size();
    for (std::size_t at = 0; at < data.size(); at += block_size)
        s.hashes.push_back(block_hash(data.data() + at, std::min(block_size, data.size() - at)));
    return s;
}

// `size` bytes of deterministic pseudo-random data (no two blocks alike).
std::string random_bytes(std::size_t size, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::string data(size, '\0');
    for (char& c : data) c = static_cast<char>(generator() & 0xff);
    return data;
}

// What the destination holds after writing `ranges` of `now` over `old` and
// truncating to now's size: what update_in_place does with them.
std::string apply(std::string old, const std::string& now, const std::vector<ByteRange>& ranges) {
    old.resize(std::max(old.size(), now.size()), '\0');
    for (const ByteRange& r : ranges) old.replace(r.offset, r.length, now, r.offset, r.length);
    old.resize(now.size());
    return old;
}

std::uint64_t total(const std::vector<ByteRange>& ranges) {
    std::uint64_t sum = 0;
    for (const ByteRange& r : ranges) sum += r.length;
    return sum;
}

}  // namespace

TEST_CASE("block_count rounds up to whole blocks") {
    CHECK(block_count(0) == 0);
    CHECK(block_count(1) == 1);
    CHECK(block_count(B - 1) == 1);
    CHECK(block_count(B) == 1);
    CHECK(block_count(B + 1) == 2);
    CHECK(block_count(1024ULL * 1024 * 1024) == 16384);
    CHECK(block_count(10, 4) == 3);
    CHECK(block_count(12, 4) == 3);
}

TEST_CASE("block_hash depends on the bytes and their length") {
    std::string a = random_bytes(B, 1);
    std::string b = a;
    b[B / 2] ^= 1;
    CHECK(block_hash(a.data(), a.size()) == block_hash(a.data(), a.size()));
    CHECK(block_hash(a.data(), a.size()) != block_hash(b.data(), b.size()));
    CHECK(block_hash(a.data(), a.size()) != block_hash(a.data(), a.size() - 1));
}

TEST_CASE("identical files have no changed ranges") {
    std::string data = random_bytes(5 * B + 123, 2);
    CHECK(changed_ranges(signature_of(data), signature_of(data)).empty());
}

TEST_CASE("an append writes the old partial last block and the new bytes only") {
    std::string old = random_bytes(3 * B + B / 2, 3);
    std::string now = old + random_bytes(100 * 1024, 4);
    auto ranges = changed_ranges(signature_of(old), signature_of(now));
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0] == ByteRange{3 * B, now.size() - 3 * B});
    CHECK(ranges[0].offset + ranges[0].length == now.size());
    CHECK(apply(old, now, ranges) == now);

    // The old whole blocks are unchanged; the old partial one has grown, so it is not.
    auto sig = signature_of(old);
    for (std::uint64_t i = 0; i < 3; ++i) CHECK(block_unchanged(sig, i, B, block_hash(now.data() + i * B, B)));
    CHECK_FALSE(block_unchanged(sig, 3, B, block_hash(now.data() + 3 * B, B)));
}

TEST_CASE("an append to a file of whole blocks writes only the new bytes") {
    std::string old = random_bytes(4 * B, 5);
    std::string now = old + random_bytes(10, 6);
    auto ranges = changed_ranges(signature_of(old), signature_of(now));
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0] == ByteRange{4 * B, 10});
    CHECK(apply(old, now, ranges) == now);
}

TEST_CASE("a truncation at a block boundary writes nothing, the size shrinks") {
    std::string old = random_bytes(5 * B + 77, 7);
    std::string now = old.substr(0, 3 * B);
    auto sig_now = signature_of(now);
    auto ranges = changed_ranges(signature_of(old), sig_now);
    CHECK(ranges.empty());
    CHECK(sig_now.size == 3 * B);
    CHECK(sig_now.size < signature_of(old).size);
    CHECK(sig_now.hashes.size() == 3);
    CHECK(apply(old, now, ranges) == now);
}

TEST_CASE("a truncation inside a block rewrites only that shortened block") {
    // The shortened last block has another length than the old one: it is not the
    // same block, so it is written (once), nothing else is.
    std::string old = random_bytes(5 * B, 8);
    std::string now = old.substr(0, 2 * B + B / 2);
    auto ranges = changed_ranges(signature_of(old), signature_of(now));
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0] == ByteRange{2 * B, B / 2});
    CHECK(apply(old, now, ranges) == now);
}

TEST_CASE("a change in the middle writes exactly that block") {
    std::string old = random_bytes(10 * B + 5, 9);
    std::string now = old;
    now[7 * B + 1234] ^= 0x5a;
    auto ranges = changed_ranges(signature_of(old), signature_of(now));
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0] == ByteRange{7 * B, B});
    CHECK(apply(old, now, ranges) == now);

    // The first and the last byte of a block belong to that block only.
    now = old;
    now[4 * B] ^= 1;
    CHECK(changed_ranges(signature_of(old), signature_of(now)) == std::vector<ByteRange>{{4 * B, B}});
    now = old;
    now[4 * B - 1] ^= 1;
    CHECK(changed_ranges(signature_of(old), signature_of(now)) == std::vector<ByteRange>{{3 * B, B}});
}

TEST_CASE("a change in the partial last block writes that block up to the end") {
    std::string old = random_bytes(3 * B + 100, 10);
    std::string now = old;
    now[3 * B + 50] ^= 1;
    auto ranges = changed_ranges(signature_of(old), signature_of(now));
    CHECK(ranges == std::vector<ByteRange>{{3 * B, 100}});
}

TEST_CASE("same size, different content: everything is written, as one range") {
    std::string old = random_bytes(6 * B + 999, 11);
    std::string now = random_bytes(6 * B + 999, 12);
    auto ranges = changed_ranges(signature_of(old), signature_of(now));
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0] == ByteRange{0, now.size()});
    CHECK(apply(old, now, ranges) == now);
}

TEST_CASE("zero-length old and new files") {
    std::string empty;
    std::string some = random_bytes(B + B / 2, 13);
    auto sig_empty = signature_of(empty);
    CHECK(sig_empty.size == 0);
    CHECK(sig_empty.hashes.empty());

    SECTION("empty to empty: nothing") { CHECK(changed_ranges(sig_empty, sig_empty).empty()); }
    SECTION("empty to some: all of it") {
        CHECK(changed_ranges(sig_empty, signature_of(some)) == std::vector<ByteRange>{{0, some.size()}});
    }
    SECTION("some to empty: nothing to write (a truncation to 0)") {
        CHECK(changed_ranges(signature_of(some), sig_empty).empty());
    }
    SECTION("no block of an empty file is unchanged") {
        CHECK_FALSE(block_unchanged(sig_empty, 0, 0, block_hash("", 0)));
        CHECK_FALSE(block_unchanged(sig_empty, 0, B, block_hash(some.data(), B)));
    }
}

TEST_CASE("sparse files: blocks of zeros are equal to each other") {
    std::string zeros(8 * B, '\0');  // as a hole reads
    std::string now = zeros;
    std::string data = random_bytes(300, 14);
    now.replace(5 * B + 10, data.size(), data);

    auto old_sig = signature_of(zeros);
    for (std::uint64_t i = 1; i < old_sig.hashes.size(); ++i) CHECK(old_sig.hashes[i] == old_sig.hashes[0]);
    CHECK(changed_ranges(old_sig, signature_of(now)) == std::vector<ByteRange>{{5 * B, B}});

    // A zero block anywhere matches the old zero block at its own index.
    CHECK(block_unchanged(old_sig, 2, B, block_hash(zeros.data(), B)));
    // The hole filled back with zeros: only that block changes back.
    CHECK(changed_ranges(signature_of(now), old_sig) == std::vector<ByteRange>{{5 * B, B}});
    // A sparse file grown by more zeros: only the new zero blocks are written.
    std::string longer(10 * B, '\0');
    CHECK(changed_ranges(old_sig, signature_of(longer)) == std::vector<ByteRange>{{8 * B, 2 * B}});
}

TEST_CASE("adjacent changed blocks are merged, others stay apart, in order") {
    std::string old = random_bytes(12 * B, 15);
    std::string now = old;
    for (std::uint64_t block : {2, 3, 4, 7, 10, 11}) now[block * B + 17] ^= 0xff;
    auto ranges = changed_ranges(signature_of(old), signature_of(now));
    CHECK(ranges == std::vector<ByteRange>{{2 * B, 3 * B}, {7 * B, B}, {10 * B, 2 * B}});
    CHECK(ranges.back().offset + ranges.back().length == now.size());
    CHECK(apply(old, now, ranges) == now);

    // A change across a block boundary touches the two blocks: one range.
    now = old;
    now[6 * B - 1] ^= 1;
    now[6 * B] ^= 1;
    CHECK(changed_ranges(signature_of(old), signature_of(now)) == std::vector<ByteRange>{{5 * B, 2 * B}});
}

TEST_CASE("block_unchanged needs the same index, length and hash") {
    std::string old = random_bytes(3 * B + 100, 16);
    auto sig = signature_of(old);
    std::uint64_t h1 = block_hash(old.data() + B, B);
    CHECK(block_unchanged(sig, 1, B, h1));
    CHECK_FALSE(block_unchanged(sig, 0, B, h1));  // moved: not at its place
    CHECK_FALSE(block_unchanged(sig, 1, B, h1 + 1));
    std::uint64_t last = block_hash(old.data() + 3 * B, 100);
    CHECK(block_unchanged(sig, 3, 100, last));
    CHECK_FALSE(block_unchanged(sig, 3, B, last));    // a full block where the old one was partial
    CHECK_FALSE(block_unchanged(sig, 4, 100, last));  // beyond the old file

    // A signature whose hashes outnumber its size's blocks: a block past the size is not in the file.
    BlockSignature inconsistent = sig;
    inconsistent.size = 2 * B;
    CHECK_FALSE(block_unchanged(inconsistent, 3, 100, last));
}

TEST_CASE("the block size argument is honoured") {
    std::string old = random_bytes(100, 17);
    std::string now = old;
    now[45] ^= 1;
    auto ranges = changed_ranges(signature_of(old, 16), signature_of(now, 16), 16);
    CHECK(ranges == std::vector<ByteRange>{{32, 16}});
    now += "tail";
    ranges = changed_ranges(signature_of(old, 16), signature_of(now, 16), 16);
    CHECK(ranges == std::vector<ByteRange>{{32, 16}, {96, 8}});
}

TEST_CASE("random edits: writing the ranges over the old file gives the new one") {
    std::mt19937 generator(20240601);
    constexpr std::size_t kSmall = 64;
    for (int round = 0; round < 300; ++round) {
        std::string old = random_bytes(generator() % 2000, generator());
        std::string now = old;
        switch (generator() % 4) {
            case 0:  // overwrite bytes here and there
                for (int i = 0, n = 1 + generator() % 5; i < n && !now.empty(); ++i)
                    now[generator() % now.size()] ^= static_cast<char>(1 + generator() % 255);
                break;
            case 1:  // append
                now += random_bytes(generator() % 300, generator());
                break;
            case 2:  // truncate
                now.resize(now.empty() ? 0 : generator() % now.size());
                break;
            default:  // insert in the middle: everything after it shifts
                now.insert(now.empty() ? 0 : generator() % now.size(), random_bytes(1 + generator() % 50, generator()));
        }
        auto sig_old = signature_of(old, kSmall), sig_now = signature_of(now, kSmall);
        auto ranges = changed_ranges(sig_old, sig_now, kSmall);
        INFO("round " << round << ": " << old.size() << " -> " << now.size() << " bytes");
        REQUIRE(apply(old, now, ranges) == now);
        // In order, apart (merged when adjacent), within the new file, ending at its end if any.
        for (std::size_t i = 0; i < ranges.size(); ++i) {
            CHECK(ranges[i].length > 0);
            CHECK(ranges[i].offset % kSmall == 0);
            CHECK(ranges[i].offset + ranges[i].length <= now.size());
            if (i) CHECK(ranges[i - 1].offset + ranges[i - 1].length < ranges[i].offset);
        }
        CHECK(total(ranges) <= now.size());
        if (now == old) CHECK(ranges.empty());
    }
}
