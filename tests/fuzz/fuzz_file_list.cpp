// libFuzzer target for the file lists handed to rsync and handlers (src/file_list.cpp):
// the input, split at NUL bytes, is a batch of paths (a leading '*' marks a recursive
// one). The NUL list of include rules must split back into anchored rules, at least
// one per distinct path; the newline-separated one must hold no newline inside a rule.
// Run: tests/fuzz/run.sh (make fuzz)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "file_list.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clsync;
    std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<QueuedPath> paths;
    std::set<std::string> named;
    for (std::size_t start = 0; start < input.size() && paths.size() < 256;) {
        std::size_t end = input.find('\0', start);
        if (end == std::string::npos) end = input.size();
        std::string path = input.substr(start, end - start);
        bool recursive = !path.empty() && path[0] == '*';
        if (recursive) path.erase(0, 1);
        // Relative paths without empty, "." or ".." components, as the watcher makes them.
        bool valid = !path.empty() && path.front() != '/' && path.back() != '/' && path.find("//") == std::string::npos;
        for (std::size_t c = 0; valid && c <= path.size();) {
            std::size_t slash = path.find('/', c);
            if (slash == std::string::npos) slash = path.size();
            std::string component = path.substr(c, slash - c);
            valid = component != "." && component != "..";
            c = slash + 1;
        }
        if (valid) {
            paths.push_back({path, recursive});
            named.insert(path);
        }
        start = end + 1;
    }
    std::vector<std::string> rules = split_nul_list(rsync_include_rules(paths));
    if (rules.size() < named.size()) std::abort();
    for (const std::string& rule : rules)
        if (rule.empty() || rule[0] != '/') std::abort();
    std::string lines = rsync_include_rules(paths, '\n');
    std::size_t count = 0;
    for (char c : lines) count += c == '\n';
    if (count != rules.size()) std::abort();
    return 0;
}
