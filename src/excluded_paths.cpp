#include "excluded_paths.h"

#include "file_list.h"
#include "path_tree.h"
#include "scanner.h"

namespace clsync {

std::vector<ExcludedPath> find_excluded(const std::string& root, const std::vector<QueuedPath>& paths,
                                        const RuleSet& rules) {
    std::vector<ExcludedPath> excluded;
    if (rules.empty()) return excluded;
    std::vector<std::string> starts;
    for (const QueuedPath& p : paths)
        if (p.recursive) starts.push_back(p.path);
    // A start below another start is walked with it.
    for (const std::string& start : starts) {
        bool nested = false;
        for (const std::string& other : starts) nested = nested || is_ancestor(other, start);
        if (nested) continue;
        FileVisitor on_file;
        if (rules.excludes_files())
            on_file = [&](const std::string& dir, int, const char* name) {
                std::string path = join_path(dir, name);
                if (!rules.file_included(path)) excluded.push_back({std::move(path), false});
            };
        walk_directories(
            root, start,
            [&](const std::string& dir, int) {
                if (dir == start || rules.dir_included(dir)) return true;
                excluded.push_back({dir, true});
                return false;
            },
            {}, on_file);
    }
    return excluded;
}

std::string rsync_exclude_rules(const std::vector<ExcludedPath>& excluded, char separator, bool prefixed) {
    std::string rules;
    for (const ExcludedPath& e : excluded) {
        if (prefixed) rules += "- ";
        rules += rsync_pattern(e.path, e.is_dir ? "/" : "", separator);
        rules += separator;
    }
    return rules;
}

}  // namespace clsync
