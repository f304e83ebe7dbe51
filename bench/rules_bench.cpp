// Rule matching cost: how long RuleSet takes to decide on one path, for rule files
// of 10 to 10,000 rules. Two shapes: "grouped" (runs of exclusions then one
// inclusion, as real rule files are: merged into few regexes) and "alternating"
// (signs alternate every rule: nothing can be merged). Each rule is anchored on its
// own directory ("^data/dirN/"), as exclusion lists usually are; an unanchored
// run of the same size is measured too (merged into alternations of 64).
// Build: make bench/rules_bench; run: bench/rules_bench
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "rules.h"

using namespace clsync;

namespace {

std::string make_rules(int count, bool alternating, bool anchored) {
    std::string text;
    for (int i = 0; i < count; ++i) {
        char sign = alternating && i % 2 ? '+' : '-';
        text += sign;
        text += std::string("f") + (anchored ? "^" : "/") + "data/dir" + std::to_string(i) + "/.*\\.tmp$\n";
    }
    return text + "+*\n";
}

double ns_per_match(const RuleSet& rules, const std::vector<std::string>& paths) {
    auto start = std::chrono::steady_clock::now();
    std::size_t included = 0;
    for (const std::string& path : paths) included += rules.file_included(path);
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (included == paths.size() + 1) std::puts("");  // keep the loop
    return std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(paths.size());
}

}  // namespace

int main() {
    std::vector<std::string> paths;
    for (int i = 0; i < 20000; ++i)
        paths.push_back("data/dir" + std::to_string(i % 5000) + "/sub/file" + std::to_string(i) +
                        (i % 3 ? ".txt" : ".tmp"));
    std::printf("%8s %12s %14s %14s %14s\n", "rules", "shape", "parse ms", "cold ns/path", "warm ns/path");
    for (int shape = 0; shape < 3; ++shape)
        for (int count : {10, 100, 1000, 10000}) {
            bool alternating = shape == 1, anchored = shape != 2;
            auto start = std::chrono::steady_clock::now();
            RuleSet rules = RuleSet::parse(make_rules(count, alternating, anchored), "bench");
            double parse_ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            std::vector<std::string> sample = paths;
            double cold = ns_per_match(rules, sample);  // glibc builds each regex's DFA on first use
            double warm = ns_per_match(rules, sample);
            std::printf("%8d %12s %14.1f %14.0f %14.0f\n", count,
                        shape == 0   ? "anchored"
                        : shape == 1 ? "alternating"
                                     : "unanchored",
                        parse_ms, cold, warm);
        }
}
