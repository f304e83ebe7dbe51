#include "heap.h"

#include <malloc.h>

namespace clsync {

void limit_heap_arenas() {
#ifdef M_ARENA_MAX
    // Two: the main loop's and one the threads share. They allocate little and rarely
    // at the same moment (a batch's lists, a walk), so they hardly ever wait for it.
    mallopt(M_ARENA_MAX, 2);
    // Fixed, not glibc's sliding threshold: once a big block (a walk, a list) was
    // freed, glibc would take the next ones from the heap, which then stays that big.
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024);
#endif
}

void return_free_heap() {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

}  // namespace clsync
