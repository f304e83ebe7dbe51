#!/bin/bash
# Without root, an unreadable subdirectory is logged and skipped: the rest keeps
# syncing (deletions included), and its copy at the destination is left alone.
# When it becomes readable, it is watched and synced.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

command -v setpriv >/dev/null || { echo "unreadable_dir: setpriv missing, skipped"; exit 77; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 755 "$WORK"
mkdir -p "$SRC/locked/inner" "$SRC/open"
echo secret > "$SRC/locked/inner/file"
echo one > "$SRC/open/file"
chown -R 65534:65534 "$SRC" "$DST"
mkdir -p "$DST/locked" && echo "old copy" > "$DST/locked/kept" && chown -R 65534:65534 "$DST/locked"
chmod 000 "$SRC/locked"
# The state dir is the daemon's (user nobody) to create its database in.
mkdir -p -m 700 "$STATE" && chown 65534:65534 "$STATE"

# shellcheck disable=SC2086
setpriv --reuid=65534 --regid=65534 --clear-groups "$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" -t 0.2 -d >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "initial sync" grep -q "synced the whole tree" "$LOG"
grep -q "cannot read directory '$SRC/locked'" "$LOG" || fail "the unreadable directory was not logged"

as_nobody sh -c "echo two > '$SRC/open/new'; rm '$SRC/open/file'"
wait_for "new file synced" cmp -s "$SRC/open/new" "$DST/open/new"
wait_for "deletion synced" test ! -e "$DST/open/file"
[ -e "$DST/locked/kept" ] || fail "the destination's copy of the unreadable directory was deleted"
grep -q "failed" "$LOG" && fail "a sync failed because of the unreadable directory"

chmod 755 "$SRC/locked"
wait_for "directory synced once readable" cmp -s "$SRC/locked/inner/file" "$DST/locked/inner/file"
as_nobody sh -c "echo later > '$SRC/locked/inner/later'"
wait_for "directory watched once readable" cmp -s "$SRC/locked/inner/later" "$DST/locked/inner/later"
stop_daemon
echo "unreadable_dir: ok"
