#include "sync_runner.h"

#include <algorithm>

namespace clsync {

bool is_ignored_exit_code(const std::vector<int>& ignored, int exit_code) {
    return std::find(ignored.begin(), ignored.end(), exit_code) != ignored.end();
}

std::string trimmed(const std::string& text) {
    auto end = text.find_last_not_of(" \n\t");
    return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

}  // namespace clsync
