#!/bin/sh
# A chain of directories 5,000 levels deep (far beyond PATH_MAX): the daemon starts,
# watches it all (inotify), syncs what rsync can reach (rsync cannot descend past about
# 1,024 levels, so the daemon leaves out everything below level 1,000 and says so), and
# keeps syncing changes, deletions included, at depths 50 and 900.
# No treecmp here: its os.walk recursion cannot go 5,000 levels deep.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

DEPTH=5000
# One-character names, created through directory descriptors (openat), so that no path
# handed to the kernel is longer than one name.
python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for _ in range(int(sys.argv[2])):
    os.mkdir("a", dir_fd=fd)
    child = os.open("a", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = child
with open(os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("at the bottom\n")
' "$SRC" "$DEPTH"
echo top >"$SRC/top"
echo gone >"$SRC/gone"

# at_depth N: the relative path of the chain's directory N levels down.
at_depth() { python3 -c 'import sys; print("/".join(["a"] * int(sys.argv[1])))' "$1"; }
D50=$(at_depth 50)
D900=$(at_depth 900)       # $WORK/src/ + 1,800 characters: still under PATH_MAX

# start_daemon's command line, but a failed initial sync ends the wait at once (with
# the reason) instead of after the deadline.
"$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -t 0.2 -d >"$LOG" 2>&1 &
DAEMON_PID=$!
# rsync takes 15 to 30 s over the 1,000 levels on a loaded 2-core machine.
DEADLINE=120 wait_for "initial sync to finish or fail" grep -q -e "synced the whole tree" -e "sync to .* failed" "$LOG"
if grep -q "sync to .* failed" "$LOG"; then
    # (rsync's reason, "opendir ...: Cannot allocate memory", is past the end of the
    # abridged message: the path alone is longer.)
    fail "the initial sync of a $DEPTH-level tree failed ($MONITOR): rsync cannot list directories" \
        "about 1,024 levels deep; the daemon must leave them out of its runs"
fi

if [ "$MONITOR" = inotify ]; then
    # The root and every level are watched, however deep.
    grep -q "watching $((DEPTH + 1)) directories" "$LOG" || fail "not all $((DEPTH + 1)) directories watched"
    # The walk notes where rsync has to stop.
    grep -q "is 1000 levels deep: rsync cannot sync it or below it" "$LOG" || fail "no 'levels deep' warning"
fi
# (fanotify marks the file system and walks nothing at start: neither line exists.)

cmp -s "$SRC/top" "$DST/top" || fail "top-level file not synced initially"
[ -d "$DST/$D900" ] || fail "the chain was not synced down to level 900"

# Changes at depth 50 and 900 after start are synced; so is a deletion, which rsync
# skips ("IO error encountered") in any run that hits a directory it cannot read.
echo "at fifty" >"$SRC/$D50/f50"
echo "at nine hundred" >"$SRC/$D900/f900"
rm "$SRC/gone"
wait_for "file at depth 50" cmp -s "$SRC/$D50/f50" "$DST/$D50/f50"
wait_for "file at depth 900" cmp -s "$SRC/$D900/f900" "$DST/$D900/f900"
wait_for "deletion at the top" test ! -e "$DST/gone"

kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
grep -q "sync to .* failed" "$LOG" && fail "a sync failed"
stop_daemon
echo "deep_tree ($MONITOR): ok"
