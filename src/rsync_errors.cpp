#include "rsync_errors.h"

#include <cstdio>
#include <string_view>

namespace clsync {
namespace {

constexpr std::string_view kKeptNewer = " is newer";

// Calls `f` with each line of `text` (split by hand: <sstream> would pull iostreams
// and locales into the static binary).
template <typename F>
void for_each_line(const std::string& text, F&& f) {
    for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        f(text.substr(start, end - start));
        start = end + 1;
    }
}

bool contains(const std::string& line, const char* text) { return line.find(text) != std::string::npos; }

bool starts_with(const std::string& line, const char* prefix) { return line.rfind(prefix, 0) == 0; }

// ENOENT, ENOTDIR, EISDIR, ELOOP: what a path changing type or vanishing gives.
bool is_race_errno(const std::string& line) {
    return contains(line, "(2)") || contains(line, "(20)") || contains(line, "(21)") || contains(line, "(40)");
}

// The source changed after rsync listed it; deletions of the run are not affected.
bool is_race_after_listing(const std::string& line) {
    if (starts_with(line, "file has vanished: ")) return true;
    return starts_with(line, "rsync: [sender] send_files failed to open") && is_race_errno(line);
}

// The source changed while rsync listed it: rsync then skips the run's deletions.
bool is_race_while_listing(const std::string& line) {
    if (line == "IO error encountered -- skipping file deletion") return true;
    bool listing_call = contains(line, "opendir ") || contains(line, "link_stat ") || contains(line, "readlink_stat");
    return starts_with(line, "rsync: [sender] ") && listing_call && is_race_errno(line);
}

// A directory listed without its contents (its attributes or a parent of a listed
// path) is gone from the source: rsync cannot delete it with contents it was not
// given. Its deletion raised an event of its own, which the rerun includes.
bool is_race_with_deletion(const std::string& line) { return starts_with(line, "cannot delete non-empty directory: "); }

// What --info=skip1 says of a file --update left alone: not an error.
bool is_kept_newer_notice(const std::string& line) {
    return line.size() > kKeptNewer.size() &&
           line.compare(line.size() - kKeptNewer.size(), std::string::npos, kKeptNewer.data(), kKeptNewer.size()) == 0;
}

// rsync's closing summary ("rsync error: some files/attrs were not transferred ...").
bool is_summary(const std::string& line) {
    return starts_with(line, "rsync error: some files") || starts_with(line, "rsync warning: some files");
}

}  // namespace

RsyncOutcome classify_rsync_run(int exit_code, const std::string& messages) {
    bool deletions_skipped = messages.find("IO error encountered -- skipping file deletion") != std::string::npos;
    if (exit_code == 0 || exit_code == 24) return deletions_skipped ? RsyncOutcome::Retry : RsyncOutcome::Complete;
    if (exit_code != 23) return RsyncOutcome::Failed;
    bool listing_raced = false, explained = false, unexplained = false;  // listing_raced: run it again
    for_each_line(messages, [&](const std::string& line) {
        if (line.empty() || is_summary(line) || is_kept_newer_notice(line)) return;
        if (is_race_while_listing(line) || is_race_with_deletion(line))
            listing_raced = true;
        else if (!is_race_after_listing(line))
            unexplained = true;
        explained = true;
    });
    if (unexplained || !explained) return RsyncOutcome::Failed;
    return listing_raced ? RsyncOutcome::Retry : RsyncOutcome::Complete;
}

bool rsync_version_supported(const std::string& version_output, std::string& found) {
    found.clear();
    auto at = version_output.find("version ");
    if (at == std::string::npos) return false;
    at += 8;
    while (at < version_output.size() && version_output[at] == ' ') ++at;
    auto end = version_output.find_first_not_of("0123456789.", at);
    found = version_output.substr(at, end == std::string::npos ? std::string::npos : end - at);
    unsigned major = 0, minor = 0, patch = 0;
    if (std::sscanf(found.c_str(), "%u.%u.%u", &major, &minor, &patch) < 2) return false;
    if (major != 3) return major > 3;
    return minor > 2 || (minor == 2 && patch >= 4);
}

namespace {

// rsync's "\#ooo" escapes undone (a name holding "\#" and three octal digits itself
// comes out wrong: its record then matches nothing, which keeps what it names).
std::string unescaped_log_name(const std::string& name) {
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
        auto octal = [&](std::size_t j) { return j < name.size() && name[j] >= '0' && name[j] <= '7'; };
        if (name.compare(i, 2, "\\#") == 0 && octal(i + 2) && octal(i + 3) && octal(i + 4)) {
            out += static_cast<char>((name[i + 2] - '0') * 64 + (name[i + 3] - '0') * 8 + (name[i + 4] - '0'));
            i += 4;
        } else {
            out += name[i];
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> written_paths_in_log(const std::string& log) {
    std::vector<std::string> paths;
    for_each_line(log, [&paths](const std::string& line) {
        std::size_t pid_end = line.find("] ");
        if (pid_end == std::string::npos) return;
        std::string item = line.substr(pid_end + 2);
        // "YXcstpoguax name": Y what was done (sent or received, made, hard-linked), not
        // '.' (attributes of an entry that was there) or '*' ("*deleting").
        constexpr std::size_t kItemize = 11;
        if (item.size() < kItemize + 2 || item[kItemize] != ' ' ||
            std::string("<>ch").find(item[0]) == std::string::npos ||
            std::string("fdLDS").find(item[1]) == std::string::npos)
            return;
        std::string name = unescaped_log_name(item.substr(kItemize + 1));
        if (!name.empty() && name.back() == '/') name.pop_back();
        if (!name.empty() && name != ".") paths.push_back(std::move(name));
    });
    return paths;
}

std::vector<std::string> kept_newer_paths(std::string& messages) {
    std::vector<std::string> paths;
    std::string others;
    for_each_line(messages, [&](const std::string& line) {
        if (is_kept_newer_notice(line))
            paths.push_back(unescaped_log_name(line.substr(0, line.size() - kKeptNewer.size())));
        else
            others += line + '\n';
    });
    messages = std::move(others);
    return paths;
}

}  // namespace clsync
