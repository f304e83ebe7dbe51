#include <catch2/catch.hpp>

#include "dir_handle_cache.h"

using namespace clsync;

TEST_CASE("the handle cache maps handles to paths and follows renames of subtrees") {
    DirHandleCache cache;
    cache.insert("h-top", "srv/top");
    cache.insert("h-a", "srv/top/a");
    cache.insert("h-b", "srv/top/a/b");
    cache.insert("h-ab", "srv/top/ab");
    cache.rename_tree("srv/top/a", "srv/top/z");
    REQUIRE(cache.find("h-a"));
    CHECK(*cache.find("h-a") == "srv/top/z");
    CHECK(*cache.find("h-b") == "srv/top/z/b");
    CHECK(*cache.find("h-ab") == "srv/top/ab");  // a sibling sharing the prefix stays
    CHECK(*cache.find("h-top") == "srv/top");
}

TEST_CASE("a rename over a directory forgets the replaced one") {
    DirHandleCache cache;
    cache.insert("h-a", "a");
    cache.insert("h-old", "b");
    cache.insert("h-old-child", "b/c");
    cache.rename_tree("a", "b");
    CHECK(*cache.find("h-a") == "b");
    CHECK_FALSE(cache.find("h-old"));
    CHECK_FALSE(cache.find("h-old-child"));
    CHECK(cache.size() == 1);
}

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
