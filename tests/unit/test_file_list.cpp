#include <catch2/catch.hpp>

#include "file_list.h"

using namespace clsync;

TEST_CASE("each path comes with its ancestors, once each") {
    auto rules = split_nul_list(rsync_include_rules({{"a/b/c", false}, {"a/b/d", false}}));
    CHECK(rules == std::vector<std::string>{"/a/", "/a/b/", "/a/b/c", "/a/b/d"});
}

TEST_CASE("recursive paths include everything below them") {
    auto rules = split_nul_list(rsync_include_rules({{"dir", true}}));
    CHECK(rules == std::vector<std::string>{"/dir", "/dir/***"});
}

TEST_CASE("names with newlines and leading dashes pass unchanged") {
    auto rules = split_nul_list(rsync_include_rules({{"new\nline", false}, {"-rf", false}, {"#x", false}}));
    CHECK(rules == std::vector<std::string>{"/new\nline", "/-rf", "/#x"});
}

TEST_CASE("wildcards are escaped only where rsync would interpret them") {
    CHECK(rsync_pattern("a[1]*?", "") == "/a\\[1]\\*\\?");
    CHECK(rsync_pattern("back\\slash", "") == "/back\\slash");            // literal rule: no escaping
    CHECK(rsync_pattern("back\\slash", "/***") == "/back\\\\slash/***");  // wild rule: escaped
    CHECK(rsync_pattern("st*r\\", "") == "/st\\*r\\\\");
}

TEST_CASE("non-UTF-8 bytes pass unchanged") {
    std::string name = "bad\xff\xfe";
    auto rules = split_nul_list(rsync_include_rules({{name, false}}));
    CHECK(rules == std::vector<std::string>{"/" + name});
}

TEST_CASE("split_nul_list round-trips") {
    CHECK(split_nul_list(std::string("a\0b\0", 4)) == std::vector<std::string>{"a", "b"});
    CHECK(split_nul_list("").empty());
}

TEST_CASE("the top directory is never listed: rsync syncs it in every run") {
    CHECK(split_nul_list(rsync_include_rules({{"", false}, {"a", false}})) == std::vector<std::string>{"/a"});
}

TEST_CASE("the depth limit pattern matches directories exactly kMaxSyncDepth levels deep") {
    CHECK(path_depth("") == 0);
    CHECK(path_depth("a") == 1);
    CHECK(path_depth("a/b/c") == 3);
    std::string pattern = rsync_depth_limit_pattern();
    CHECK(pattern.size() == 1 + 2 * static_cast<std::size_t>(kMaxSyncDepth));
    CHECK(pattern.find_first_not_of("/*") == std::string::npos);
}
