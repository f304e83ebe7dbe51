#!/bin/bash
# Create, modify, chmod, utime, symlinks (dangling too), delete of files and trees.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mkdir -p "$SRC/keep/sub" "$SRC/tree/a/b"
echo before > "$SRC/keep/file"
echo x > "$SRC/tree/a/b/leaf"
echo stale > "$DST/not-in-source"      # the initial sync removes it
start_daemon
wait_converged "initial sync"

echo new > "$SRC/created"
echo more >> "$SRC/keep/file"
chmod 600 "$SRC/keep/file"
chmod 750 "$SRC/keep/sub"
touch -d '2001-02-03 04:05:06.123456789' "$SRC/created"
ln -s keep/file "$SRC/link"
ln -s /nonexistent/target "$SRC/dangling"
rm -rf "$SRC/tree"
: > "$SRC/empty"
wait_converged "after changes"

rm "$SRC/link" "$SRC/created"
touch -d '1999-01-01' "$SRC/keep/sub"
wait_converged "after deletes and directory utime"
[ ! -e "$DST/tree" ] || fail "deleted tree still at destination"

grep -q "syncing the whole tree" "$LOG" || fail "no initial sync logged"
stop_daemon
echo "basic_sync: ok"
