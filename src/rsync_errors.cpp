#include "rsync_errors.h"

#include <sstream>

namespace clsync {
namespace {

bool contains(const std::string& line, const char* text) { return line.find(text) != std::string::npos; }

// An error line caused by the source changing during the run.
bool is_source_race(const std::string& line) {
    if (line.rfind("file has vanished: ", 0) == 0) return true;
    if (line.rfind("rsync: [sender] ", 0) != 0) return false;
    bool racy_call = contains(line, "send_files failed to open") || contains(line, "link_stat ") ||
                     contains(line, "readlink_stat") || contains(line, "opendir ");
    bool racy_errno = contains(line, "(2)") || contains(line, "(20)") || contains(line, "(21)") ||
                      contains(line, "(40)");  // ENOENT, ENOTDIR, EISDIR, ELOOP
    return racy_call && racy_errno;
}

// rsync's closing summary ("rsync error: some files/attrs were not transferred ...").
bool is_summary(const std::string& line) {
    return line.rfind("rsync error: some files", 0) == 0 || line.rfind("rsync warning: some files", 0) == 0;
}

}  // namespace

bool rsync_run_complete(int exit_code, const std::string& stderr_text) {
    if (exit_code == 0 || exit_code == 24) return true;
    if (exit_code != 23) return false;
    std::istringstream lines(stderr_text);
    std::string line;
    bool saw_error = false;
    while (std::getline(lines, line)) {
        if (line.empty() || is_summary(line)) continue;
        if (!is_source_race(line)) return false;
        saw_error = true;
    }
    return saw_error;
}

}  // namespace clsync
