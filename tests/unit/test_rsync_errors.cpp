#include <catch2/catch.hpp>

#include "rsync_errors.h"

using namespace clsync;

TEST_CASE("exit 0 and 24 are complete runs; other codes are failures") {
    CHECK(classify_rsync_run(0, "") == RsyncOutcome::Complete);
    CHECK(classify_rsync_run(24, "file has vanished: \"/s/x\"\n") == RsyncOutcome::Complete);
    CHECK(classify_rsync_run(11, "") == RsyncOutcome::Failed);
    CHECK(classify_rsync_run(30, "timeout") == RsyncOutcome::Failed);
}

TEST_CASE("exit 23 from the source changing after rsync listed it is complete") {
    CHECK(classify_rsync_run(
              23,
              "file has vanished: \"/s/a\"\n"
              "rsync: [sender] send_files failed to open \"/s/b\": Is a directory (21)\n"
              "rsync: [sender] send_files failed to open \"/s/c\": Too many levels of symbolic links (40)\n"
              "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at "
              "main.c(1394) [sender=3.5.0]\n") == RsyncOutcome::Complete);
}

TEST_CASE("a source changing while rsync lists it skips deletions: the batch is retried") {
    CHECK(classify_rsync_run(23,
                             "rsync: [sender] opendir \"/s/flip\" failed: Not a directory (20)\n"
                             "IO error encountered -- skipping file deletion\n") == RsyncOutcome::Retry);
    CHECK(classify_rsync_run(23, "rsync: [sender] link_stat \"/s/d\" failed: No such file or directory (2)\n") ==
          RsyncOutcome::Retry);
    // Whatever the exit status, skipped deletions are never a complete run.
    CHECK(classify_rsync_run(24, "IO error encountered -- skipping file deletion\n") == RsyncOutcome::Retry);
}

TEST_CASE("exit 23 with any other error is a failure") {
    CHECK(classify_rsync_run(23, "rsync: [sender] send_files failed to open \"/s/b\": Permission denied (13)\n") ==
          RsyncOutcome::Failed);
    CHECK(classify_rsync_run(23,
                             "rsync: [sender] opendir \"/s/x\" failed: Not a directory (20)\n"
                             "rsync: [receiver] mkstemp \"/d/.x.XXXX\" failed: No space left on device (28)\n") ==
          RsyncOutcome::Failed);
    CHECK(classify_rsync_run(23, "") == RsyncOutcome::Failed);  // no explanation: not provably harmless
}

TEST_CASE("rsync 3.2.4 or later is required") {
    std::string found;
    CHECK(rsync_version_supported("rsync  version 3.2.7  protocol version 31\n", found));
    CHECK(found == "3.2.7");
    CHECK(rsync_version_supported("rsync  version 3.5.0  protocol version 32\n", found));
    CHECK(rsync_version_supported("rsync  version 3.2.4  protocol version 31\n", found));
    CHECK(rsync_version_supported("rsync  version v4.0.0\n", found) == false);  // not a number: refused
    CHECK_FALSE(rsync_version_supported("rsync  version 3.2.3  protocol version 31\n", found));
    CHECK(found == "3.2.3");
    CHECK_FALSE(rsync_version_supported("rsync  version 3.1.3  protocol version 31\n", found));
    CHECK_FALSE(rsync_version_supported("not rsync at all\n", found));
    CHECK(found.empty());
}

TEST_CASE("a listed directory deleted from the source before rsync ran is synced again") {
    CHECK(classify_rsync_run(23,
                             "cannot delete non-empty directory: a/gone\n"
                             "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at "
                             "main.c(1394) [generator=3.5.0]\n") == RsyncOutcome::Retry);
}

TEST_CASE("written_paths_in_log reads what an rsync run wrote") {
    std::string log =
        "2026/11/27 09:47:14 [10374] building file list\n"
        "2026/11/27 09:47:14 [10374] cd+++++++++ d/\n"
        "2026/11/27 09:47:14 [10374] .d..t...... ./\n"
        "2026/11/27 09:47:14 [10374] >f+++++++++ d/a\\#012b\n"
        "2026/11/27 09:47:14 [10374] >f.st...... d/back\\slash\n"
        "2026/11/27 09:47:14 [10374] .f...p..... d/mode only\n"
        "2026/11/27 09:47:14 [10374] cL+++++++++ d/link\n"
        "2026/11/27 09:47:14 [10374] hf+++++++++ d/second name\n"
        "2026/11/27 09:47:14 [10374] *deleting   d/gone\n"
        "2026/11/27 09:47:14 [10374] sent 338 bytes  received 101 bytes  total size 4\n"
        "2026/11/27 09:47:14 [10374] >f+++++++++ d/\\#303\\#251t\\#3";
    CHECK(written_paths_in_log(log) ==
          std::vector<std::string>{"d", "d/a\nb", "d/back\\slash", "d/link", "d/second name", "d/\xc3\xa9t\\#3"});
    CHECK(written_paths_in_log("").empty());
    CHECK(written_paths_in_log("no brackets >f+++++++++ x\n").empty());
}

TEST_CASE("kept_newer_paths takes what --update left alone out of rsync's messages") {
    std::string messages =
        "d/f\\#012x is newer\n"
        "rsync: [sender] send_files failed to open \"/s/gone\": No such file or directory (2)\n"
        "d/name is newer is newer\n"
        "d/g is newer\n"
        "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) "
        "[sender=3.5.0]\n";
    CHECK(classify_rsync_run(23, messages) == RsyncOutcome::Complete);
    CHECK(kept_newer_paths(messages) == std::vector<std::string>{"d/f\nx", "d/name is newer", "d/g"});
    CHECK(messages ==
          "rsync: [sender] send_files failed to open \"/s/gone\": No such file or directory (2)\n"
          "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) "
          "[sender=3.5.0]\n");
    std::string none = "rsync: something else\n";
    CHECK(kept_newer_paths(none).empty());
    CHECK(none == "rsync: something else\n");
    std::string bare = " is newer\n";  // no name: not such a line
    CHECK(kept_newer_paths(bare).empty());
}
