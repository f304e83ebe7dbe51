#include "batcher.h"

namespace clsync {

Batch make_batch(std::vector<QueuedPath> paths, std::size_t max_paths) {
    Batch batch;
    for (const QueuedPath& p : paths)
        if (p.path.empty() && p.recursive) batch.full_tree = true;
    if (paths.size() > max_paths) batch.full_tree = true;
    if (!batch.full_tree) batch.paths = std::move(paths);
    return batch;
}

}  // namespace clsync
