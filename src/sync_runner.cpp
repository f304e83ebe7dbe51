#include "sync_runner.h"

#include <algorithm>

namespace clsync {

void fold_rerun(SyncResult& result, SyncResult rerun) {
    result.written.insert(result.written.end(), rerun.written.begin(), rerun.written.end());
    if (rerun.outcome == RsyncOutcome::Complete) return;
    result.outcome = rerun.outcome;
    result.exit_code = rerun.exit_code;
    result.message = std::move(rerun.message);
}

bool is_ignored_exit_code(const std::vector<int>& ignored, int exit_code) {
    return std::find(ignored.begin(), ignored.end(), exit_code) != ignored.end();
}

std::string trimmed(const std::string& text) {
    auto end = text.find_last_not_of(" \n\t");
    return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

}  // namespace clsync
