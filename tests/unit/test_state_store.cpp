#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "state_store.h"

using namespace clsync;

namespace {

// A state dir in a fresh temporary directory, removed afterwards.
struct TempStateDir {
    std::string root, dir;
    TempStateDir() {
        char name[] = "/tmp/clsync-state-XXXXXX";
        root = mkdtemp(name);
        dir = root + "/state";
    }
    ~TempStateDir() {
        std::string command = "rm -rf '" + root + "'";
        if (std::system(command.c_str()) != 0) WARN("cannot remove " << root);
    }
};

std::vector<std::string> paths_of(const std::vector<QueuedPath>& queued) {
    std::vector<std::string> paths;
    for (const QueuedPath& p : queued) paths.push_back(p.path + (p.recursive ? " (and below)" : ""));
    return paths;
}

using Paths = std::vector<std::string>;

}  // namespace

TEST_CASE("pending paths are kept per destination until a batch covering them completes") {
    TempStateDir t;
    StateStore store(t.dir);
    store.add_pending("/a", {{"x/f", false}, {"y", true}}, 1);
    store.add_pending("host:/b", {{"x/f", false}}, 1);
    CHECK(paths_of(store.pending("/a")) == Paths{"x/f", "y (and below)"});
    CHECK(paths_of(store.pending("host:/b")) == Paths{"x/f"});

    SECTION("a path synced is cleared for that destination only") {
        store.clear_pending("/a", {{"x/f", false}}, 1);
        CHECK(paths_of(store.pending("/a")) == Paths{"y (and below)"});
        CHECK(paths_of(store.pending("host:/b")) == Paths{"x/f"});
    }
    SECTION("an event after the batch was taken stays pending") {
        store.add_pending("/a", {{"x/f", false}}, 2);  // seen again while the batch ran
        store.clear_pending("/a", {{"x/f", false}, {"y", true}}, 1);
        CHECK(paths_of(store.pending("/a")) == Paths{"x/f"});
    }
    SECTION("a recursive path covers what is below it, not its neighbours") {
        store.add_pending("/a", {{"x/sub/deep", false}, {"x0", false}, {"x-y", false}}, 1);
        store.clear_pending("/a", {{"x", true}}, 1);
        CHECK(paths_of(store.pending("/a")) == Paths{"x-y", "x0", "y (and below)"});
    }
    SECTION("the whole tree covers every path, odd bytes too") {
        store.add_pending("/a", {{"\xff\xfe", false}, {"new\nline", true}}, 1);
        store.clear_pending("/a", {{"", true}}, 1);
        CHECK(store.pending("/a").empty());
        CHECK(paths_of(store.pending("host:/b")) == Paths{"x/f"});
    }
    SECTION("a path seen again as recursive stays recursive") {
        store.add_pending("/a", {{"x/f", true}}, 2);
        store.add_pending("/a", {{"x/f", false}}, 3);
        CHECK(paths_of(store.pending("/a")) == Paths{"x/f (and below)", "y (and below)"});
        CHECK(store.last_pending_seq() == 3);
    }
}

TEST_CASE("pending paths survive closing and reopening the state dir") {
    TempStateDir t;
    {
        StateStore store(t.dir);
        store.add_pending("/a", {{"kept", false}}, 7);
    }
    StateStore again(t.dir);
    CHECK(paths_of(again.pending("/a")) == Paths{"kept"});
    CHECK(again.last_pending_seq() == 7);
}

TEST_CASE("a state dir is held by one instance at a time") {
    TempStateDir t;
    StateStore first(t.dir);
    CHECK_THROWS_AS(StateStore(t.dir), StateDirInUse);
}

TEST_CASE("an interrupted update stays unfinished until it is cleared") {
    TempStateDir t;
    StateStore store(t.dir);
    store.begin_update("/a", "big");
    CHECK(store.unfinished_updates("/a") == std::vector<std::string>{"big"});
    CHECK_FALSE(store.signature("/a", "big"));
    FileSignature signature;
    signature.blocks.size = 3;
    signature.blocks.hashes = {42};
    store.finish_update("/a", "big", signature);
    CHECK(store.unfinished_updates("/a").empty());
    REQUIRE(store.signature("/a", "big"));
    CHECK(store.signature("/a", "big")->blocks.hashes == std::vector<std::uint64_t>{42});
    store.forget("/a", "");
    CHECK_FALSE(store.signature("/a", "big"));
}

TEST_CASE("when each destination was last in sync is kept across restarts") {
    TempStateDir t;
    {
        StateStore store(t.dir);
        CHECK(store.last_in_sync("/a") == 0);
        store.set_last_in_sync("/a", 1000);
        store.set_last_in_sync("/a", 2000);
        store.set_last_in_sync("host:/b", 1500);
    }
    StateStore again(t.dir);
    CHECK(again.last_in_sync("/a") == 2000);
    CHECK(again.last_in_sync("host:/b") == 1500);
}

TEST_CASE("a damaged signature row gives no signature, however big it claims the file is") {
    // Found by fuzz_state_store: a huge or negative size was reserved up front, and an
    // empty chunk copied from a null pointer.
    TempStateDir t;
    StateStore store(t.dir);
    FileSignature signature;
    signature.blocks.size = 3 * 64 * 1024;
    signature.blocks.hashes = {1, 2, 3};
    store.finish_update("/a", "big", signature);
    REQUIRE(store.signature("/a", "big"));
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((t.dir + "/state.db").c_str(), &db) == SQLITE_OK);
    auto damage = [&](const char* sql) {
        REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
        return store.signature("/a", "big");
    };
    CHECK_FALSE(damage("UPDATE signed_files SET size = 4611686018427387904"));
    CHECK_FALSE(damage("UPDATE signed_files SET size = -1"));
    CHECK_FALSE(damage("UPDATE signed_files SET size = 196608; UPDATE hash_chunks SET hashes = x''"));
    sqlite3_close(db);
}
