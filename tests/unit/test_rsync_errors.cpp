#include <catch2/catch.hpp>

#include "rsync_errors.h"

using namespace clsync;

TEST_CASE("exit 0 and 24 are complete runs; other codes are failures") {
    CHECK(rsync_run_complete(0, ""));
    CHECK(rsync_run_complete(24, "file has vanished: \"/s/x\"\n"));
    CHECK_FALSE(rsync_run_complete(11, ""));
    CHECK_FALSE(rsync_run_complete(30, "timeout"));
}

TEST_CASE("exit 23 from the source changing during the run is complete") {
    CHECK(rsync_run_complete(
        23,
        "file has vanished: \"/s/a\"\n"
        "rsync: [sender] send_files failed to open \"/s/b\": Is a directory (21)\n"
        "rsync: [sender] send_files failed to open \"/s/c\": Too many levels of symbolic links (40)\n"
        "rsync: [sender] link_stat \"/s/d\" failed: No such file or directory (2)\n"
        "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at "
        "main.c(1394) [sender=3.5.0]\n"));
}

TEST_CASE("exit 23 with any other error is a failure") {
    CHECK_FALSE(rsync_run_complete(23, "rsync: [sender] send_files failed to open \"/s/b\": Permission denied (13)\n"));
    CHECK_FALSE(rsync_run_complete(23,
                                   "file has vanished: \"/s/a\"\n"
                                   "IO error encountered -- skipping file deletion\n"));
    CHECK_FALSE(
        rsync_run_complete(23, "rsync: [receiver] mkstemp \"/d/.x.XXXX\" failed: No space left on device (28)\n"));
    CHECK_FALSE(rsync_run_complete(23, ""));  // no explanation: not provably harmless
}
