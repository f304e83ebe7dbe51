#include <catch2/catch.hpp>

#include "dir_handle_cache.h"

using namespace clsync;

TEST_CASE("deleting a directory forgets it and everything below it") {
    DirHandleCache cache;
    cache.insert("h-a", "a");
    cache.insert("h-b", "a/b");
    cache.insert("h-x", "x");
    cache.erase_tree("a");
    CHECK_FALSE(cache.find("h-a"));
    CHECK_FALSE(cache.find("h-b"));
    CHECK(cache.find("h-x"));
}

TEST_CASE("a handle seen at a new path, or a path taken by a new handle, keeps the maps inverse") {
    DirHandleCache cache;
    cache.insert("h1", "a");
    cache.insert("h1", "b");  // moved unseen
    CHECK(*cache.find("h1") == "b");
    cache.insert("h2", "b");  // replaced unseen
    CHECK_FALSE(cache.find("h1"));
    CHECK(*cache.find("h2") == "b");
    cache.erase_tree("b");
    CHECK(cache.size() == 0);
}
