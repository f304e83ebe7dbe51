#include "batcher.h"

#include <catch2/catch.hpp>

using namespace clsync;

TEST_CASE("a batch keeps its paths") {
    Batch b = make_batch({{"a", false}, {"b", true}}, 10);
    CHECK_FALSE(b.full_tree);
    CHECK(b.paths.size() == 2);
}

TEST_CASE("a batch with the root or too many paths syncs the whole tree") {
    CHECK(make_batch({{"", true}, {"b", false}}, 10).full_tree);
    CHECK(make_batch({{"a", false}, {"b", false}, {"c", false}}, 2).full_tree);
}

TEST_CASE("in-flight paths conflict with themselves, ancestors and descendants only") {
    InFlightPaths f;
    Batch b = make_batch({{"a/b", false}}, 10);
    f.add(b);
    CHECK(f.conflicts("a/b"));
    CHECK(f.conflicts("a"));
    CHECK(f.conflicts("a/b/c"));
    CHECK(f.conflicts(""));
    CHECK_FALSE(f.conflicts("a/bc"));
    CHECK_FALSE(f.conflicts("a/c"));
    CHECK_FALSE(f.conflicts("b"));
    f.remove(b);
    CHECK_FALSE(f.conflicts("a/b"));
    CHECK(f.empty());
}

TEST_CASE("a whole-tree batch in flight conflicts with every path") {
    InFlightPaths f;
    Batch b = make_batch({{"", true}}, 10);
    f.add(b);
    CHECK(f.conflicts("anything"));
    f.remove(b);
    CHECK_FALSE(f.conflicts("anything"));
}
