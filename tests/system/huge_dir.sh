#!/bin/bash
# A directory of 1,000,000 entries (files, and 100 subdirectories among them): the
# daemon watches and syncs it whole at start, then syncs a change, a new file, a
# deletion, a rename and a file in one of its subdirectories, and the trees end equal.
# On tmpfs (root), which makes and removes a million files in seconds.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "huge_dir: needs root (tmpfs), skipped"; exit 77; }
trap 'if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=; fi
      umount -l "$SRC" 2>/dev/null; umount -l "$DST" 2>/dev/null; cleanup' EXIT
for dir in "$SRC" "$DST"; do mount -t tmpfs -o size=4g,nr_inodes=2m,mode=0755 clsync-huge "$dir"; done
# The whole-tree run of a million files takes rsync about 40 s on a 2-core machine.
export DEADLINE=600

ENTRIES=1000000
python3 - "$SRC/huge" "$ENTRIES" <<'EOF'
import os, sys
path, entries = sys.argv[1], int(sys.argv[2])
os.mkdir(path)
fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
for i in range(entries):
    if i % 10000 == 0:
        os.mkdir('d%07d' % i, dir_fd=fd)
    else:
        os.close(os.open('f%07d' % i, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
EOF
start_daemon
count=$(find "$DST/huge" -mindepth 1 -maxdepth 1 | wc -l)
[ "$count" -eq "$ENTRIES" ] || fail "the initial sync left $count entries of $ENTRIES"

echo changed > "$SRC/huge/f0500001"
echo new > "$SRC/huge/new"
rm "$SRC/huge/f0000001"
mv "$SRC/huge/f0999999" "$SRC/huge/renamed"
echo below > "$SRC/huge/d0770000/below"
wait_for "a changed file synced" cmp -s "$SRC/huge/f0500001" "$DST/huge/f0500001"
wait_for "a new file synced" cmp -s "$SRC/huge/new" "$DST/huge/new"
wait_for "a file in a subdirectory synced" cmp -s "$SRC/huge/d0770000/below" "$DST/huge/d0770000/below"
wait_for "a deletion synced" test ! -e "$DST/huge/f0000001"
wait_for "a rename synced" test -e "$DST/huge/renamed" -a ! -e "$DST/huge/f0999999"
wait_converged "the million entries"
grep -E "VmHWM" "/proc/$DAEMON_PID/status" | sed 's/^/huge_dir: the daemon'"'"'s peak /'
stop_daemon
echo "huge_dir: ok"
