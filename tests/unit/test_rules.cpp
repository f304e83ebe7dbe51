#include <catch2/catch.hpp>

#include "options.h"
#include "rules.h"

using namespace clsync;

TEST_CASE("first matching rule wins; no match means included") {
    RuleSet rules = RuleSet::parse("# comment\n\n-d^cache$\n+f\\.conf$\n-f\n", "r");
    CHECK(rules.rule_count() == 3);
    CHECK_FALSE(rules.dir_included("cache"));
    CHECK(rules.dir_included("cachex"));
    CHECK(rules.file_included("a.conf"));
    CHECK_FALSE(rules.file_included("a.txt"));
    CHECK(rules.dir_included("any"));  // "-f" excludes files only
    CHECK(rules.excludes_files());
}

TEST_CASE("type letters select what a rule applies to") {
    RuleSet rules = RuleSet::parse("-W^nowatch$\n-s^nosync$\n-*^tmp/\n+*\n", "r");
    CHECK_FALSE(rules.allows("nowatch", kWalk));
    CHECK_FALSE(rules.allows("nowatch", kMonitor));
    CHECK(rules.allows("nowatch", kSyncDir));
    CHECK_FALSE(rules.dir_included("nowatch"));
    CHECK_FALSE(rules.dir_included("nosync"));
    CHECK(rules.allows("nosync", kWalk));
    CHECK_FALSE(rules.file_included("tmp/x"));
    CHECK_FALSE(rules.dir_included("tmp/y"));
    CHECK(rules.file_included("tmpx"));
}

TEST_CASE("the original's examples: whitelist with the root directory included") {
    RuleSet rules = RuleSet::parse("+f^passwd$\n+f^ssh/sshd_config$\n+d^$\n+d^ssh$\n-*\n", "r");
    CHECK(rules.dir_included(""));
    CHECK(rules.file_included("passwd"));
    CHECK_FALSE(rules.file_included("shadow"));
    CHECK(rules.path_included("ssh/sshd_config", [] { return false; }));
    CHECK_FALSE(rules.path_included("ssh/moduli", [] { return false; }));
    CHECK_FALSE(rules.path_included("other/passwd", [] { return false; }));
}

TEST_CASE("events of unknown type: ancestors must be included, the type decides only when it matters") {
    RuleSet rules = RuleSet::parse("-d^skip$\n-f\\.tmp$\n", "r");
    int lookups = 0;
    auto is_dir = [&lookups] {
        ++lookups;
        return true;
    };
    CHECK_FALSE(rules.path_included("skip/file", is_dir));
    CHECK(rules.path_included("keep/file", is_dir));
    CHECK(lookups == 0);
    CHECK(rules.path_included("x.tmp", is_dir));  // a directory named x.tmp is included
    CHECK(lookups == 1);
}

TEST_CASE("merged alternations keep first-match order across signs") {
    std::string text;
    for (int i = 0; i < 3000; ++i) text += "-f^dir" + std::to_string(i) + "/file$\n";
    text += "+f^dir1/\n-f^dir\n";
    RuleSet rules = RuleSet::parse(text, "r");
    CHECK(rules.rule_count() == 3002);
    CHECK_FALSE(rules.file_included("dir1/file"));
    CHECK(rules.file_included("dir1/other"));
    CHECK_FALSE(rules.file_included("dir2/other"));
    CHECK(rules.file_included("elsewhere"));
}

TEST_CASE("back-references are not merged (group numbers would shift)") {
    RuleSet rules = RuleSet::parse("-f^(a)x\\1$\n-f^b$\n", "r");
    CHECK_FALSE(rules.file_included("axa"));
    CHECK(rules.file_included("axb"));
    CHECK_FALSE(rules.file_included("b"));
}

TEST_CASE("rule errors name the file, the line and the problem") {
    REQUIRE_THROWS_WITH(RuleSet::parse("+f^ok$\nxf^bad\n", "rules.txt"),
                        Catch::Contains("rules.txt:2") && Catch::Contains("must start with +"));
    REQUIRE_THROWS_WITH(RuleSet::parse("+q^bad\n", "rules.txt"),
                        Catch::Contains("rules.txt:1") && Catch::Contains("type"));
    REQUIRE_THROWS_WITH(RuleSet::parse("\n-f^(unclosed\n", "rules.txt"),
                        Catch::Contains("rules.txt:2") && Catch::Contains("bad regex"));
}

TEST_CASE("regexes that would take regcomp minutes are refused, their look-alikes are not") {
    // Found by fuzz_rules: "o+++...+" kept glibc's regcomp busy for over 10 s.
    REQUIRE_THROWS_WITH(RuleSet::parse("-f^a" + std::string(60, '+') + "$\n", "r"),
                        Catch::Contains("r:1") && Catch::Contains("a repetition of a repetition"));
    REQUIRE_THROWS_WITH(RuleSet::parse("-fx*{2}\n", "r"), Catch::Contains("a repetition of a repetition"));
    REQUIRE_THROWS_WITH(RuleSet::parse("-f(ab){1000}\n", "r"), Catch::Contains("a repetition bound over 255"));
    REQUIRE_THROWS_WITH(RuleSet::parse("-fa{1,0999}\n", "r"), Catch::Contains("a repetition bound over 255"));
    // Escaped, or inside brackets, they are characters; a group may repeat a repetition.
    REQUIRE_NOTHROW(
        RuleSet::parse("-f\\.c\\+\\+$\n-fa[+*?]+$\n-f[]+*]x\n-f[[:alpha:]+]*$\n-f(a+)+$\n-fa{2,255}\n", "r"));
}

TEST_CASE("anchored literal prefixes only narrow the rules tried, never change the answer") {
    RuleSet rules = RuleSet::parse(
        "-f^var/log/\n-f^a+b$\n-f^xy?z$\n-f^p\\.q$\n-f^alt|other$\n-f^(g)h$\n-f^k[0-9]$\n-d^cache\n+*\n", "r");
    CHECK_FALSE(rules.file_included("var/log/syslog"));
    CHECK(rules.file_included("var/lib/x"));
    CHECK_FALSE(rules.file_included("aaab"));
    CHECK_FALSE(rules.file_included("xz"));
    CHECK_FALSE(rules.file_included("xyz"));
    CHECK_FALSE(rules.file_included("p.q"));
    CHECK(rules.file_included("pxq"));
    CHECK_FALSE(rules.file_included("in/the/other"));  // the alternation matches anywhere
    CHECK_FALSE(rules.file_included("gh"));
    CHECK_FALSE(rules.file_included("k7"));
    CHECK(rules.file_included("k"));
    CHECK_FALSE(rules.dir_included("cache2"));
    CHECK(rules.dir_included("cach"));
}

TEST_CASE("order is kept between prefixed and unprefixed rules") {
    RuleSet rules = RuleSet::parse("+f\\.keep$\n-f^tmp/\n+f^tmp/x\n-f\n", "r");
    CHECK(rules.file_included("tmp/a.keep"));
    CHECK_FALSE(rules.file_included("tmp/x"));  // -f^tmp/ comes first
    CHECK_FALSE(rules.file_included("other"));
}
