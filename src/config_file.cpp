#include "config_file.h"

#include <glib.h>
#include <ini.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace clsync {
namespace {

struct Entry {
    std::string key;
    std::string value;
    int line;
};

// Feeds inih one line at a time and counts them, so that every key's line is known.
// inih (as Debian builds it) cuts lines at 200 bytes; a longer "key = value" line is
// passed as "key = -" and the value kept aside by line number, so long paths and
// handler arguments work.
struct Reader {
    const std::string& text;
    std::string::size_type pos = 0;
    int line = 0;
    std::map<int, std::string> long_values;  // by line

    char* next(char* buffer, int size) {
        if (pos >= text.size()) return nullptr;
        auto end = text.find('\n', pos);
        end = end == std::string::npos ? text.size() : end + 1;
        std::string current = text.substr(pos, end - pos);
        pos = end;
        ++line;
        auto equals = current.find('=');
        if (current.size() + 1 > static_cast<std::size_t>(size) && equals != std::string::npos && equals < 100) {
            long_values[line] = strip_inline_comment(current.substr(equals + 1));
            current = current.substr(0, equals) + "= -\n";
        }
        g_strlcpy(buffer, current.c_str(), static_cast<gsize>(size));
        return buffer;
    }

    // What inih does to a value: an inline comment starts at " ;"; spaces are trimmed.
    static std::string strip_inline_comment(std::string value) {
        for (std::string::size_type i = 1; i < value.size(); ++i)
            if (value[i] == ';' && g_ascii_isspace(value[i - 1])) {
                value.resize(i);
                break;
            }
        gchar* stripped = g_strstrip(g_strdup(value.c_str()));
        std::string result = stripped;
        g_free(stripped);
        return result;
    }
};

struct ParsedFile {
    Reader* reader;
    std::map<std::string, std::vector<Entry>> blocks;
    int first_orphan_line = 0;  // a key before any [block]
};

std::string inherited_block(const std::vector<Entry>& entries) {
    std::string parent;
    for (const Entry& e : entries)
        if (e.key == "config-block-inherits") parent = e.value;
    return parent;
}

// The block and its ancestors, the block itself first.
using Chain = std::vector<std::pair<std::string, const std::vector<Entry>*>>;

Chain inheritance_chain(const ParsedFile& file, const std::string& name, const std::string& block) {
    Chain chain;
    std::vector<std::string> names;
    std::string current = block;
    int line = 0;
    while (!current.empty()) {
        for (const std::string& seen : names)
            if (seen == current) {
                std::string loop;
                for (const std::string& n : names) loop += "[" + n + "] -> ";
                throw ConfigError(name + ":" + std::to_string(line) + ": config-block-inherits: inheritance loop " +
                                  loop + "[" + current + "]");
            }
        auto it = file.blocks.find(current);
        if (it == file.blocks.end())
            throw ConfigError(name + ":" + std::to_string(line) + ": config-block-inherits: no block [" + current +
                              "] in the file");
        names.push_back(current);
        chain.emplace_back(current, &it->second);
        current = inherited_block(it->second);
        for (const Entry& e : it->second)
            if (e.key == "config-block-inherits") line = e.line;
    }
    return chain;
}

void check_key(const Entry& e, const std::string& name, const std::string& block) {
    std::string where = name + ":" + std::to_string(e.line) + ": ";
    if (e.key == "--") return;
    const OptionSpec* spec = find_option(e.key);
    if (spec && spec->arg != ArgKind::None && e.key != "config-file" && e.key != "config-block") return;
    if (const char* reason = unsupported_original_option(e.key))
        throw ConfigError(where + "key '" + e.key + "' (an option of clsync 0.4) is not supported: " + reason);
    throw ConfigError(where + "unknown key '" + e.key + "' in block [" + block + "]");
}

std::vector<std::string> split_handler_args(const Entry& e, const std::string& name) {
    std::vector<std::string> args;
    if (e.value.empty()) return args;
    gchar** argv = nullptr;
    GError* error = nullptr;
    if (!g_shell_parse_argv(e.value.c_str(), nullptr, &argv, &error)) {
        std::string message = name + ":" + std::to_string(e.line) + ": key '--': " + error->message;
        g_error_free(error);
        throw ConfigError(message);
    }
    for (gchar** a = argv; *a; ++a) args.emplace_back(*a);
    g_strfreev(argv);
    return args;
}

}  // namespace

ConfigBlock parse_config_block(const std::string& text, const std::string& name, const std::string& block,
                               bool block_required) {
    // inih reads C strings: a NUL byte would silently end its line there.
    if (auto nul = text.find('\0'); nul != std::string::npos)
        throw ConfigError(name + ":" + std::to_string(1 + std::count(text.begin(), text.begin() + nul, '\n')) +
                          ": a NUL byte (not a text file?)");
    Reader reader{text, 0, 0, {}};
    ParsedFile file{&reader, {}, 0};
    auto on_entry = [](void* user, const char* section, const char* key, const char* value) -> int {
        auto* parsed = static_cast<ParsedFile*>(user);
        auto long_value = parsed->reader->long_values.find(parsed->reader->line);
        std::string v = long_value == parsed->reader->long_values.end() ? value : long_value->second;
        if (!*section) {
            if (!parsed->first_orphan_line) parsed->first_orphan_line = parsed->reader->line;
            return 1;
        }
        parsed->blocks[section].push_back({key, v, parsed->reader->line});
        return 1;
    };
    int error_line = ini_parse_stream(
        [](char* buffer, int size, void* stream) { return static_cast<Reader*>(stream)->next(buffer, size); }, &reader,
        on_entry, &file);
    if (error_line > 0)
        throw ConfigError(name + ":" + std::to_string(error_line) +
                          ": syntax error (expected '[block]', 'key = value' or a comment)");
    if (file.first_orphan_line)
        throw ConfigError(name + ":" + std::to_string(file.first_orphan_line) +
                          ": key outside any [block] (start the file with a block line such as [default])");

    ConfigBlock result;
    if (!file.blocks.count(block)) {
        if (block_required) throw ConfigError(name + ": no block [" + block + "] (asked for with -K)");
        return result;
    }
    auto chain = inheritance_chain(file, name, block);
    // A key set nearer the requested block overrides every value an ancestor gave it.
    std::set<std::string> decided;
    std::vector<std::vector<Setting>> per_block(chain.size());
    for (std::size_t i = 0; i < chain.size(); ++i) {
        std::set<std::string> here;
        for (const Entry& e : *chain[i].second) {
            check_key(e, name, chain[i].first);
            if (decided.count(e.key)) continue;
            here.insert(e.key);
            if (e.key == "--") {
                result.handler_args = split_handler_args(e, name);
                continue;
            }
            per_block[i].push_back({find_option(e.key), e.value, name + ":" + std::to_string(e.line)});
        }
        decided.insert(here.begin(), here.end());
    }
    for (auto it = per_block.rbegin(); it != per_block.rend(); ++it)
        result.settings.insert(result.settings.end(), it->begin(), it->end());
    return result;
}

std::string read_config_text(const std::string& path, const char* what) {
    gchar* contents = nullptr;
    gsize length = 0;
    GError* error = nullptr;
    if (!g_file_get_contents(path.c_str(), &contents, &length, &error)) {
        std::string message = std::string(what) + " " + path + ": " + error->message;
        g_error_free(error);
        throw ConfigError(message);
    }
    std::string text(contents, length);
    g_free(contents);
    return text;
}

ConfigBlock load_config_block(const std::string& path, const std::string& block, bool block_required) {
    return parse_config_block(read_config_text(path, "config file"), path, block, block_required);
}

std::string find_config_file(const std::string* given) {
    if (given) return *given == "/NULL/" ? std::string() : *given;
    const char* home = g_get_home_dir();
    std::vector<std::string> candidates;
    if (home) candidates.push_back(std::string(home) + "/.clsync.conf");
    candidates.push_back("/etc/clsync/clsync.conf");
    candidates.push_back("/etc/clsync.conf");
    for (const std::string& candidate : candidates)
        if (access(candidate.c_str(), F_OK) == 0) return candidate;
    return {};
}

// The command line, over the config file's block. Exits with the documented code on
// a bad command line (64) or a bad config file (78).
Options read_options(int argc, char* const argv[], const std::string* config_file) {
    CommandLine line = read_command_line(argc, argv);
    std::string config_path = config_file ? *config_file : find_config_file(command_line_value(line, "config-file"));
    const std::string* block = command_line_value(line, "config-block");
    ConfigBlock config;
    if (!config_path.empty())
        config = load_config_block(config_path, block ? *block : "default", block != nullptr);
    else if (block && command_line_value(line, "config-file"))
        throw ConfigError("-K " + *block + ": -H /NULL/ reads no config file");
    else if (block)
        throw ConfigError("-K " + *block +
                          ": no config file to read it from (none of ~/.clsync.conf, "
                          "/etc/clsync/clsync.conf, /etc/clsync.conf exists; see -H)");
    Options options = resolve_options(config.settings, config.handler_args ? &*config.handler_args : nullptr, line);
    options.config_file = config_path;
    return options;
}

}  // namespace clsync
