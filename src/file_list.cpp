#include "file_list.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "path_tree.h"

namespace clsync {

std::string rsync_pattern(const std::string& path, const char* suffix, char separator) {
    // rsync matches a rule literally unless it contains one of "*?[" (the suffix "***"
    // counts); only then does a backslash escape the next character.
    bool newline_as_wildcard = separator == '\n' && path.find('\n') != std::string::npos;
    bool wild = newline_as_wildcard || std::strpbrk(suffix, "*?[") || path.find_first_of("*?[") != std::string::npos;
    std::string pattern = "/";
    pattern.reserve(path.size() + 8);
    for (char c : path) {
        if (c == '\n' && newline_as_wildcard) {
            pattern += '?';
            continue;
        }
        if (wild && (c == '*' || c == '?' || c == '[' || c == '\\')) pattern += '\\';
        pattern += c;
    }
    pattern += suffix;
    return pattern;
}

std::string rsync_include_rules(const std::vector<QueuedPath>& paths, char separator) {
    std::string rules;
    std::unordered_set<std::string> parents_done;
    auto append = [&rules, separator](const std::string& rule) {
        rules += rule;
        rules += separator;
    };
    for (const QueuedPath& p : paths) {
        if (p.path.empty()) continue;  // the top directory's attributes are part of every run
        for (auto slash = p.path.find('/'); slash != std::string::npos; slash = p.path.find('/', slash + 1)) {
            std::string parent = p.path.substr(0, slash);
            if (parents_done.insert(parent).second) append(rsync_pattern(parent, "/", separator));
        }
        append(rsync_pattern(p.path, "", separator));
        if (p.recursive) append(rsync_pattern(p.path, "/***", separator));
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

std::vector<QueuedPath> without_unsyncable(std::vector<QueuedPath> paths, const std::vector<std::string>& unsyncable) {
    paths.erase(std::remove_if(paths.begin(), paths.end(),
                               [&unsyncable](const QueuedPath& p) {
                                   if (path_depth(p.path) >= kMaxSyncDepth) return true;
                                   for (const std::string& dir : unsyncable)
                                       if (p.path == dir || is_ancestor(dir, p.path)) return true;
                                   return false;
                               }),
                paths.end());
    return paths;
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
