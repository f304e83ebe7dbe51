// Config files: INI blocks of "long-option-name = value", read with inih.
//
// A block may inherit another ("config-block-inherits = parent", chained); a key set
// in a block overrides what it inherits. The key "--" holds the handler arguments,
// split like a shell would. Errors name the file, the line and the key (ConfigError).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "options.h"

namespace clsync {

struct ConfigBlock {
    std::vector<Setting> settings;                         // ancestors' first, in file order
    std::optional<std::vector<std::string>> handler_args;  // the "--" key, if set
};

// The settings of `block` in the config file at `path`. A missing block is an error
// when `block_required` (it was asked for with -K), otherwise an empty result.
ConfigBlock load_config_block(const std::string& path, const std::string& block, bool block_required);

// Same, from text already in memory (tests); `name` is used in messages.
ConfigBlock parse_config_block(const std::string& text, const std::string& name, const std::string& block,
                               bool block_required);

// The contents of a config or rules file (`what` names it in the ConfigError).
std::string read_config_text(const std::string& path, const char* what);

// The config file to read: -H's value ("/NULL/": none), else the first existing file of
// ~/.clsync.conf, /etc/clsync/clsync.conf, /etc/clsync.conf; "" when there is none.
std::string find_config_file(const std::string* given);

// The options in force: the command line over the config file's block (-H, -K).
// `config_file` (SIGHUP: the file read at start, "" for none) skips the search.
// Throws OptionError (exit 64) or ConfigError (exit 78).
Options read_options(int argc, char* const argv[], const std::string* config_file = nullptr);

}  // namespace clsync
