#include "file_list.h"

#include <cstring>
#include <unordered_set>

namespace clsync {

std::string rsync_pattern(const std::string& path, const char* suffix) {
    // rsync matches a rule literally unless it contains one of "*?[" (the suffix "***"
    // counts); only then does a backslash escape the next character.
    bool wild = std::strpbrk(suffix, "*?[") || path.find_first_of("*?[") != std::string::npos;
    std::string pattern = "/";
    pattern.reserve(path.size() + 8);
    for (char c : path) {
        if (wild && (c == '*' || c == '?' || c == '[' || c == '\\')) pattern += '\\';
        pattern += c;
    }
    pattern += suffix;
    return pattern;
}

std::string rsync_include_rules(const std::vector<QueuedPath>& paths) {
    std::string rules;
    std::unordered_set<std::string> parents_done;
    auto append = [&rules](const std::string& rule) {
        rules += rule;
        rules += '\0';
    };
    for (const QueuedPath& p : paths) {
        if (p.path.empty()) continue;  // the top directory's attributes are part of every run
        for (auto slash = p.path.find('/'); slash != std::string::npos; slash = p.path.find('/', slash + 1)) {
            std::string parent = p.path.substr(0, slash);
            if (parents_done.insert(parent).second) append(rsync_pattern(parent, "/"));
        }
        append(rsync_pattern(p.path, ""));
        if (p.recursive) append(rsync_pattern(p.path, "/***"));
    }
    return rules;
}

int path_depth(const std::string& path) {
    if (path.empty()) return 0;
    int depth = 1;
    for (char c : path) depth += c == '/';
    return depth;
}

std::string rsync_depth_limit_pattern() {
    // '*' never matches a '/': one "*/" per level.
    std::string pattern = "/";
    for (int level = 0; level < kMaxSyncDepth; ++level) pattern += "*/";
    return pattern;
}

std::vector<std::string> split_nul_list(const std::string& list) {
    std::vector<std::string> items;
    std::string::size_type start = 0;
    while (start < list.size()) {
        auto end = list.find('\0', start);
        if (end == std::string::npos) end = list.size();
        items.push_back(list.substr(start, end - start));
        start = end + 1;
    }
    return items;
}

}  // namespace clsync
