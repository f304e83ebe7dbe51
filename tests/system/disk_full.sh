#!/bin/bash
# The destination's file system fills up (a 2 MiB tmpfs): the daemon logs the error
# (naming "No space left on device"), keeps running and retrying, leaves no partial
# file under a real name (nor rsync's temporary files), and catches up once there is
# room (the tmpfs grown). Root only (mount; 77 otherwise); also with -M librsync.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: disk_full needs root (mount)"; exit 77; fi
mount -t tmpfs -o size=2m clsync-full "$DST" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
unmount() { umount "$DST" 2>/dev/null || umount -l "$DST" 2>/dev/null || true; }
trap 'unmount; cleanup' EXIT

echo small >"$SRC/small"
start_daemon
wait_converged "initial sync"

# 3 MiB that cannot fit, beside a small change that can.
for i in 1 2 3; do head -c 1048576 /dev/urandom >"$SRC/big$i"; done
echo changed >>"$SRC/small"
wait_for "the error logged" grep -q "No space left on device" "$LOG"
wait_for "a retry after the failure" grep -qE "sync to .* failed (again|[0-9]+ times)" "$LOG"
kill -0 "$DAEMON_PID" || fail "the daemon exited on a full destination"
# What is there under a source name is whole: the old small, or a source file as it is.
echo small >"$WORK/small.old"
for f in "$DST"/*; do
    name=$(basename "$f")
    [ -f "$SRC/$name" ] || fail "unexpected entry at the destination: $name"
    cmp -s "$f" "$SRC/$name" || { [ "$name" = small ] && cmp -s "$f" "$WORK/small.old"; } ||
        fail "partial file at the destination: $name ($(stat -c %s "$f") bytes)"
done
! ls -A "$DST" | grep -q '^\.' || fail "temporary files left at the destination: $(ls -A "$DST" | grep '^\.')"

mount -o remount,size=16m "$DST"
wait_converged "after space was freed"
stop_daemon
echo "disk_full: ok"
