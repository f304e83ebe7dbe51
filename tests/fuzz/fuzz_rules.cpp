// libFuzzer target for rules files (src/rules.cpp): any text parses or is refused with
// a ConfigError naming the line; parsed rules then judge paths made of the input's
// lines without crashing. Run: tests/fuzz/run.sh (make fuzz)
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "options.h"
#include "rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clsync;
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        RuleSet rules = RuleSet::parse(text, "fuzz.rules");
        std::istringstream lines(text);
        std::string line;
        for (int n = 0; n < 16 && std::getline(lines, line); ++n) {
            rules.path_included(line, [] { return false; });
            rules.path_included(line, [] { return true; });
        }
    } catch (const ConfigError&) {
    }
    return 0;
}
