// libFuzzer target for the command line (src/options.cpp): the input, split at NUL
// bytes, is argv after "clsync"; it parses into options or is refused with an
// OptionError/ConfigError naming the option. Run: tests/fuzz/run.sh (make fuzz)
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "options.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clsync;
    std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> args = {"clsync"};
    for (std::size_t start = 0; start <= input.size() && args.size() < 64;) {
        std::size_t end = input.find('\0', start);
        if (end == std::string::npos) end = input.size();
        args.push_back(input.substr(start, end - start));
        start = end + 1;
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    try {
        parse_command_line(static_cast<int>(args.size()), argv.data());
    } catch (const OptionError&) {
    } catch (const ConfigError&) {
    }
    return 0;
}
