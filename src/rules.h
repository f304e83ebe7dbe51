// Filter rules (-R), in the original clsync's format: one rule per line,
// "[+-][type]regex", first matching rule wins, no match means included.
//
// Types: f files (everything that is not a directory), s sync a directory, w walk
// into it, m monitor it, d = s+w+m, W = w+m, * = all. The regex (POSIX extended) is
// matched against the path relative to the watch dir, without a leading slash; the
// watch dir itself is "". A directory is included only if it may be synced, walked
// and monitored: clsync cannot sync a directory's contents without walking it.
//
// Thousands of rules stay cheap: a rule anchored with a literal start ("^var/log/")
// is only tried on paths that start with that literal (found by one hash lookup per
// prefix length), and runs of unanchored rules of the same sign and type are
// matched as one alternation. Pure and immutable after parsing; thread safe.
#pragma once

#include <regex.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace clsync {

enum RuleAction : unsigned {
    kSyncFile = 1,
    kSyncDir = 2,
    kWalk = 4,
    kMonitor = 8,
    kDirectory = kSyncDir | kWalk | kMonitor,
};

class RuleSet {
public:
    // Parses rules; throws ConfigError naming `name`, the line and the problem.
    static RuleSet parse(const std::string& text, const std::string& name);
    // Reads and parses a rules file; throws ConfigError.
    static RuleSet load(const std::string& path);

    RuleSet() = default;
    RuleSet(RuleSet&&) = default;
    RuleSet& operator=(RuleSet&&) = default;

    bool empty() const { return groups_.empty(); }
    std::size_t group_count() const { return groups_.size(); }
    std::size_t rule_count() const { return rule_count_; }
    // Whether every action in `actions` is allowed for `path`.
    bool allows(const std::string& path, unsigned actions) const;
    bool file_included(const std::string& path) const { return allows(path, kSyncFile); }
    bool dir_included(const std::string& path) const { return allows(path, kDirectory); }
    // Whether `path` (of unknown type: an event's) and every directory above it can be
    // included; `is_dir` is asked only when the type decides.
    template <typename IsDir>
    bool path_included(const std::string& path, IsDir&& is_dir) const;
    // Whether some rule can exclude a file (a walk must then look at every file).
    bool excludes_files() const { return excludes_files_; }

private:
    struct Regex {
        regex_t compiled;
        ~Regex() { regfree(&compiled); }
    };
    struct Group {
        bool include;
        unsigned actions;
        std::shared_ptr<Regex> regex;  // null: matches everything (empty regex)
        std::string prefix;            // a path must start with it to match
    };
    bool ancestors_included(const std::string& path) const;
    void index_prefixes();
    // The groups that can match `path`, in rule order.
    std::vector<std::size_t> candidates(const std::string& path) const;

    std::vector<Group> groups_;
    std::unordered_map<std::string, std::vector<std::size_t>> by_prefix_;  // group indexes, ascending
    std::vector<std::size_t> prefix_lengths_;                              // ascending, distinct
    std::vector<std::size_t> unprefixed_;                                  // ascending
    std::size_t rule_count_ = 0;
    bool excludes_files_ = false;
};

template <typename IsDir>
bool RuleSet::path_included(const std::string& path, IsDir&& is_dir) const {
    if (groups_.empty()) return true;
    if (!ancestors_included(path)) return false;
    bool as_file = file_included(path), as_dir = dir_included(path);
    if (as_file == as_dir) return as_file;
    return is_dir() ? as_dir : as_file;
}

// The rules in force, replaced as a whole on SIGHUP. Thread safe.
class Rules {
public:
    std::shared_ptr<const RuleSet> get() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return current_;
    }
    void set(RuleSet rules) {
        auto next = std::make_shared<const RuleSet>(std::move(rules));
        std::lock_guard<std::mutex> lock(mutex_);
        current_ = std::move(next);
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const RuleSet> current_ = std::make_shared<const RuleSet>();
};

}  // namespace clsync
