#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "content_signature.h"
#include "expected_changes.h"
#include "unique_fd.h"

using namespace clsync;

namespace {

const TimePoint kStart{};

// A scratch directory, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir() {
        gchar* made = g_dir_make_tmp("clsync-signature-XXXXXX", nullptr);
        REQUIRE(made);
        path = made;
        g_free(made);
    }
    ~TempDir() {
        std::string command = "rm -rf '" + path + "'";
        REQUIRE(system(command.c_str()) == 0);
    }
    std::string at(const std::string& name) const { return path + "/" + name; }
    void write(const std::string& name, const std::string& content) const {
        REQUIRE(g_file_set_contents(at(name).c_str(), content.data(), static_cast<gssize>(content.size()), nullptr));
    }
    EntryState state(const std::string& name) const {
        UniqueFd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY));
        return entry_state(dir.get(), name.c_str());
    }
    void set_mtime(const std::string& name, time_t seconds, long nanoseconds = 0) const {
        struct timespec times[2] = {{seconds, nanoseconds}, {seconds, nanoseconds}};
        REQUIRE(utimensat(AT_FDCWD, at(name).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
    }
};

}  // namespace

TEST_CASE("a notice's paths are expected until they expire or are announced again") {
    ExpectedChanges expected;
    expected.expect("b", {{"dir/f", false, 11}, {"gone", true, 0}, {kRootWirePath, false, 5}}, kStart);
    REQUIRE(expected.find("dir/f", kStart)->signature == 11);
    REQUIRE(expected.find("dir/f", kStart)->node == "b");
    REQUIRE(expected.find("gone", kStart)->deleted);
    REQUIRE(expected.find("", kStart)->signature == 5);  // the top directory
    REQUIRE_FALSE(expected.find("dir", kStart));
    REQUIRE_FALSE(expected.find("dir/f", kStart + kExpectationLifetime));

    expected.expect("c", {{"dir/f", true, 0}}, kStart + Millis(10));
    REQUIRE(expected.find("dir/f", kStart + kExpectationLifetime)->deleted);
    REQUIRE(expected.find("dir/f", kStart)->node == "c");
    expected.expire(kStart + kExpectationLifetime, 0);
    REQUIRE(expected.size() == 1);
}

TEST_CASE("a writer's temporary names of an announced file are recognised") {
    ExpectedChanges expected;
    std::string long_name(250, 'n');
    expected.expect("b", {{"d/report.txt", false, 1}, {"d/old", true, 0}, {"d/" + long_name, false, 2}}, kStart);
    REQUIRE(expected.is_writer_temp("d/.report.txt.a1B2c3", kStart));         // rsync
    REQUIRE(expected.is_writer_temp("d/.report.txt.clsync-Zz09aa", kStart));  // -M librsync
    // rsync keeps only the start of a long name.
    REQUIRE(expected.is_writer_temp("d/." + long_name.substr(0, 247) + ".abcdef", kStart));
    REQUIRE_FALSE(expected.is_writer_temp("d/.report.txt.a1B2c", kStart));   // five characters
    REQUIRE_FALSE(expected.is_writer_temp("d/.report.txt.a1B2c!", kStart));  // not alphanumeric
    REQUIRE_FALSE(expected.is_writer_temp("d/report.txt.a1B2c3", kStart));   // no leading dot
    REQUIRE_FALSE(expected.is_writer_temp(".report.txt.a1B2c3", kStart));    // another directory
    REQUIRE_FALSE(expected.is_writer_temp("d/.old.a1B2c3", kStart));         // announced as deleted
    REQUIRE_FALSE(expected.is_writer_temp("d/.report.a1B2c3", kStart));      // a short name is whole
    REQUIRE_FALSE(expected.is_writer_temp("d/.report.txt.a1B2c3", kStart + kExpectationLifetime));
}

TEST_CASE("rsync 3.5's temporary names of dot files are recognised") {
    // Seen with rsync 3.5.0: no second dot before a NAME starting with one, none
    // after a NAME ending with one.
    ExpectedChanges expected;
    expected.expect("b", {{".hid", false, 1}, {"...", false, 2}, {"a.", false, 3}, {".a.", false, 4}}, kStart);
    REQUIRE(expected.is_writer_temp(".hid.6iS9uZ", kStart));
    REQUIRE(expected.is_writer_temp("...PhgBdK", kStart));
    REQUIRE(expected.is_writer_temp(".a.hAADkK", kStart));
    REQUIRE(expected.is_writer_temp(".a.WpFZ55", kStart));
    REQUIRE_FALSE(expected.is_writer_temp(".hid.6iS9u", kStart));
    REQUIRE_FALSE(expected.is_writer_temp(".other.6iS9uZ", kStart));
}

TEST_CASE("rsync's numbered temporary names of symlinks are recognised") {
    // get_tmpname(make_unique): ".NAME" and a number of up to six digits, made from
    // rsync's pid (seen: a peer's symlink delivered as "nodeC/.n6-\n\n[[f\\.7280").
    ExpectedChanges expected;
    expected.expect("b", {{"d/link", false, 1}, {"d/.hid", false, 2}}, kStart);
    REQUIRE(expected.is_writer_temp("d/.link.7280", kStart));
    REQUIRE(expected.is_writer_temp("d/.link.0", kStart));
    REQUIRE(expected.is_writer_temp("d/.link.999999", kStart));
    REQUIRE(expected.is_writer_temp("d/.hid.42", kStart));
    REQUIRE_FALSE(expected.is_writer_temp("d/.link.1234567", kStart));  // seven digits
    REQUIRE_FALSE(expected.is_writer_temp("d/.link.", kStart));         // no number
    REQUIRE_FALSE(expected.is_writer_temp("d/.link.72a", kStart));      // not a number
    REQUIRE_FALSE(expected.is_writer_temp("d/link.7280", kStart));      // no leading dot
    REQUIRE(is_temp_name_for("d/.link.7280", "d/link"));
    REQUIRE_FALSE(is_temp_name_for("d/.link.7280", "d/other"));
}

TEST_CASE("an earlier announcement of the same node still matches") {
    ExpectedChanges expected;
    expected.expect("b", {{"f", false, 1}}, kStart);
    expected.expect("b", {{"f", false, 2}}, kStart);
    expected.expect("b", {{"f", true, 0}}, kStart);
    expected.expect("b", {{"f", false, 3}}, kStart);
    std::optional<Expectation> e = expected.find("f", kStart);
    REQUIRE(e->matches(false, 3));
    REQUIRE(e->matches(false, 2));
    REQUIRE(e->matches(false, 1));
    REQUIRE_FALSE(e->matches(false, 4));
    REQUIRE_FALSE(e->matches(false, 0));
    REQUIRE_FALSE(e->matches(true, 0));               // the newest says present
    expected.expect("c", {{"f", false, 5}}, kStart);  // another node starts afresh
    REQUIRE_FALSE(expected.find("f", kStart)->matches(false, 3));
}

TEST_CASE("a path below a directory a peer announced deleted went with it") {
    ExpectedChanges expected;
    expected.expect("b", {{"d", true, 0}, {"e", false, 7}}, kStart);
    REQUIRE(expected.deleted_above("d/x/y", kStart)->node == "b");
    REQUIRE_FALSE(expected.deleted_above("d", kStart));    // the path itself is not above
    REQUIRE_FALSE(expected.deleted_above("e/x", kStart));  // written, not deleted
    REQUIRE_FALSE(expected.deleted_above("f/x", kStart));
    expected.expect("b", {{"d/x", false, 8}}, kStart);  // the nearest announcement counts
    REQUIRE_FALSE(expected.deleted_above("d/x/y", kStart));
    REQUIRE_FALSE(expected.deleted_above("d/x/y", kStart + kExpectationLifetime));
}

TEST_CASE("a peer is writing from its notice until its Done") {
    ExpectedChanges expected;
    REQUIRE_FALSE(expected.peer_writing(0));
    expected.expect("b", {{"f", false, 1}}, kStart, 1000, 5);
    expected.expect("c", {{"g", false, 1}}, kStart, 2000);  // no seq: nothing in flight
    REQUIRE(expected.peer_writing(999));
    REQUIRE_FALSE(expected.peer_writing(1000));  // announced before the time asked about
    expected.settle("b", {5}, 3000);
    REQUIRE(expected.find("f", kStart)->settled_at_us == 3000);
    REQUIRE(expected.find("g", kStart)->settled_at_us == 2000);  // no Done expected: its arrival
    REQUIRE_FALSE(expected.peer_writing(0));
}

TEST_CASE("a delivery no notice named yet is the peer's once a peer announces the path") {
    REQUIRE(is_temp_name_for("d/.f.aB3dE9", "d/f"));
    REQUIRE(is_temp_name_for("d/.f.clsync-aB3dE9", "d/f"));
    REQUIRE_FALSE(is_temp_name_for("e/.f.aB3dE9", "d/f"));  // another directory
    REQUIRE_FALSE(is_temp_name_for("d/.g.aB3dE9", "d/f"));
    REQUIRE_FALSE(is_temp_name_for("d/f.tmp", "d/f"));
    ExpectedChanges expected;
    REQUIRE_FALSE(expected.delivery_noted("d/f", kStart));
    expected.note_delivery("d/f", kStart);
    REQUIRE_FALSE(expected.was_delivered("d/f", kStart));  // no peer named it yet
    REQUIRE(expected.delivery_noted("d/f", kStart));
    expected.expect("b", {{"d/f", false, 9}}, kStart);
    REQUIRE(expected.was_delivered("d/f", kStart));
    REQUIRE_FALSE(expected.was_delivered("d/f", kStart + Millis(60000)));
    REQUIRE_FALSE(expected.delivery_noted("d/f", kStart + Millis(60000)));
    expected.forget_delivery("d/f");  // changed here since
    REQUIRE_FALSE(expected.was_delivered("d/f", kStart));
    REQUIRE_FALSE(expected.delivery_noted("d/f", kStart));
}

TEST_CASE("a rename a peer's notice announced is its replay until shortly after its Done") {
    ExpectedChanges expected;
    expected.expect("b", {{"new", false, 5}}, kStart, 1000, 7, {{"old", "new"}, {"new", "old"}});
    REQUIRE(expected.announced_rename("old", "new", 999, 999));       // in flight
    REQUIRE(expected.announced_rename("new", "old", 999, 999));       // the other half of an exchange
    REQUIRE_FALSE(expected.announced_rename("old", "new", 1000, 0));  // announced before the window
    REQUIRE_FALSE(expected.announced_rename("old", "other", 0, 0));
    REQUIRE_FALSE(expected.announced_rename("new", "new", 0, 0));
    expected.settle("b", {7}, 3000);
    REQUIRE(expected.announced_rename("old", "new", 999999, 2999));  // done: judged by its Done
    REQUIRE_FALSE(expected.announced_rename("old", "new", 0, 3000));
    expected.expire(kStart + kExpectationLifetime, 0);
    REQUIRE_FALSE(expected.announced_rename("old", "new", 0, 0));
}

TEST_CASE("announcements follow a rename a peer's run replayed here") {
    ExpectedChanges expected;
    expected.expect("b", {{"old/x", false, 1}, {"old/y", false, 2}, {"old/sub/z", false, 3}, {"older", false, 4}},
                    kStart);
    // The notice of the batch with the rename: the old name gone, the new one as it is now.
    expected.expect("b", {{"old", true, 0}, {"new", false, 5}, {"new/x", false, 6}}, kStart, 0, 7);
    expected.follow_peer_rename("old", "new");
    REQUIRE(expected.find("old", kStart)->deleted);  // the old name itself stays
    REQUIRE_FALSE(expected.find("old/x", kStart));
    REQUIRE(expected.find("new/y", kStart)->matches(false, 2));
    REQUIRE_FALSE(expected.find("new/y", kStart)->in_flight);
    REQUIRE(expected.find("new/sub/z", kStart)->matches(false, 3));
    REQUIRE(expected.find("new/x", kStart)->matches(false, 6));  // the newer announcement
    REQUIRE(expected.find("new/x", kStart)->matches(false, 1));  // and the replay's older state
    REQUIRE(expected.find("new/x", kStart)->in_flight);
    REQUIRE(expected.find("older", kStart)->matches(false, 4));  // a sibling sharing the prefix stays
}

TEST_CASE("what a peer's renames moved here is found under the name it had before them") {
    ExpectedChanges expected;
    // The peer wrote a/d/x; then, in one batch, renamed a to t/m, t/m to b, and b to c
    // (cluster.py seed 187: a chain this node's watcher could not follow).
    expected.expect("b", {{"a/d", false, 1}, {"a/d/x", false, 2}}, kStart);
    expected.expect("b", {{"a", true, 0}, {"c", false, 3}}, kStart, 0, 7,
                    {{"a", "t/m"}, {"t/m", "b"}, {"b", "c"}, {"q", "r"}});
    REQUIRE_FALSE(expected.find("c/d/x", kStart));
    std::optional<Expectation> moved = expected.moved_by_peer("c/d/x", kStart);
    REQUIRE(moved);
    CHECK(moved->node == "b");
    CHECK(moved->once_held(2));
    CHECK_FALSE(moved->once_held(9));  // changed here since
    REQUIRE(expected.moved_by_peer("c/d", kStart)->once_held(1));
    // The old name the batch announced deleted: what it held before still counts.
    expected.expect("b", {{"a/d", true, 0}}, kStart, 0, 8);
    CHECK(expected.moved_by_peer("c/d", kStart)->once_held(1));
    CHECK_FALSE(expected.find("a/d", kStart)->matches(false, 1));
    CHECK_FALSE(expected.moved_by_peer("elsewhere/d", kStart));             // no rename moved it
    CHECK_FALSE(expected.moved_by_peer("cc/d", kStart));                    // a name sharing the prefix
    CHECK_FALSE(expected.moved_by_peer("c/d/x", kStart + kMovedLookback));  // long ago
}

TEST_CASE("a Done gathers what the batch's notices named and which directories they wrote whole") {
    ExpectedChanges expected;
    expected.expect("b", {{"d", false, 1, true}, {"d/x", false, 2}}, kStart, 1000, 5);
    expected.expect("b", {{"d/y", false, 3}, {"e", true, 0, false}}, kStart, 1500, 6);
    SettledBatch batch = expected.settle("b", {5, 6}, 2000);
    REQUIRE(batch.node == "b");
    REQUIRE(batch.announced_at_us == 1000);
    REQUIRE(batch.complete == std::vector<std::string>{"d"});
    REQUIRE(batch.named == std::unordered_set<std::string>{"d", "d/x", "d/y", "e"});
    REQUIRE(batch.all_known);
    // Sent again (its ack was lost): nothing left to settle, and not all known.
    SettledBatch again = expected.settle("b", {5, 6}, 2500);
    REQUIRE(again.complete.empty());
    REQUIRE_FALSE(again.all_known);
}

TEST_CASE("two peers writing one path at once contest it until both are done") {
    ExpectedChanges expected;
    expected.expect("b", {{"f", false, 1}, {"same", false, 7}, {"b-only", false, 3}}, kStart, 1000, 5);
    expected.expect("c", {{"f", false, 2}, {"same", false, 7}}, kStart, 1100, 8);
    // B is done first: C may still be writing f.
    REQUIRE(expected.settle("b", {5}, 2000).contested.empty());
    SettledBatch c = expected.settle("c", {8}, 2100);
    REQUIRE(c.contested.size() == 1);  // not "same": both wrote the same thing
    CHECK(c.contested[0].path == "f");
    std::vector<std::pair<std::string, std::uint64_t>> writers = {{"b", 1}, {"c", 2}};
    CHECK(c.contested[0].writers == writers);
    // Decided once.
    expected.expect("c", {{"f", false, 4}}, kStart, 3000, 9);
    CHECK(expected.settle("c", {9}, 3100).contested.empty());
}

TEST_CASE("a contest lasts while any batch a writer announced before it is in flight") {
    // B's runs to two destinations announce the path twice; the one that writes here
    // is still running when its other one is done.
    ExpectedChanges expected;
    expected.expect("b", {{"f", false, 1}}, kStart, 1000, 5);
    expected.expect("b", {{"f", false, 1}}, kStart, 1010, 6);
    expected.settle("b", {6}, 1500);
    expected.expect("c", {{"f", false, 2}}, kStart, 2000, 8);
    CHECK(expected.settle("c", {8}, 2100).contested.empty());
    expected.expect("b", {{"other", false, 3}}, kStart, 2200, 7);  // announced after: not waited for
    SettledBatch b = expected.settle("b", {5}, 9000);
    REQUIRE(b.contested.size() == 1);
    CHECK(b.contested[0].path == "f");
}

TEST_CASE("a notice after the other peer's Done is no contest") {
    ExpectedChanges expected;
    expected.expect("b", {{"f", false, 1}}, kStart, 1000, 5);
    expected.settle("b", {5}, 2000);
    expected.expect("c", {{"f", false, 2}}, kStart, 2100, 8);
    CHECK(expected.settle("c", {8}, 2200).contested.empty());
}

TEST_CASE("an announcement has landed once this node saw it arrive, and stays so while announced the same") {
    ExpectedChanges expected;
    expected.expect("b", {{"d/f", false, 1}}, kStart);
    REQUIRE_FALSE(expected.find("d/f", kStart)->landed);  // announced, not seen arriving (yet)
    expected.mark_landed("d/f");
    REQUIRE(expected.find("d/f", kStart)->landed);
    expected.expect("b", {{"d/f", false, 1}}, kStart);  // named again, the same state
    REQUIRE(expected.find("d/f", kStart)->landed);
    expected.follow_peer_rename("d", "e");
    REQUIRE(expected.find("e/f", kStart)->landed);
    expected.expect("b", {{"e/f", false, 2}}, kStart);  // a new state: not here yet
    REQUIRE_FALSE(expected.find("e/f", kStart)->landed);
    expected.mark_landed("e/f");
    expected.expect("c", {{"e/f", false, 2}}, kStart);  // another node names it: relayed, not written
    REQUIRE_FALSE(expected.find("e/f", kStart)->landed);
}

TEST_CASE("a path asked for again goes to the asker's destination, or to every one not known to be another's") {
    using To = ExpectedChanges::ResendTo;
    ExpectedChanges expected;
    REQUIRE(expected.resend_to("f", "/b", "B", kStart) == To::None);
    expected.resend("f", "B", kStart);
    CHECK(expected.resend_to("f", "/b", "B", kStart) == To::Here);
    CHECK(expected.resend_to("f", "/c", "C", kStart) == To::Elsewhere);  // C's copy was not overtaken
    CHECK(expected.resend_to("f", "/d", "", kStart) == To::Here);        // whose tree is not known
    expected.resend_carried("f", "/b");
    CHECK(expected.resend_to("f", "/b", "B", kStart) == To::None);  // carried: judged as any path
    expected.resend("f", "C", kStart + Millis(10));                 // C asks too: both again
    CHECK(expected.resend_to("f", "/b", "B", kStart) == To::Here);
    CHECK(expected.resend_to("f", "/c", "C", kStart) == To::Here);
    CHECK(expected.resend_to("f", "/b", "B", kStart + Millis(10) + kResendLifetime) == To::None);
    expected.resend("f", "C", kStart + Millis(20) + kResendLifetime);  // a new request forgets the old askers
    CHECK(expected.resend_to("f", "/b", "B", kStart + Millis(20) + kResendLifetime) == To::Elsewhere);
}

TEST_CASE("split_parent") {
    REQUIRE(split_parent("a/b/c") == std::make_pair(std::string("a/b"), std::string("c")));
    REQUIRE(split_parent("c") == std::make_pair(std::string(), std::string("c")));
}

TEST_CASE("a content signature changes with what a sync carries, and only with that") {
    TempDir dir;
    dir.write("f", "hello");
    dir.set_mtime("f", 1700000000);
    EntryState first = dir.state("f");
    REQUIRE(first.kind == EntryState::Kind::Present);
    REQUIRE_FALSE(first.directory);
    REQUIRE(first.signature != 0);

    SECTION("the same content and metadata elsewhere: the same signature") {
        dir.write("g", "hello");
        dir.set_mtime("g", 1700000000, 999);  // below the second: not compared
        REQUIRE(dir.state("g") == first);
    }
    SECTION("content") {
        dir.write("f", "hellO");
        dir.set_mtime("f", 1700000000);
        REQUIRE_FALSE(dir.state("f") == first);
    }
    SECTION("mtime") {
        dir.set_mtime("f", 1700000001);
        REQUIRE_FALSE(dir.state("f") == first);
    }
    SECTION("permissions") {
        REQUIRE(chmod(dir.at("f").c_str(), 0600) == 0);
        REQUIRE_FALSE(dir.state("f") == first);
    }
    SECTION("a symlink is its target") {
        REQUIRE(symlink("f", dir.at("l").c_str()) == 0);
        REQUIRE(symlink("f", dir.at("m").c_str()) == 0);
        REQUIRE(symlink("g", dir.at("n").c_str()) == 0);
        REQUIRE(dir.state("l") == dir.state("m"));
        REQUIRE_FALSE(dir.state("l") == dir.state("n"));
        REQUIRE_FALSE(dir.state("l") == first);
    }
    SECTION("a directory is its permissions, whatever it holds") {
        REQUIRE(mkdir(dir.at("d").c_str(), 0755) == 0);
        EntryState empty = dir.state("d");
        REQUIRE(empty.directory);
        dir.write("d/x", "x");
        REQUIRE(dir.state("d") == empty);
        REQUIRE(chmod(dir.at("d").c_str(), 0700) == 0);
        REQUIRE_FALSE(dir.state("d") == empty);
    }
    SECTION("nothing there") { REQUIRE(dir.state("nothing").kind == EntryState::Kind::Absent); }
}

TEST_CASE("a signature taken before is reused while the entry's inode and ctime are unchanged") {
    TempDir dir;
    dir.write("f", "hello");
    EntryState first = dir.state("f");
    UniqueFd fd(open(dir.path.c_str(), O_RDONLY | O_DIRECTORY));
    // A made-up signature comes back only while nothing changed: proof it was not read again.
    EntryState fake = first;
    fake.signature = 42;
    REQUIRE(entry_state(fd.get(), "f", &fake).signature == 42);
    SECTION("a write in place moves ctime") {
        UniqueFd file(open(dir.at("f").c_str(), O_WRONLY | O_APPEND));
        REQUIRE(write(file.get(), "!", 1) == 1);
        REQUIRE(entry_state(fd.get(), "f", &fake).signature != 42);
    }
    SECTION("another inode under the name") {
        dir.write("g", "hello");
        REQUIRE(rename(dir.at("g").c_str(), dir.at("f").c_str()) == 0);
        REQUIRE(entry_state(fd.get(), "f", &fake).signature != 42);
    }
}
