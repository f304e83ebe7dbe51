// libFuzzer target for config files (src/config_file.cpp) and what the options make of
// their values (src/options.cpp): any text parses into a block or is refused with a
// ConfigError/OptionError naming the problem; nothing crashes, hangs or reads out of
// bounds. Run: tests/fuzz/run.sh (make fuzz)
#include <cstddef>
#include <cstdint>
#include <string>

#include "config_file.h"
#include "options.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clsync;
    std::string text(reinterpret_cast<const char*>(data), size);
    for (const char* block : {"default", "b"}) {
        try {
            ConfigBlock parsed = parse_config_block(text, "fuzz.conf", block, block[0] == 'b');
            resolve_options(parsed.settings, parsed.handler_args ? &*parsed.handler_args : nullptr, CommandLine{});
        } catch (const ConfigError&) {
        } catch (const OptionError&) {
        }
    }
    return 0;
}
