#include "mount_table.h"

#include <fstream>
#include <sstream>

#include "path_tree.h"

namespace clsync {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(const std::string& field) {
    std::string out;
    for (std::string::size_type i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && field.size() - i >= 4) {
            const char* digits = field.c_str() + i + 1;
            bool octal = true;
            for (int k = 0; k < 3; ++k) octal = octal && digits[k] >= '0' && digits[k] <= '7';
            if (octal) {
                out += static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
                i += 3;
                continue;
            }
        }
        out += field[i];
    }
    return out;
}

}  // namespace

std::set<std::string> mount_points_below(const std::string& mountinfo, const std::string& root) {
    std::set<std::string> below;
    std::istringstream lines(mountinfo);
    std::string line;
    std::string root_relative = root == "/" ? std::string() : root.substr(1);
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string id, parent, device, fs_root, mount_point;
        if (!(fields >> id >> parent >> device >> fs_root >> mount_point)) continue;
        std::string point = unescape_octal(mount_point);
        if (point.empty() || point[0] != '/') continue;
        std::string relative = point.substr(1);  // compare as relative paths: "" is "/"
        if (is_ancestor(root_relative, relative))
            below.insert(root_relative.empty() ? relative : relative.substr(root_relative.size() + 1));
    }
    return below;
}

std::string read_mountinfo() {
    std::ifstream file("/proc/self/mountinfo");
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace clsync
