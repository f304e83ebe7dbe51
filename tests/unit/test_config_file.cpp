#include <catch2/catch.hpp>

#include "config_file.h"

using namespace clsync;
using namespace std::chrono_literals;

namespace {
Options resolve(const std::string& text, const std::string& block, std::vector<std::string> args = {}) {
    ConfigBlock config = parse_config_block(text, "test.conf", block, true);
    std::vector<std::string> storage{"clsync"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    CommandLine line = read_command_line(static_cast<int>(storage.size()), argv.data());
    return resolve_options(config.settings, config.handler_args ? &*config.handler_args : nullptr, line);
}

const char* const kProduction =
    "# as the original's production example\n"
    "[lxc-rsyncshell]\n"
    "watch-dir = /srv/lxc/%label%\n"
    "mode = rsyncshell\n"
    "background = 1\n"
    "retries = 3\n"
    "ignore-exitcode = 23,24\n"
    "\n"
    "[lxc-brother]\n"
    "config-block-inherits = lxc-rsyncshell\n"
    "delay-collect = 15\n"
    "sync-handler = /etc/clsync/brother.sh\n"
    "lists-dir = /dev/shm/clsync-%label%-brother\n"
    "pid-file = /var/run/clsync-%label%-brother.pid\n"
    "\n"
    "[lxc-brother-initialsync]\n"
    "config-block-inherits = lxc-brother\n"
    "background = 0\n"
    "only-initialsync = 1\n";
}  // namespace

TEST_CASE("a block inherits its chain of parents and overrides them") {
    Options o = resolve(kProduction, "lxc-brother-initialsync", {"-l", "ct1"});
    CHECK(o.watch_dir == "/srv/lxc/ct1");
    CHECK(o.mode == Mode::RsyncShell);
    CHECK_FALSE(o.background);
    CHECK(o.only_initialsync);
    CHECK(o.retries == 3);
    CHECK(o.ignore_exitcodes == std::vector<int>{23, 24});
    CHECK(o.delay_collect == 15000ms);
    CHECK(o.lists_dir == "/dev/shm/clsync-ct1-brother");
    CHECK(o.pid_file == "/var/run/clsync-ct1-brother.pid");
}

TEST_CASE("%label% takes the default label when none is set") {
    Options o = resolve(kProduction, "lxc-brother");
    CHECK(o.watch_dir == "/srv/lxc/nolabel");
    CHECK(o.background);
}

TEST_CASE("the command line overrides the file; lists are replaced, not merged") {
    const char* text = "[default]\nwatch-dir = /a\ndestination-dir = /b\nignore-exitcode = 23\ndelay-collect = 5\n";
    Options o = resolve(text, "default", {"-t", "0.5", "-x", "24", "-D", "/c"});
    CHECK(o.watch_dir == "/a");
    CHECK(o.delay_collect == 500ms);
    CHECK(o.ignore_exitcodes == std::vector<int>{24});
    CHECK(o.destinations == std::vector<std::string>{"/c"});
}

TEST_CASE("%option% refers to other options, from the file or the command line") {
    const char* text =
        "[default]\nwatch-dir = /srv/%label%/from\ndestination-dir = /backup/%label%\n"
        "status-file = %watch-dir%/.status\nsync-handler = rsync\n";
    Options o = resolve(text, "default", {"--label=web"});
    CHECK(o.destinations == std::vector<std::string>{"/backup/web"});
    CHECK(o.status_file == "/srv/web/from/.status");
}

TEST_CASE("the -- key holds the handler arguments, split like a shell; the command line's win") {
    const char* text =
        "[default]\nwatch-dir = /a\nmode = direct\nsync-handler = cp\n"
        "-- = -Pfp --parents '%INCLUDE-LIST%' %watch-dir%/x\n";
    Options o = resolve(text, "default");
    CHECK(o.handler_args == std::vector<std::string>{"-Pfp", "--parents", "%INCLUDE-LIST%", "/a/x"});
    Options over = resolve(text, "default", {"--", "y"});
    CHECK(over.handler_args == std::vector<std::string>{"y"});
}

TEST_CASE("a value starting with a control byte is that value, a NUL byte an error naming its line") {
    // Found by fuzz_config_file: "\x01..." was taken for the marker of a long value.
    std::string text =
        "[default]\nwatch-dir = \x01"
        "5/a\ndestination-dir = /b\n";
    CHECK(resolve(text, "default").watch_dir ==
          "\x01"
          "5/a");
    std::string with_nul = "[default]\nwatch-dir = /a\ndestination-dir = /b";
    with_nul += '\0';
    REQUIRE_THROWS_WITH(resolve(with_nul + "\n", "default"), Catch::Contains(":3: a NUL byte"));
}

TEST_CASE("lines longer than inih's 200-byte buffer keep their whole value") {
    std::string long_dir = "/" + std::string(400, 'd');
    std::string text = "[default]\nwatch-dir = " + long_dir + "\ndestination-dir = /b\n";
    CHECK(resolve(text, "default").watch_dir == long_dir);
}

TEST_CASE("config errors name the file, the line and the key") {
    REQUIRE_THROWS_WITH(resolve("[default]\nwatch-dir = /a\nno-such-key = 1\n", "default"),
                        Catch::Contains("test.conf:3") && Catch::Contains("unknown key 'no-such-key'"));
    REQUIRE_THROWS_WITH(
        resolve("[default]\nwatch-dir = /a\ndestination-dir = /b\ndelay-collect = soon\n", "default"),
        Catch::Contains("test.conf:4") && Catch::Contains("--delay-collect") && Catch::Contains("soon"));
    REQUIRE_THROWS_WITH(resolve("[default]\nwatch-dir = /a\n", "other"), Catch::Contains("no block [other]"));
    REQUIRE_THROWS_WITH(resolve("[a]\nconfig-block-inherits = b\n[b]\nconfig-block-inherits = a\n", "a"),
                        Catch::Contains("inheritance loop") && Catch::Contains("[a] -> [b] -> [a]"));
    REQUIRE_THROWS_WITH(resolve("[a]\nconfig-block-inherits = missing\n", "a"),
                        Catch::Contains("test.conf:2") && Catch::Contains("no block [missing]"));
    REQUIRE_THROWS_WITH(resolve("[default]\nthis line is wrong\n", "default"),
                        Catch::Contains("test.conf:2") && Catch::Contains("syntax error"));
    REQUIRE_THROWS_WITH(resolve("watch-dir = /a\n[default]\n", "default"),
                        Catch::Contains("test.conf:1") && Catch::Contains("outside any [block]"));
    REQUIRE_THROWS_WITH(resolve("[default]\nseccomp-filter = 1\n", "default"),
                        Catch::Contains("clsync 0.4") && Catch::Contains("not supported"));
    REQUIRE_THROWS_WITH(resolve("[default]\nwatch-dir = %watch-dir%/x\ndestination-dir = /b\n", "default"),
                        Catch::Contains("refers back to itself"));
}

TEST_CASE("errors in blocks that are not used do not matter; a missing default block is no error") {
    const char* text = "[other]\nno-such-key = 1\n[default]\nwatch-dir = /a\ndestination-dir = /b\n";
    CHECK(resolve(text, "default").watch_dir == "/a");
    CHECK(parse_config_block(text, "t", "absent", false).settings.empty());
}
