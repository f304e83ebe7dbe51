#!/bin/bash
# Symlinks pointing outside the tree (absolute and relative) and at the destination
# itself, and a directory swapped for such a symlink between its events and their sync
# (the classic race): each is synced as a symlink, never followed, and nothing outside
# the destination is written or deleted: a canary tree beside it stays exactly as it was.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

OUTSIDE=$WORK/outside
mkdir -p "$OUTSIDE/sub"
echo canary >"$OUTSIDE/canary"
echo deep >"$OUTSIDE/sub/deep"
# Every entry's name, type, size, mode and mtime, and the files' content.
canary_state() { (cd "$OUTSIDE" && find . -printf '%p %y %s %m %T@\n' | sort && cat canary sub/deep); }
before=$(canary_state)

mkdir -p "$SRC/dir/inner"
echo a >"$SRC/dir/file"
echo b >"$SRC/dir/inner/canary"  # a name that also exists outside
ln -s "$OUTSIDE" "$SRC/to-outside"
ln -s ../outside "$SRC/relative-out"
ln -s "$DST" "$SRC/to-destination"
start_daemon
wait_converged "initial sync"
for link in to-outside relative-out to-destination; do
    [ -L "$DST/$link" ] || fail "$link is not a symlink at the destination"
done
[ "$(readlink "$DST/to-destination")" = "$DST" ] || fail "to-destination points elsewhere at the destination"

# The race: changes below dir, then dir swapped for a symlink to the outside tree
# before their batch runs (-t 0.2). What was below dir must not be written through it.
echo changed >>"$SRC/dir/file"
echo changed >>"$SRC/dir/inner/canary"
mv "$SRC/dir" "$WORK/moved-away"
ln -s "$OUTSIDE" "$SRC/dir"
wait_converged "after the directory became a symlink"
[ -L "$DST/dir" ] || fail "dir is not a symlink at the destination"

# And back, then the links go: deleting them deletes the links only.
rm "$SRC/dir"
mv "$WORK/moved-away" "$SRC/dir"
rm "$SRC/to-outside" "$SRC/to-destination"
wait_converged "after the links were removed"
[ -d "$DST" ] && [ -f "$DST/dir/inner/canary" ] || fail "the destination lost its own entries"

[ "$(canary_state)" = "$before" ] || fail "the tree outside the source and the destination changed"
stop_daemon

# The reverse race: a symlink to the outside tree replaced by a directory and a file
# renamed into it, in one batch (-t 2): until the batch syncs the directory, the
# destination still has the symlink, and the rename's replay must not go through it.
ln -s "$OUTSIDE" "$SRC/link-then-dir"
echo moved >"$SRC/moving"
start_daemon -t 2
wait_converged "the link to the outside tree"
rm "$SRC/link-then-dir"
mkdir "$SRC/link-then-dir"
wait_for "the new directory watched" grep -q "event: 'link-then-dir' (and below)" "$LOG"
mv "$SRC/moving" "$SRC/link-then-dir/moved-in"
wait_converged "after the symlink became a directory with a file renamed into it"
[ -e "$OUTSIDE/moved-in" ] && fail "the rename was replayed through the destination's symlink, outside it"
[ "$(canary_state)" = "$before" ] || fail "the tree outside the source and the destination changed"
stop_daemon
echo "hostile_symlinks: ok"
