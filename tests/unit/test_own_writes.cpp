#include <catch2/catch.hpp>

#include "own_writes.h"

using namespace clsync;

namespace {

EntryState present(std::uint64_t signature, std::int64_t ctime_us = 0) {
    EntryState s;
    s.kind = EntryState::Kind::Present;
    s.signature = signature;
    s.ctime_ns = ctime_us * 1000;
    return s;
}

constexpr std::int64_t kNow = 1'000'000'000'000;  // µs

}  // namespace

TEST_CASE("OwnWrites knows what this node wrote where, and only that") {
    OwnWrites own;
    own.record({{"a", false, 1}, {"a/x", false, 2}, {"b", true, 0}}, kNow);
    CHECK(own.wrote("a", present(1), kNow));
    CHECK(own.wrote("a/x", present(2), kNow));
    CHECK_FALSE(own.wrote("a/x", present(3), kNow));  // changed there since
    CHECK_FALSE(own.wrote("b", present(0), kNow));    // a deletion records nothing
    CHECK_FALSE(own.wrote("c", present(1), kNow));
    EntryState absent;
    CHECK_FALSE(own.wrote("a", absent, kNow));
    // Changed there after this node wrote it, even to an equal state (a copy put back).
    CHECK_FALSE(own.wrote("a/x", present(2, kNow + 1), kNow + 2));
    // A directory's ctime moves with what is made or removed in it.
    EntryState dir = present(1, kNow + 1);
    dir.directory = true;
    CHECK(own.wrote("a", dir, kNow + 2));
    // Expired.
    CHECK_FALSE(own.wrote("a", present(1), kNow + std::chrono::microseconds(kOwnWriteLifetime).count()));
    CHECK(own.size() == 2);
    CHECK(own.knows("a/x", kNow));
    CHECK_FALSE(own.knows("b", kNow));
    CHECK_FALSE(own.knows("a/x", kNow + std::chrono::microseconds(kOwnWriteLifetime).count()));
}

TEST_CASE("OwnWrites keeps a path's last three writes") {
    OwnWrites own;
    for (std::uint64_t s = 1; s <= 4; ++s) own.record({{"f", false, s}}, kNow);
    CHECK(own.wrote("f", present(4), kNow));
    CHECK(own.wrote("f", present(3), kNow));
    CHECK(own.wrote("f", present(2), kNow));
    CHECK_FALSE(own.wrote("f", present(1), kNow));
}

TEST_CASE("OwnWrites follows the renames replayed at the destination") {
    OwnWrites own;
    own.record({{"d", false, 1}, {"d/x", false, 2}, {"d-x", false, 3}, {"d.x", false, 4}, {"t/old", false, 5}}, kNow);
    SECTION("a rename replayed moves a directory's records, not its siblings'") {
        own.follow({{"d", "t"}}, {RenameReplay::Renamed}, kNow + 10);
        CHECK(own.wrote("t", present(1, kNow + 5), kNow + 10));  // the rename moved its ctime
        CHECK(own.wrote("t/x", present(2), kNow + 10));
        CHECK_FALSE(own.wrote("t/old", present(5), kNow + 10));  // the rename replaced t
        CHECK_FALSE(own.wrote("d/x", present(2), kNow + 10));
        CHECK(own.wrote("d-x", present(3), kNow + 10));
        CHECK(own.wrote("d.x", present(4), kNow + 10));
    }
    SECTION("a rename not replayed moves nothing") {
        own.follow({{"d", "t"}}, {RenameReplay::NotReplayed}, kNow + 10);
        CHECK(own.wrote("d/x", present(2), kNow + 10));
        CHECK(own.wrote("t/old", present(5), kNow + 10));
    }
    SECTION("an exchange swaps both names' records") {
        own.follow({{"d", "t"}, {"t", "d"}}, {RenameReplay::Exchanged, RenameReplay::Exchanged}, kNow + 10);
        CHECK(own.wrote("t/x", present(2), kNow + 10));
        CHECK(own.wrote("d/old", present(5), kNow + 10));
        CHECK_FALSE(own.wrote("d/x", present(2), kNow + 10));
    }
    SECTION("renames in order: a swap through a third name") {
        own.record({{"e", false, 6}, {"e/y", false, 7}}, kNow);
        own.follow({{"d", "tmp"}, {"e", "d"}, {"tmp", "e"}},
                   {RenameReplay::Renamed, RenameReplay::Renamed, RenameReplay::Renamed}, kNow + 10);
        CHECK(own.wrote("e/x", present(2), kNow + 10));
        CHECK(own.wrote("d/y", present(7), kNow + 10));
        CHECK_FALSE(own.wrote("tmp/x", present(2), kNow + 10));
    }
}
