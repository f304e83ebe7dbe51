#include <catch2/catch.hpp>

#include "log.h"

using namespace clsync;

TEST_CASE("printable escapes control characters and backslashes only") {
    CHECK(printable("plain name.txt") == "plain name.txt");
    CHECK(printable("new\nline") == "new\\nline");
    CHECK(printable("tab\there") == "tab\\there");
    CHECK(printable("back\\slash") == "back\\\\slash");
    CHECK(printable(std::string("bell\x07", 5)) == "bell\\x07");
    CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes unchanged
    CHECK(printable("bad\xff") == "bad\xff");          // so do other bytes
}
