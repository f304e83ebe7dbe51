#include "remote_rename.h"

#include <cstdlib>

namespace clsync {

SshDestination split_ssh_destination(const std::string& destination) {
    auto colon = destination.find(':');
    SshDestination d{destination.substr(0, colon), destination.substr(colon + 1)};
    while (d.path.size() > 1 && d.path.back() == '/') d.path.pop_back();
    if (d.path.empty()) d.path = ".";  // rsync's "host:" is the remote home directory
    return d;
}

std::string shell_quoted(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

std::string remote_rename_script(const std::string& remote_path, const std::vector<Rename>& renames) {
    // mv follows a symlink in a parent like rename(2) does, and the destination's copy of
    // a directory may still be a symlink the source has replaced since: a rename goes
    // only where both parents resolve to themselves below the destination ("beneath").
    // -T: onto an existing directory `to` is replaced (if empty), not entered, as with
    // rename(2). A failed or refused mv is reported, not fatal: that rename is copied
    // instead.
    std::string script = "b=$(realpath -e -- " + shell_quoted(remote_path) +
                         " 2>/dev/null) || b=\n"
                         "beneath() { [ -n \"$b\" ] && { [ -z \"$1\" ] || "
                         "[ \"$(realpath -e -- \"$b/$1\" 2>/dev/null)/\" = \"$b/$1\" ]; }; }\n";
    auto directory_of = [](const std::string& path) { return path.substr(0, path.rfind('/') + 1); };
    for (std::size_t i = 0; i < renames.size(); ++i) {
        const Rename& r = renames[i];
        script += "beneath " + shell_quoted(directory_of(r.from)) + " && beneath " + shell_quoted(directory_of(r.to)) +
                  " && mv -fT -- \"$b\"/" + shell_quoted(r.from) + " \"$b\"/" + shell_quoted(r.to) +
                  " 2>/dev/null || echo clsync-rename-failed " + std::to_string(i) + " >&2\n";
    }
    return script + "echo clsync-renames-done >&2\n";
}

std::vector<bool> applied_renames(const std::string& stderr_text, std::size_t count) {
    std::vector<bool> applied(count, false);
    if (stderr_text.find("clsync-renames-done") == std::string::npos) return applied;
    applied.assign(count, true);
    static const std::string marker = "clsync-rename-failed ";
    for (auto at = stderr_text.find(marker); at != std::string::npos; at = stderr_text.find(marker, at + 1)) {
        std::size_t index = std::strtoul(stderr_text.c_str() + at + marker.size(), nullptr, 10);
        if (index < count) applied[index] = false;
    }
    return applied;
}

}  // namespace clsync
