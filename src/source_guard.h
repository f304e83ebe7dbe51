// The guard against the classic way live mirrors destroy their own backups: the
// watched tree is unmounted (an NFS export missing at boot, a disk not mounted) or
// emptied, and the next sync deletes everything at the destination.
//
// Before every batch the coordinator asks the guard whether the watch dir still looks
// like itself: it exists, it is the same kind of file system as at start and as much
// a mount point as it was, and it is not empty where the destination is not. If not,
// that destination is held (nothing written, nothing deleted) until the tree is back,
// or an admin forces it (SIGUSR2), or --source-guard=0 turned the guard off.
//
// Threads: main thread only.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace clsync {

class SourceGuard {
public:
    // Records what the watch dir is now. `own_paths` (clsync's own files in the tree,
    // relative) do not make it non-empty. `on_back` runs when a problem went away:
    // the tree must be watched again (a file system mounted anew has no watches).
    SourceGuard(std::string watch_dir, std::vector<std::string> own_paths, std::function<void()> on_back);

    // Why writing `destination` now could destroy its copy; nullopt when it may go on.
    std::optional<std::string> problem(const std::string& destination);
    // SIGUSR2: the tree as it is now is the source, even empty (until it is not).
    void accept_current();

private:
    struct Identity {
        bool mount_point = false;
        long fs_type = 0;
    };
    std::optional<Identity> identify(std::string& why) const;
    bool source_empty() const;

    std::string watch_dir_;
    std::vector<std::string> own_paths_;
    std::function<void()> on_back_;
    Identity identity_;
    bool empty_accepted_ = false;
    bool lost_ = false;  // the watch dir was gone or another file system: watched anew once back
};

// Whether the local directory `path` has no entries (false for a remote destination:
// it cannot be looked at, so it is taken to hold a copy worth keeping).
bool destination_empty(const std::string& path);

}  // namespace clsync
