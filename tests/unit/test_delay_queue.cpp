#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "delay_queue.h"

using namespace clsync;
using namespace std::chrono_literals;

namespace {
const DelayQueue::Delays kDelays{Millis(1000), Millis(30000)};
const TimePoint t0{};  // the fake clock's epoch
}  // namespace

TEST_CASE("an entry is due one window after it was first seen") {
    DelayQueue q(kDelays);
    q.add("a", false, SizeClass::Normal, t0);
    REQUIRE(q.next_due() == t0 + 1000ms);
    CHECK(q.take_due(t0 + 999ms).empty());
    auto taken = q.take_due(t0 + 1000ms);
    REQUIRE(taken.size() == 1);
    CHECK(taken[0] == QueuedPath{"a", false});
    CHECK(q.empty());
    CHECK_FALSE(q.next_due());
}

TEST_CASE("repeated events on one path fold into one entry and keep the first time") {
    DelayQueue q(kDelays);
    q.add("a", false, SizeClass::Normal, t0);
    q.add("a", false, SizeClass::Normal, t0 + 500ms);
    q.add("a", true, SizeClass::Normal, t0 + 900ms);
    CHECK(q.size() == 1);
    CHECK(q.next_due() == t0 + 1000ms);  // bounded window, not a debounce
    auto taken = q.take_due(t0 + 1000ms);
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].recursive);
}

TEST_CASE("when a window closes, every entry of its class is taken") {
    DelayQueue q(kDelays);
    q.add("a", false, SizeClass::Normal, t0);
    q.add("b", false, SizeClass::Normal, t0 + 900ms);
    auto taken = q.take_due(t0 + 1000ms);
    CHECK(taken.size() == 2);
}

TEST_CASE("big files wait for their own, longer window") {
    DelayQueue q(kDelays);
    q.add("big", false, SizeClass::Big, t0);
    q.add("small", false, SizeClass::Normal, t0);
    auto taken = q.take_due(t0 + 1000ms);
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].path == "small");
    CHECK(q.next_due() == t0 + 30000ms);
    CHECK(q.take_due(t0 + 30000ms).size() == 1);
}

TEST_CASE("a file that grows big moves to the big window") {
    DelayQueue q(kDelays);
    q.add("f", false, SizeClass::Normal, t0);
    q.add("f", false, SizeClass::Big, t0 + 100ms);
    CHECK(q.next_due() == t0 + 30000ms);
}

TEST_CASE("a recursive entry absorbs the entries below it") {
    DelayQueue q(kDelays);
    q.add("d/x", false, SizeClass::Normal, t0);
    q.add("d/y/z", false, SizeClass::Big, t0 + 10ms);
    q.add("dx", false, SizeClass::Normal, t0 + 10ms);  // a sibling sharing the prefix stays
    q.add("d", true, SizeClass::Normal, t0 + 200ms);
    CHECK(q.size() == 2);
    CHECK(q.next_due() == t0 + 1000ms);  // keeps the earliest absorbed time
    q.add("d/later", false, SizeClass::Normal, t0 + 300ms);
    CHECK(q.size() == 2);
    auto taken = q.take_due(t0 + 1000ms);
    REQUIRE(taken.size() == 2);
    CHECK(taken[0] == QueuedPath{"d", true});
    CHECK(taken[1] == QueuedPath{"dx", false});
}

TEST_CASE("the whole-tree entry absorbs everything") {
    DelayQueue q(kDelays);
    q.add("a", false, SizeClass::Normal, t0);
    q.add("b/c", true, SizeClass::Normal, t0);
    q.add("", true, SizeClass::Normal, t0 + 10ms);
    q.add("z", false, SizeClass::Normal, t0 + 20ms);
    CHECK(q.size() == 1);
}

TEST_CASE("is_ancestor compares whole path components") {
    CHECK(is_ancestor("", "a"));
    CHECK_FALSE(is_ancestor("", ""));
    CHECK(is_ancestor("a", "a/b"));
    CHECK(is_ancestor("a/b", "a/b/c"));
    CHECK_FALSE(is_ancestor("a", "ab"));
    CHECK_FALSE(is_ancestor("a", "a"));
    CHECK_FALSE(is_ancestor("a/b", "a"));
}

TEST_CASE("erase_subtree takes the root and what lies below it, never prefix siblings") {
    std::set<std::string> paths{"a", "a!", "a-b", "a/b", "a/b/c", "ab", "b"};
    std::vector<std::string> seen;
    erase_subtree(paths, "a", true, [&seen](const std::string& p) { seen.push_back(p); });
    CHECK(seen == std::vector<std::string>{"a", "a/b", "a/b/c"});
    CHECK(paths == std::set<std::string>{"a!", "a-b", "ab", "b"});

    std::map<std::string, int> watches{{"", 1}, {"x", 2}, {"x/y", 3}};
    erase_subtree(watches, "", false, [](const auto&) {});
    CHECK(watches == std::map<std::string, int>{{"", 1}});
}

TEST_CASE("a rename moves the pending entries below the old name to the new one") {
    DelayQueue q(kDelays);
    q.add("a/f", false, SizeClass::Normal, t0);
    q.add("a/sub", true, SizeClass::Normal, t0 + 100ms);
    q.add("ab", false, SizeClass::Normal, t0 + 100ms);  // shares the prefix only
    q.rename("a", "b", t0 + 200ms);
    CHECK(q.next_due() == t0 + 1000ms);  // moved entries keep their time
    auto taken = q.take_due(t0 + 1000ms);
    CHECK(taken == std::vector<QueuedPath>{{"ab", false}, {"b/f", false}, {"b/sub", true}});
    CHECK(q.take_renames() == std::vector<Rename>{{"a", "b"}});
    CHECK(q.empty());
}

TEST_CASE("renames are kept in order and wait in the window of ordinary files") {
    DelayQueue q(kDelays);
    q.rename("a", "t", t0);
    q.rename("b", "a", t0 + 10ms);
    q.rename("t", "b", t0 + 20ms);
    CHECK_FALSE(q.empty());
    CHECK(q.size() == 3);
    REQUIRE(q.next_due() == t0 + 1000ms);
    CHECK(q.take_due(t0 + 1000ms).empty());
    CHECK(q.take_renames() == std::vector<Rename>{{"a", "t"}, {"b", "a"}, {"t", "b"}});
    CHECK(q.empty());
}

TEST_CASE("an exchange (a -> b, b -> a) leaves what was pending under both names") {
    // A chmod of file a, then renameat2(a, b, RENAME_EXCHANGE): the changed file is b
    // now. Two plain renames look the same and leave it at a: both are synced.
    DelayQueue q(kDelays);
    q.add("a", false, SizeClass::Normal, t0);
    q.add("b/f", false, SizeClass::Normal, t0 + 100ms);
    q.rename("a", "b", t0 + 200ms);
    q.rename("b", "a", t0 + 200ms);
    CHECK(q.take_due(t0 + 1000ms) == std::vector<QueuedPath>{{"a", false}, {"a/f", false}, {"b", false}});
    CHECK(q.take_renames() == std::vector<Rename>{{"a", "b"}, {"b", "a"}});

    // Not after renames of other names in between, nor across batches.
    q.add("c", false, SizeClass::Normal, t0 + 2000ms);
    q.rename("c", "d", t0 + 2000ms);
    q.rename("x", "y", t0 + 2000ms);
    q.rename("d", "c", t0 + 2000ms);
    CHECK(q.take_due(t0 + 3000ms) == std::vector<QueuedPath>{{"c", false}});
    q.take_renames();
    q.add("e", false, SizeClass::Normal, t0 + 4000ms);
    q.rename("e", "g", t0 + 4000ms);
    CHECK(q.take_due(t0 + 5000ms) == std::vector<QueuedPath>{{"g", false}});
    q.take_renames();
    q.rename("g", "e", t0 + 6000ms);
    CHECK(q.take_due(t0 + 7000ms).empty());
}

TEST_CASE("an exchange out of a recursively pending directory syncs both names whole") {
    DelayQueue q(kDelays);
    q.add("new", true, SizeClass::Normal, t0);
    q.rename("new/f", "g", t0 + 100ms);
    q.rename("g", "new/f", t0 + 100ms);
    CHECK(q.take_due(t0 + 1000ms) == std::vector<QueuedPath>{{"g", true}, {"new", true}});
}

TEST_CASE("a rename out of a recursively pending directory syncs the new name whole") {
    DelayQueue q(kDelays);
    q.add("new", true, SizeClass::Normal, t0);  // created in this window: not at the destination
    q.add("new/f", false, SizeClass::Normal, t0);
    q.rename("new/f", "g", t0 + 100ms);
    auto taken = q.take_due(t0 + 1000ms);
    CHECK(taken == std::vector<QueuedPath>{{"g", true}, {"new", true}});
}

TEST_CASE("a rename into a recursively pending directory is covered by it") {
    DelayQueue q(kDelays);
    q.add("new", true, SizeClass::Normal, t0);
    q.add("old/f", false, SizeClass::Normal, t0);
    q.rename("old", "new/old", t0 + 100ms);
    CHECK(q.take_due(t0 + 1000ms) == std::vector<QueuedPath>{{"new", true}});
}

TEST_CASE("the whole tree entry covers every path and keeps the earliest time") {
    DelayQueue q(kDelays);
    q.add("a/b", false, SizeClass::Normal, t0);
    CHECK_FALSE(q.covers_whole_tree());
    q.add("", true, SizeClass::Normal, t0 + 500ms);
    CHECK(q.covers_whole_tree());
    q.add("c", false, SizeClass::Normal, t0 + 600ms);
    CHECK(q.size() == 1);
    CHECK(q.next_due() == t0 + 1000ms);
}

TEST_CASE("requeued paths follow the renames that happened since they were taken") {
    DelayQueue q(kDelays);
    q.rename("a", "b", t0);
    q.requeue({{"a/f", false}, {"x", true}}, t0);
    q.rename("x/moved", "y", t0);
    auto taken = q.take_due(t0 + 1000ms);
    CHECK(taken == std::vector<QueuedPath>{{"b/f", false}, {"x", true}, {"y", true}});
}

TEST_CASE("after a clean run only the paths renamed since come back") {
    DelayQueue q(kDelays);
    q.rename("a", "b", t0);
    q.requeue({{"a/f", false}, {"c", false}, {"", true}}, t0, true);
    // "" covered a part of "a": all of "b" comes back (and covers "b/f"); "c" does not.
    CHECK(q.take_due(t0 + 1000ms) == std::vector<QueuedPath>{{"b", true}});
    CHECK(q.take_renames() == std::vector<Rename>{{"a", "b"}});
}

TEST_CASE("requeued paths under many nested renames stay few") {
    // Each rename moves a directory into the one the previous rename made: every new
    // name lies below all earlier ones, and each copy of them once added it again.
    DelayQueue q(kDelays);
    std::string dir = "a";
    for (int i = 0; i < 60; ++i) {
        std::string next = dir + "/d" + std::to_string(i);
        q.rename(dir + "/s" + std::to_string(i), next, t0);
        dir = next;
    }
    auto back = q.requeue({{"", true}, {"a", true}, {"a", true}, {"a", false}}, t0);
    CHECK(back.size() <= 3 + 60);  // each distinct path, and one new name per rename
    CHECK(q.take_due(t0 + 1000ms) == std::vector<QueuedPath>{{"", true}});
}

TEST_CASE("renames put back go before those that came since, and are due at once") {
    DelayQueue q(kDelays);
    q.rename("b", "c", t0 + 5000ms);
    q.requeue({{"a", false}}, t0);  // the deferred batch's paths: not moved by its own renames
    q.put_back_renames({{"x", "a"}, {"a", "b"}}, t0);
    CHECK(q.next_due() == t0 + 1000ms);
    CHECK(q.take_due(t0 + 1000ms) == std::vector<QueuedPath>{{"a", false}});
    CHECK(q.take_renames() == std::vector<Rename>{{"x", "a"}, {"a", "b"}, {"b", "c"}});
    q.put_back_renames({}, t0);
    CHECK(q.empty());
}
