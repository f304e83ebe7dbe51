#include "startup_checks.h"

#include <glib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "daemon.h"
#include "exit_codes.h"
#include "rsync_errors.h"

namespace clsync {

std::string canonical_watch_dir(const std::string& dir) {
    char resolved[PATH_MAX];
    if (!realpath(dir.c_str(), resolved))
        throw StartupError{kExitNoInput, "watch dir '" + dir + "': " + strerror(errno)};
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
        throw StartupError{kExitNoInput, "watch dir '" + dir + "' is not a directory"};
    if (access(resolved, R_OK | X_OK) != 0)
        throw StartupError{kExitNoInput, "watch dir '" + dir + "' is not readable: " + strerror(errno)};
    return resolved;
}

// rsync reads "host:path" and "rsync://..." as remote; everything else is local.
bool is_remote_destination(const std::string& destination) {
    auto colon = destination.find(':');
    return colon != std::string::npos && destination.find('/') > colon;
}

bool is_ssh_destination(const std::string& destination) {
    if (!is_remote_destination(destination) || destination.compare(0, 8, "rsync://") == 0) return false;
    auto colon = destination.find(':');
    return destination.compare(colon, 2, "::") != 0;
}

// The destination's absolute path, resolving symlinks of the part that exists.
std::string resolve_local_path(const std::string& path) {
    std::string existing = path, rest;
    char resolved[PATH_MAX];
    while (!realpath(existing.c_str(), resolved)) {
        auto slash = existing.find_last_of('/');
        if (slash == std::string::npos) {
            if (!getcwd(resolved, sizeof resolved)) return path;
            return std::string(resolved) + '/' + existing + rest;
        }
        rest = existing.substr(slash) + rest;
        existing = slash == 0 ? "/" : existing.substr(0, slash);
    }
    return std::string(resolved) + rest;
}

// Whether the absolute `path` is `dir` or below it.
bool is_within(const std::string& path, const std::string& dir) {
    return path == dir || dir == "/" || path.compare(0, dir.size() + 1, dir + '/') == 0;
}

// The destination as rsync will get it: local paths made absolute (and refused when
// inside the watch dir, which would sync into itself); remote ones unchanged.
std::string checked_destination(const std::string& watch_dir, const std::string& destination) {
    if (is_remote_destination(destination)) return destination;
    std::string resolved = resolve_local_path(destination);
    while (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
    if (is_within(resolved, watch_dir))
        throw StartupError{kExitUsage, "destination '" + destination + "' is inside the watch dir '" + watch_dir +
                                           "': it would sync into itself"};
    // rsync --delete into a parent of the watch dir would delete everything beside it.
    if (is_within(watch_dir, resolved))
        throw StartupError{kExitUsage, "destination '" + destination + "' contains the watch dir '" + watch_dir +
                                           "': syncing would delete the rest of the destination"};
    return resolved;
}

std::vector<std::string> checked_destinations(const std::string& watch_dir, const std::vector<std::string>& given) {
    std::vector<std::string> checked;
    for (const std::string& destination : given) {
        std::string path = checked_destination(watch_dir, destination);
        if (is_remote_destination(path))
            while (path.size() > 1 && path.back() == '/' && path[path.size() - 2] != ':') path.pop_back();
        for (std::size_t i = 0; i < checked.size(); ++i) {
            struct stat a, b;
            bool same_inode = !is_remote_destination(path) && !is_remote_destination(checked[i]) &&
                              stat(path.c_str(), &a) == 0 && stat(checked[i].c_str(), &b) == 0 &&
                              a.st_dev == b.st_dev && a.st_ino == b.st_ino;
            if (path == checked[i] || same_inode)
                throw StartupError{kExitUsage, "destinations '" + given[i] + "' and '" + destination +
                                                   "' are the same directory: give each destination once"};
            bool local = !is_remote_destination(path) && !is_remote_destination(checked[i]);
            // Syncing to the outer one would delete the inner one (the source lacks it).
            if (local && (is_within(path, checked[i]) || is_within(checked[i], path)))
                throw StartupError{kExitUsage, "destination '" + destination + "' and destination '" + given[i] +
                                                   "' lie one inside the other: each sync would delete the other"};
        }
        checked.push_back(std::move(path));
    }
    return checked;
}

std::string find_rsync(const std::string& configured) {
    std::string name = configured.empty() ? "rsync" : configured;
    char* found = g_find_program_in_path(name.c_str());
    if (!found)
        throw StartupError{kExitUnavailable,
                           "rsync binary '" + name + "' not found (install the rsync package or set -S)"};
    std::string path = found;
    g_free(found);

    char* output = nullptr;
    GError* error = nullptr;
    const char* argv[] = {path.c_str(), "--version", nullptr};
    gboolean ran = g_spawn_sync(nullptr, const_cast<char**>(argv), nullptr, G_SPAWN_STDERR_TO_DEV_NULL, nullptr,
                                nullptr, &output, nullptr, nullptr, &error);
    if (!ran) {
        std::string why = error ? error->message : "unknown error";
        if (error) g_error_free(error);
        throw StartupError{kExitUnavailable, "cannot run '" + path + " --version': " + why};
    }
    std::string version_output = output ? output : "";
    g_free(output);
    std::string version;
    if (!rsync_version_supported(version_output, version))
        throw StartupError{kExitUnavailable, "'" + path + "' is rsync " +
                                                 (version.empty() ? "of unknown version" : version) +
                                                 "; clsync needs rsync 3.2.4 or later"};
    return path;
}

// The handler program: a name is looked up in PATH, a path made absolute (handlers
// run in the watch dir, where a relative path would mean something else).
std::string find_handler(const std::string& handler) {
    char* found = nullptr;
    if (handler.find('/') == std::string::npos) {
        found = g_find_program_in_path(handler.c_str());
    } else {
        char resolved[PATH_MAX];
        if (realpath(handler.c_str(), resolved)) found = g_strdup(resolved);
    }
    if (!found) throw StartupError{kExitUnavailable, "sync handler '" + handler + "' not found"};
    std::string path = found;
    g_free(found);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0)
        throw StartupError{kExitUnavailable, "sync handler '" + path + "' is not an executable file"};
    return path;
}

// The directory walk holds a descriptor per level of a deep tree: allow what the
// administrator allows (the hard limit) rather than the soft default of 1024.
void raise_open_file_limit() {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

// Those of `files` that lie inside the watch dir, relative to it.
std::vector<std::string> own_paths_in(const std::string& watch_dir, const std::vector<std::string>& files) {
    std::vector<std::string> inside;
    for (const std::string& file : files) {
        if (file.empty()) continue;
        std::string absolute = resolve_local_path(file);
        if (absolute != watch_dir && is_within(absolute, watch_dir))
            inside.push_back(absolute.substr(watch_dir == "/" ? 1 : watch_dir.size() + 1));
    }
    return inside;
}

}  // namespace clsync

namespace clsync {

std::string prepare_state_dir(const Options& options, const Identity& identity) {
    std::string dir = options.state_dir;
    if (dir.empty()) {
        std::string name = options.label;
        if (name == "nolabel") {
            std::string key = options.watch_dir;
            for (const std::string& d : options.destinations) key += '\0' + d;
            char hash[24];
            snprintf(hash, sizeof hash, "-%016llx",
                     static_cast<unsigned long long>(XXH3_64bits(key.data(), key.size())));
            name += hash;
        }
        dir = std::string(geteuid() == 0 ? "/var/lib" : g_get_user_state_dir()) + "/clsync/" + name;
    }
    // Only the state dir itself is private: parents made 0700 (/var/lib/clsync as root)
    // would keep the user of -u out of the dir handed to it.
    gchar* parent = g_path_get_dirname(dir.c_str());
    bool parents_made = g_mkdir_with_parents(parent, 0755) == 0;
    g_free(parent);
    if (!parents_made || (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST))
        throw StartupError{kExitCantCreate, "cannot create the state dir " + dir + ": " + std::strerror(errno)};
    // It tells which paths are out of sync and holds signatures of file contents.
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw StartupError{kExitCantCreate, "state dir " + dir + " is not a directory"};
    if (st.st_mode & 077) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
        throw StartupError{kExitCantCreate, "state dir " + dir + " is accessible by other users (mode " + mode +
                                                "): make it private (chmod 700 " + dir + ")"};
    }
    if (identity.set && geteuid() == 0) {
        // With what an earlier start (as root, or as another -u) left in it.
        bool given = chown(dir.c_str(), identity.uid, identity.gid) == 0;
        if (GDir* entries = g_dir_open(dir.c_str(), 0, nullptr)) {
            while (const char* name = g_dir_read_name(entries))
                given = given && lchown((dir + '/' + name).c_str(), identity.uid, identity.gid) == 0;
            g_dir_close(entries);
        }
        if (!given)
            throw StartupError{kExitCantCreate,
                               "cannot give the state dir " + dir + " to the user: " + std::strerror(errno)};
    }
    return dir;
}

}  // namespace clsync

namespace clsync {

std::string read_cluster_key(const std::string& path) {
    constexpr std::size_t kMinKey = 16;
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        throw StartupError{kExitUsage, "option --cluster-key: " + path + ": " + std::strerror(errno)};
    if (!S_ISREG(st.st_mode)) throw StartupError{kExitUsage, "option --cluster-key: " + path + " is not a file"};
    if (st.st_mode & 077) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
        throw StartupError{kExitNoPerm, "option --cluster-key: " + path + " is accessible by other users (mode " +
                                            mode + "): whoever reads it can forge cluster packets (chmod 600 " + path +
                                            ")"};
    }
    gchar* text = nullptr;
    gsize size = 0;
    GError* error = nullptr;
    if (!g_file_get_contents(path.c_str(), &text, &size, &error)) {
        std::string why = error->message;
        g_error_free(error);
        throw StartupError{kExitUsage, "option --cluster-key: " + why};
    }
    std::string key(text, size);
    g_free(text);
    if (!key.empty() && key.back() == '\n') key.pop_back();
    if (key.size() < kMinKey)
        throw StartupError{kExitUsage, "option --cluster-key: " + path + " holds " + std::to_string(key.size()) +
                                           " bytes; a key of at least 16 is needed (e.g. head -c 32 /dev/urandom | "
                                           "base64 > " +
                                           path + ")"};
    return key;
}

}  // namespace clsync
