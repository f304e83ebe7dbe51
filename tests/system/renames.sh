#!/bin/bash
# Renames of a file, of a directory with children, across directories, and moves
# into and out of the tree.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mkdir -p "$SRC/dir/sub/deeper" "$SRC/other" "$WORK/outside/in"
for i in 1 2 3; do echo "$i" > "$SRC/dir/sub/deeper/f$i"; echo "$i" > "$SRC/dir/g$i"; done
echo f > "$SRC/file"
echo o > "$WORK/outside/in/x"
start_daemon
wait_converged "initial"

mv "$SRC/file" "$SRC/file.renamed"
mv "$SRC/dir" "$SRC/dir.renamed"
mv "$SRC/dir.renamed/g1" "$SRC/other/g1"
wait_converged "after renames"

# The renamed directory is still watched under its new name.
echo new > "$SRC/dir.renamed/sub/deeper/new"
mv "$SRC/other" "$SRC/dir.renamed/sub/other"
wait_converged "after changes under the renamed directory"
echo newer > "$SRC/dir.renamed/sub/other/newer"
wait_converged "after a change in a directory moved twice"

mv "$WORK/outside" "$SRC/moved-in"
mv "$SRC/dir.renamed/sub" "$WORK/moved-out"
wait_converged "after moves into and out of the tree"
echo inside > "$SRC/moved-in/in/y"
echo ignored > "$WORK/moved-out/deeper/z"   # no longer ours
wait_converged "after changes in the moved-in tree"
stop_daemon
echo "renames: ok"
