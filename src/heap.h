#pragma once

namespace clsync {

// glibc keeps what the daemon frees for reuse: after a burst of changes (big batches,
// long lists) the heap stays at its high-water mark. These keep the resident size
// close to what is in use (bench/soak.py measures it).

// Caps glibc's per-thread arenas: each worker thread would otherwise keep a heap of
// its own, each at its own high-water mark. Call first thing, before any thread.
void limit_heap_arenas();

// Gives the memory freed since the last call back to the kernel: call when work is
// done (a batch ended), not in a loop.
void return_free_heap();

}  // namespace clsync
