#include <catch2/catch.hpp>

#include "mount_table.h"

using namespace clsync;

namespace {
const char* kMountinfo =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 0:26 / /srv/data/mnt rw shared:5 - tmpfs tmpfs rw\n"
    "31 30 0:27 / /srv/data/mnt/inner rw - tmpfs tmpfs rw\n"
    "32 22 0:28 / /srv/data2 rw - tmpfs tmpfs rw\n"
    "33 22 0:29 / /srv/data/with\\040space rw - tmpfs tmpfs rw\n"
    "34 22 0:30 / /srv/data rw - tmpfs tmpfs rw\n";
}

TEST_CASE("mount points strictly below the root, relative and unescaped") {
    auto below = mount_points_below(kMountinfo, "/srv/data");
    CHECK(below == std::set<std::string>{"mnt", "mnt/inner", "with space"});
}

TEST_CASE("below / every other mount point counts") {
    auto below = mount_points_below(kMountinfo, "/");
    CHECK(below.count("srv/data2"));
    CHECK_FALSE(below.count(""));
}
