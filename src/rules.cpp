#include "rules.h"

#include <glib.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "config_file.h"

namespace clsync {
namespace {

unsigned actions_of(char type) {
    switch (type) {
        case 'f':
            return kSyncFile;
        case 's':
            return kSyncDir;
        case 'w':
            return kWalk;
        case 'm':
            return kMonitor;
        case 'd':
            return kDirectory;
        case 'W':
            return kWalk | kMonitor;
        case '*':
            return kSyncFile | kDirectory;
        default:
            return 0;
    }
}

std::string regex_error(int code, const regex_t* regex) {
    char message[256];
    regerror(code, regex, message, sizeof message);
    return message;
}

// A back-reference counts groups: such a regex cannot share an alternation.
bool has_back_reference(const std::string& regex) {
    for (std::size_t i = 0; i + 1 < regex.size(); ++i)
        if (regex[i] == '\\') {
            if (g_ascii_isdigit(regex[i + 1])) return true;
            ++i;
        }
    return false;
}

// The literal text every match must start with: what follows a leading '^' up to
// the first special character; a literal followed by a quantifier may be absent.
std::string literal_prefix(const std::string& regex) {
    // "^a|b" matches "b" anywhere: an alternation anywhere gives no prefix.
    if (regex.empty() || regex[0] != '^' || regex.find('|') != std::string::npos) return {};
    std::string prefix;
    for (std::size_t i = 1; i < regex.size(); ++i) {
        char c = regex[i];
        if (c == '*' || c == '?' || c == '{') {
            if (!prefix.empty()) prefix.pop_back();
            break;
        }
        if (std::strchr(".[]()|+^$\\", c)) {
            if (c == '+') break;  // the literal before it is there at least once: keep it
            if (c == '\\' && i + 1 < regex.size() && std::strchr(".[]()|*+?{}^$\\/", regex[i + 1]) &&
                !(i + 2 < regex.size() && std::strchr("*?{", regex[i + 2]))) {
                prefix += regex[++i];  // an escaped special character is a literal
                continue;
            }
            break;
        }
        if (i + 1 < regex.size() && std::strchr("*?{", regex[i + 1])) break;  // optional
        prefix += c;
    }
    return prefix;
}

// Why glibc's regcomp could take minutes or gigabytes over `regex`, or nullptr: a
// repetition of a repetition ("a++", "a*{2}", undefined in POSIX EREs anyway), whose
// automaton grows exponentially, or a bound over kMaxRepetition.
constexpr unsigned long kMaxRepetition = 255;
const char* costly_regex(const std::string& regex) {
    bool after_quantifier = false;
    for (std::size_t i = 0; i < regex.size(); ++i) {
        char c = regex[i];
        if (c == '\\') {
            ++i;
            after_quantifier = false;
        } else if (c == '[') {  // a bracket expression: "]" first is a member, as are [:class:]es
            std::size_t j = i + 1;
            if (j < regex.size() && regex[j] == '^') ++j;
            if (j < regex.size() && regex[j] == ']') ++j;
            for (; j < regex.size() && regex[j] != ']'; ++j)
                if (regex[j] == '[' && j + 1 < regex.size() && std::strchr(":.=", regex[j + 1])) {
                    std::size_t close = regex.find(std::string(1, regex[j + 1]) + "]", j + 2);
                    if (close == std::string::npos) break;
                    j = close + 1;
                }
            i = j;
            after_quantifier = false;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (after_quantifier) return "a repetition of a repetition";
            if (c == '{') {
                std::size_t close = regex.find('}', i);
                if (close == std::string::npos) return nullptr;  // regcomp says what is wrong
                for (std::size_t d = i + 1; d < close;) {
                    std::size_t end = regex.find_first_not_of("0123456789", d);
                    if (end > close) end = close;
                    if (end > d && (end - d > 3 || std::stoul(regex.substr(d, end - d)) > kMaxRepetition))
                        return "a repetition bound over 255";
                    d = end + 1;
                }
                i = close;
            }
            after_quantifier = true;
        } else {
            after_quantifier = false;
        }
    }
    return nullptr;
}

struct ParsedRule {
    int line;
    bool include;
    unsigned actions;
    std::string regex;
    std::string prefix;
    bool alone;  // may not be merged
};

// Merging many regexes into one alternation makes regcomp slow (superlinear); the
// groups stay small.
constexpr std::size_t kMaxGroupRules = 64;

}  // namespace

RuleSet RuleSet::parse(const std::string& text, const std::string& name) {
    std::vector<ParsedRule> rules;
    std::size_t pos = 0;
    for (int line_number = 1; pos < text.size(); ++line_number) {
        auto end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        std::string where = name + ":" + std::to_string(line_number) + ": ";
        if (line[0] != '+' && line[0] != '-')
            throw ConfigError(where + "rule '" + line + "' must start with + (include) or - (exclude)");
        unsigned actions = line.size() > 1 ? actions_of(line[1]) : 0;
        if (!actions)
            throw ConfigError(where + "rule '" + line +
                              "': the second character must be a type: f, d, s, w, m, W or *");
        std::string regex = line.substr(2);
        std::string prefix = literal_prefix(regex);
        ParsedRule rule{line_number, line[0] == '+', actions,
                        regex,       prefix,         !prefix.empty() || has_back_reference(regex)};
        if (const char* costly = costly_regex(rule.regex))
            throw ConfigError(where + "rule '" + line + "': bad regex: " + costly);
        if (!rule.regex.empty()) {
            Regex check;
            int code = regcomp(&check.compiled, rule.regex.c_str(), REG_EXTENDED | REG_NOSUB);
            if (code != 0) {
                std::string message = regex_error(code, &check.compiled);
                throw ConfigError(where + "rule '" + line + "': bad regex: " + message);
            }
        }
        rules.push_back(std::move(rule));
    }

    RuleSet set;
    set.rule_count_ = rules.size();
    for (std::size_t i = 0; i < rules.size();) {
        // The run of rules this group covers: same sign and type, each mergeable.
        std::size_t j = i + 1;
        bool matches_all = rules[i].regex.empty();
        while (!rules[i].alone && j < rules.size() && j - i < kMaxGroupRules && !rules[j].alone &&
               rules[j].include == rules[i].include && rules[j].actions == rules[i].actions) {
            matches_all = matches_all || rules[j].regex.empty();
            ++j;
        }
        Group group{rules[i].include, rules[i].actions, nullptr, rules[i].prefix};
        if (!matches_all) {
            std::string pattern = rules[i].regex;
            if (j > i + 1) {
                pattern.clear();
                for (std::size_t k = i; k < j; ++k) pattern += (k > i ? "|(" : "(") + rules[k].regex + ")";
            }
            group.regex = std::make_shared<Regex>();
            int code = regcomp(&group.regex->compiled, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
            if (code != 0)
                throw ConfigError(name + ":" + std::to_string(rules[i].line) + ": rules from this line on" +
                                  " cannot be combined: " + regex_error(code, &group.regex->compiled));
        }
        if (!group.include && (group.actions & kSyncFile)) set.excludes_files_ = true;
        set.groups_.push_back(std::move(group));
        i = j;
    }
    set.index_prefixes();
    return set;
}

void RuleSet::index_prefixes() {
    std::set<std::size_t> lengths;
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        if (groups_[i].prefix.empty()) {
            unprefixed_.push_back(i);
            continue;
        }
        by_prefix_[groups_[i].prefix].push_back(i);
        lengths.insert(groups_[i].prefix.size());
    }
    prefix_lengths_.assign(lengths.begin(), lengths.end());
}

std::vector<std::size_t> RuleSet::candidates(const std::string& path) const {
    std::vector<std::size_t> found = unprefixed_;
    std::size_t unprefixed_end = found.size();
    for (std::size_t length : prefix_lengths_) {
        if (length > path.size()) break;
        auto it = by_prefix_.find(path.substr(0, length));
        if (it != by_prefix_.end()) found.insert(found.end(), it->second.begin(), it->second.end());
    }
    if (found.size() > unprefixed_end) std::sort(found.begin(), found.end());
    return found;
}

RuleSet RuleSet::load(const std::string& path) { return parse(read_config_text(path, "rules file"), path); }

bool RuleSet::allows(const std::string& path, unsigned actions) const {
    unsigned undecided = actions;
    for (std::size_t index : candidates(path)) {
        const Group& group = groups_[index];
        unsigned decides = group.actions & undecided;
        if (!decides) continue;
        if (group.regex && regexec(&group.regex->compiled, path.c_str(), 0, nullptr, 0) != 0) continue;
        if (!group.include) return false;
        undecided &= ~decides;
        if (!undecided) return true;
    }
    return true;
}

bool RuleSet::ancestors_included(const std::string& path) const {
    if (!dir_included("")) return false;
    for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
        if (!dir_included(path.substr(0, slash))) return false;
    return true;
}

}  // namespace clsync
