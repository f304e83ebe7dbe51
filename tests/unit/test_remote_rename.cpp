#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "remote_rename.h"

using namespace clsync;

namespace {

// A temporary directory, removed with what it holds.
struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/clsync-unit-XXXXXX";
        path = mkdtemp(name);
    }
    ~TempDir() {
        std::string command = "rm -rf " + shell_quoted(path);
        if (std::system(command.c_str()) != 0) std::perror("rm");
    }
};

bool exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

void touch(const std::string& path) { std::ofstream(path) << "x"; }

// Runs `script` with sh (as the remote shell would); returns its stderr.
std::string run_sh(const std::string& script) {
    const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
    gchar* err = nullptr;
    gint status = 0;
    REQUIRE(g_spawn_sync(nullptr, const_cast<gchar**>(argv), nullptr, G_SPAWN_STDOUT_TO_DEV_NULL, nullptr, nullptr,
                         nullptr, &err, &status, nullptr));
    std::string text = err ? err : "";
    g_free(err);
    return text;
}

}  // namespace

TEST_CASE("split_ssh_destination separates the target from the path") {
    SshDestination d = split_ssh_destination("backup@host2:/srv/lxc/web/");
    CHECK(d.host == "backup@host2");
    CHECK(d.path == "/srv/lxc/web");
    CHECK(split_ssh_destination("host:").path == ".");
    CHECK(split_ssh_destination("host:rel/dir").path == "rel/dir");
    CHECK(split_ssh_destination("host:/").path == "/");
}

TEST_CASE("shell_quoted survives sh for any bytes") {
    for (std::string text : {std::string("plain"), std::string("it's"), std::string("new\nline"),
                             std::string("$(rm -rf x) `y` \"z\" \\ * ?"), std::string("\xff\xfe bad utf8"),
                             std::string("-dash"), std::string("''")}) {
        std::string out = run_sh("printf '%s' " + shell_quoted(text) + " >&2");
        CHECK(out == text);
    }
}

TEST_CASE("the rename script applies renames in order and reports each failure") {
    TempDir dir;
    std::string odd = "sp ace 'q' \n\xff";
    touch(dir.path + "/a");
    mkdir((dir.path + "/d").c_str(), 0755);
    touch(dir.path + "/d/inner");
    mkdir((dir.path + "/full").c_str(), 0755);
    touch(dir.path + "/full/keep");
    std::vector<Rename> renames = {
        {"a", odd},           // 0: to an odd name
        {odd, "b"},           // 1: and on, in order
        {"missing", "m2"},    // 2: fails: nothing there
        {"d", "e"},           // 3: a directory
        {"e/inner", "e/i2"},  // 4: inside the renamed one
        {"b", "full"},        // 5: fails: a file cannot replace a directory
    };
    std::string err = run_sh(remote_rename_script(dir.path, renames));
    std::vector<bool> applied = applied_renames(err, renames.size());
    CHECK(applied == std::vector<bool>{true, true, false, true, true, false});
    CHECK(exists(dir.path + "/b"));
    CHECK_FALSE(exists(dir.path + "/a"));
    CHECK_FALSE(exists(dir.path + "/" + odd));
    CHECK(exists(dir.path + "/e/i2"));
    CHECK_FALSE(exists(dir.path + "/d"));
    CHECK(exists(dir.path + "/full/keep"));
}

TEST_CASE("a rename onto an empty directory replaces it, as rename(2)") {
    TempDir dir;
    mkdir((dir.path + "/src").c_str(), 0755);
    touch(dir.path + "/src/f");
    mkdir((dir.path + "/dst").c_str(), 0755);
    std::string err = run_sh(remote_rename_script(dir.path, {{"src", "dst"}}));
    CHECK(applied_renames(err, 1) == std::vector<bool>{true});
    CHECK(exists(dir.path + "/dst/f"));
    CHECK_FALSE(exists(dir.path + "/dst/src"));
}

TEST_CASE("the rename script never renames through a symlink in a parent") {
    // The destination may still have a symlink where the source made a directory since.
    TempDir dir, outside;
    touch(dir.path + "/f");
    touch(dir.path + "/g");
    REQUIRE(symlink(outside.path.c_str(), (dir.path + "/link").c_str()) == 0);
    mkdir((dir.path + "/real").c_str(), 0755);
    std::string err = run_sh(remote_rename_script(dir.path, {{"f", "link/f"}, {"g", "real/g"}}));
    CHECK(applied_renames(err, 2) == std::vector<bool>{false, true});
    CHECK_FALSE(exists(outside.path + "/f"));
    CHECK(exists(dir.path + "/f"));
    CHECK(exists(dir.path + "/real/g"));
}

TEST_CASE("applied_renames trusts nothing from a session that did not finish") {
    CHECK(applied_renames("ssh: connect to host x port 22: Connection refused\n", 2) ==
          std::vector<bool>{false, false});
    CHECK(applied_renames("clsync-rename-failed 1\n", 2) == std::vector<bool>{false, false});
    CHECK(applied_renames("Warning: Permanently added 'x'\nclsync-rename-failed 1\nclsync-renames-done\n", 3) ==
          std::vector<bool>{true, false, true});
    CHECK(applied_renames("clsync-rename-failed 99\nclsync-renames-done\n", 1) == std::vector<bool>{true});
}
