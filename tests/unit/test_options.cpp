#include <catch2/catch.hpp>
#include <initializer_list>

#include "options.h"

using namespace clsync;
using namespace std::chrono_literals;

namespace {
Options parse(std::initializer_list<const char*> args) {
    std::vector<std::string> storage{"clsync"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    return parse_command_line(static_cast<int>(storage.size()), argv.data());
}
}  // namespace

TEST_CASE("-W and -D alone give the documented defaults") {
    Options o = parse({"-W", "/src", "-D", "/dst"});
    CHECK(o.watch_dir == "/src");
    CHECK(o.destinations == std::vector<std::string>{"/dst"});
    CHECK(o.mode == Mode::RsyncDirect);
    CHECK(o.delay_collect == 1000ms);
    CHECK(o.delay_collect_bigfile == 30000ms);
    CHECK(o.threshold_bigfile == 128ull << 20);
    CHECK(o.threads == 2);
}

TEST_CASE("delays take fractions, sizes take suffixes") {
    Options o = parse({"-W", "s", "-D", "d", "-t", "0.2", "--delay-collect-bigfile=2.5", "-B", "4K", "-w", "0"});
    CHECK(o.delay_collect == 200ms);
    CHECK(o.delay_collect_bigfile == 2500ms);
    CHECK(o.threshold_bigfile == 4096);
    CHECK(o.delay_sync == 0ms);
}

TEST_CASE("bad values name the option") {
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "-t", "abc"}),
                        Catch::Contains("--delay-collect") && Catch::Contains("abc"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "-t", "-1"}), Catch::Contains("--delay-collect"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "-B", "12Q"}), Catch::Contains("--threshold-bigfile"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "-p", "0"}), Catch::Contains("--threading"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "-M", "nope"}), Catch::Contains("--mode"));
}

TEST_CASE("unknown options and missing values are reported") {
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--no-such"}), Catch::Contains("unknown option '--no-such'"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "-Z"}), Catch::Contains("unknown option '-Z'"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "-t"}), Catch::Contains("needs a value"));
}

TEST_CASE("required options and exclusive combinations are checked") {
    REQUIRE_THROWS_WITH(parse({"-D", "d"}), Catch::Contains("--watch-dir"));
    REQUIRE_THROWS_WITH(parse({"-W", "s"}), Catch::Contains("--destination-dir"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--skip-initialsync", "--only-initialsync"}),
                        Catch::Contains("exclude each other"));
    CHECK(parse({"-h"}).show_help);
    CHECK(parse({"-V"}).show_version);
}

TEST_CASE("arguments after -- go to the handler; stray arguments are refused") {
    CHECK(parse({"-W", "s", "-M", "shell", "-S", "h", "--", "x", "%label%"}).handler_args ==
          std::vector<std::string>{"x", "nolabel"});
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--", "x"}), Catch::Contains("not taken in mode rsyncdirect"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "stray"}), Catch::Contains("unexpected argument 'stray'"));
}

TEST_CASE("help lists every option of the table") {
    std::string help = help_text("clsync");
    for (const OptionSpec& spec : option_table())
        CHECK(help.find(std::string("--") + spec.long_name) != std::string::npos);
}

TEST_CASE("handler modes need -S, not -D; flags take an optional 1 or 0") {
    Options o = parse({"-W", "s", "-M", "direct", "-S", "cp", "-b0", "--background=1", "-U", "-d0", "-x", "23,24"});
    CHECK(o.mode == Mode::Direct);
    CHECK(o.destinations.empty());
    CHECK(o.background);
    CHECK(o.dont_unlink_lists);
    CHECK(o.ignore_exitcodes == std::vector<int>{23, 24});
    CHECK(parse({"-W", "s", "-M", "shell", "-S", "h", "-x", "23", "-x", "0,24"}).ignore_exitcodes ==
          std::vector<int>{24});
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-M", "shell"}), Catch::Contains("--sync-handler"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-M", "librsync"}), Catch::Contains("required in mode librsync"));
    Options local = parse({"-W", "s", "-M", "librsync", "-D", "d", "--fsync=file", "--state-dir", "/st"});
    CHECK(local.fsync == FsyncPolicy::File);
    CHECK(local.state_dir == "/st");
    CHECK(parse({"-W", "s", "-M", "librsync", "-D", "d"}).fsync == FsyncPolicy::Batch);
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-M", "librsync", "-D", "d", "--fsync=always"}), Catch::Contains("--fsync"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--background=maybe"}), Catch::Contains("--background"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--splitting=process"}),
                        Catch::Contains("clsync 0.4") && Catch::Contains("not supported"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--modification-signature=uid,bogus"}), Catch::Contains("bogus"));
}

TEST_CASE("cluster options: a key is required, values are checked, rsyncdirect only") {
    Options o = parse({"-W", "s", "-D", "d", "--cluster-key=k", "--cluster-node-name=n1", "--cluster-iface=veth0",
                       "--cluster-ip=239.1.2.3", "--cluster-port=4000"});
    REQUIRE(o.cluster_key == "k");
    REQUIRE(o.cluster_node_name == "n1");
    REQUIRE(o.cluster_iface == "veth0");
    REQUIRE(o.cluster_ip == "239.1.2.3");
    REQUIRE(o.cluster_port == 4000);
    Options defaults = parse({"-W", "s", "-D", "d", "--cluster-key=k"});
    REQUIRE(defaults.cluster_ip == "227.108.115.121");
    REQUIRE(defaults.cluster_port == 40079);
    REQUIRE(defaults.cluster_node_name.empty());  // the host name

    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-iface=veth0"}), Catch::Contains("--cluster-key"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-key=k", "--cluster-port=70000"}),
                        Catch::Contains("--cluster-port"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-key=k", "--cluster-node-name="}),
                        Catch::Contains("--cluster-node-name"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-key=k", "-M", "librsync"}),
                        Catch::Contains("rsyncdirect only"));
}

TEST_CASE("--cluster-peer names the node whose tree a destination is") {
    Options o = parse({"-W", "s", "-D", "/t/b", "-D", "h:/x=y", "--cluster-key=k", "--cluster-peer=B=/t/b",
                       "--cluster-peer=C=h:/x=y"});
    REQUIRE(o.cluster_peers == std::map<std::string, std::string>{{"/t/b", "B"}, {"h:/x=y", "C"}});
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-peer=B=d"}), Catch::Contains("--cluster-key"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-key=k", "--cluster-peer=B=e"}),
                        Catch::Contains("'e' (node B) is not a destination"));
    REQUIRE_THROWS_WITH(
        parse({"-W", "s", "-D", "d", "-D", "e", "--cluster-key=k", "--cluster-peer=B=d", "--cluster-peer=B=e"}),
        Catch::Contains("node B is given two destinations"));
    REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-key=k", "--cluster-peer=B=d", "--cluster-peer=C=d"}),
                        Catch::Contains("destination 'd' is given two nodes, B and C"));
    for (const char* bad : {"--cluster-peer=B", "--cluster-peer==d", "--cluster-peer=B="})
        REQUIRE_THROWS_WITH(parse({"-W", "s", "-D", "d", "--cluster-key=k", bad}),
                            Catch::Contains("option --cluster-peer: invalid value"));
}
