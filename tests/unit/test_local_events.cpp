#include <catch2/catch.hpp>

#include "batcher.h"
#include "local_events.h"

using namespace clsync;

TEST_CASE("a path was last touched by its own event or one naming all below a directory above it") {
    LocalEvents local({{"a", {100, 0}},      // an attribute change of a: not of what is in it
                       {"a/b", {200, 150}},  // made (a subtree) at 150, changed at 200
                       {"a/b/c/d", {120, 0}},
                       {"x", {50, 300}},  // renamed at 300
                       {"", {400, 0}}});  // the top's attributes
    CHECK(local.last_touching("a") == 100);
    CHECK(local.last_touching("a/b") == 200);
    CHECK(local.last_touching("a/b/c") == 150);    // below b, made at 150
    CHECK(local.last_touching("a/b/c/d") == 150);  // its own event came before
    CHECK(local.last_touching("a/other") == 0);    // a's 100 named a itself only
    CHECK(local.last_touching("x/y/z") == 300);
    CHECK(local.last_touching("xy") == 0);  // a sibling sharing the prefix
    CHECK(local.last_touching("never") == 0);
}

TEST_CASE("event times merge to the latest of each kind") {
    EventTimes t{100, 0};
    t.merge({50, 80});
    CHECK(t.seen_us == 100);
    CHECK(t.subtree_seen_us == 80);
}

TEST_CASE("an event names its path, all below it when recursive, and all below both names of a rename") {
    auto named = paths_named(PathEvent{"a/f"}, 10);
    REQUIRE(named.size() == 1);
    CHECK(named[0].first == "a/f");
    CHECK(named[0].second.seen_us == 10);
    CHECK(named[0].second.subtree_seen_us == 0);
    PathEvent made{"d", true};
    CHECK(paths_named(made, 20)[0].second.subtree_seen_us == 20);
    PathEvent renamed{"new"};
    renamed.renamed_from = "old";
    named = paths_named(renamed, 30);
    REQUIRE(named.size() == 2);
    CHECK(named[0].first == "new");
    CHECK(named[1].first == "old");
    for (const auto& [path, times] : named) CHECK(times.subtree_seen_us == 30);
}

TEST_CASE("events added later merge with earlier ones, and old ones are forgotten") {
    LocalEvents local;
    local.add("a", {100, 0});
    local.add("a", {50, 90});
    local.add("b", {40, 0});
    CHECK(local.last_touching("a") == 100);
    CHECK(local.last_touching("a/x") == 90);
    local.forget_before(95);  // a's latest event (100) is kept whole
    CHECK(local.last_touching("a/x") == 90);
    CHECK(local.last_touching("b") == 0);
}

TEST_CASE("an entry changed here no later than its ctime, whatever event found it since") {
    LocalEvents local;
    local.add("d", {0, 5000});  // a directory a peer's run made here, scanned at 5 ms
    EntryState old_entry;
    old_entry.kind = EntryState::Kind::Present;
    old_entry.ctime_ns = 2000 * 1000;  // written at 2 ms (by the peer's run), unchanged since
    CHECK(local.last_change("d/x", old_entry) == 2000);
    EntryState changed = old_entry;
    changed.ctime_ns = 7000 * 1000;  // changed after the event: the event is the bound
    CHECK(local.last_change("d/x", changed) == 5000);
    CHECK(local.last_change("d/x", EntryState{}) == 5000);  // gone: only the event tells
    CHECK(local.last_change("elsewhere", old_entry) == 0);  // no event: none here
}
