#!/bin/bash
# Hard links within the tree stay hard links at the destination, also when one of
# the names is modified later.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mkdir -p "$SRC/a" "$SRC/b"
echo original > "$SRC/a/old"
ln "$SRC/a/old" "$SRC/b/old-link"      # a link that exists before the daemon starts
start_daemon
wait_converged "initial sync with links"

echo shared > "$SRC/a/f"
ln "$SRC/a/f" "$SRC/b/f-link"
wait_converged "new hard link"

echo appended >> "$SRC/a/old"          # the other name is not reported by inotify
wait_converged "modified file with a pre-existing link"
echo appended >> "$SRC/b/f-link"
wait_converged "modified through the second name"
rm "$SRC/a/f"
wait_converged "one name removed"

# Links inside directories that are synced with everything below them.
mkdir "$SRC/newdir" && ln "$SRC/a/old" "$SRC/newdir/third-name"
wait_converged "a link created in a new directory"
mv "$SRC/b" "$SRC/b-renamed"
wait_converged "a directory holding a linked file renamed"
stop_daemon
echo "hard_links: ok"
