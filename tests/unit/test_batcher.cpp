#include <catch2/catch.hpp>

#include "batcher.h"

using namespace clsync;

TEST_CASE("a batch keeps its paths") {
    Batch b = make_batch({{"a", false}, {"b", true}}, 10);
    CHECK_FALSE(b.full_tree);
    CHECK(b.paths.size() == 2);
}

TEST_CASE("a batch with the recursive root or too many paths syncs the whole tree") {
    CHECK(make_batch({{"", true}, {"b", false}}, 10).full_tree);
    CHECK(make_batch({{"a", false}, {"b", false}, {"c", false}}, 2).full_tree);
}

TEST_CASE("a change of the top directory's own attributes is not a whole-tree sync") {
    CHECK_FALSE(make_batch({{"", false}}, 10).full_tree);
}
