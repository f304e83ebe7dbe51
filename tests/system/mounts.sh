#!/bin/sh
# A file system mounted inside the watch dir (a tmpfs at $SRC/mnt):
#   default              its files are synced, also ones created after start;
#   --one-file-system    its mount point is synced as an empty directory and nothing
#                        created inside it later is synced, while the rest still is;
#   -X                   the mount point directory itself is left out.
# Each case starts from an empty destination and a new daemon.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

if [ "$(id -u)" -ne 0 ]; then echo "SKIP: mounting a tmpfs needs root"; exit 77; fi

MNT=$SRC/mnt
mkdir -p "$MNT" "$SRC/outside"
if ! mount -t tmpfs -o size=4m tmpfs "$MNT" 2>"$WORK/mount.err"; then
    echo "SKIP: cannot mount a tmpfs: $(cat "$WORK/mount.err")"
    exit 77
fi
# The daemon goes first: with fanotify it holds the tmpfs open (umount: EBUSY). Then
# the unmount, then lib.sh's cleanup (whose rm -rf would otherwise empty the tmpfs and
# leave $WORK behind).
unmount_then_cleanup() {
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    DAEMON_PID=
    if mountpoint -q "$MNT"; then umount "$MNT" || umount -l "$MNT" || true; fi
    cleanup
}
trap unmount_then_cleanup EXIT

mkdir -p "$MNT/sub"
echo "on the tmpfs" >"$MNT/before"
echo "deeper on the tmpfs" >"$MNT/sub/before"
echo "on the watch dir's file system" >"$SRC/outside/before"

fresh_destination() { rm -rf "$DST" && mkdir "$DST"; }

# default: the mount's contents are part of the tree.
start_daemon
wait_converged "initial sync across the mount"
echo "created after start" >"$MNT/after"
echo "created after start, deeper" >"$MNT/sub/after"
wait_for "new file inside the mount" cmp -s "$MNT/after" "$DST/mnt/after"
wait_for "new file deeper inside the mount" cmp -s "$MNT/sub/after" "$DST/mnt/sub/after"
wait_converged "after changes inside the mount"
stop_daemon
rm "$MNT/after" "$MNT/sub/after"

# --one-file-system: the mount point is there, empty; the mount is neither synced nor watched.
fresh_destination
start_daemon --one-file-system
[ -d "$DST/mnt" ] || fail "--one-file-system: the mount point directory is not at the destination"
[ -z "$(ls -A "$DST/mnt")" ] || fail "--one-file-system: the mount point is not empty at the destination: $(ls -A "$DST/mnt")"
cmp -s "$SRC/outside/before" "$DST/outside/before" || fail "--one-file-system: the rest of the tree was not synced"
echo "inside, after start" >"$MNT/later"
echo "inside, after start" >"$MNT/sub/later"
echo "outside, after start" >"$SRC/outside/later"
wait_for "file outside the mount" cmp -s "$SRC/outside/later" "$DST/outside/later"
# One more batch after the one that carried the files above: an event from inside the
# mount, had there been one, is synced by now.
echo "outside, second" >"$SRC/outside/later2"
wait_for "second file outside the mount" cmp -s "$SRC/outside/later2" "$DST/outside/later2"
[ -z "$(ls -A "$DST/mnt")" ] || fail "--one-file-system: files inside the mount were synced: $(ls -A "$DST/mnt")"
stop_daemon
rm "$MNT/later" "$MNT/sub/later" "$SRC/outside/later" "$SRC/outside/later2"

# -X: not even the mount point directory.
fresh_destination
start_daemon -X
[ ! -e "$DST/mnt" ] && [ ! -L "$DST/mnt" ] || fail "-X: the mount point is at the destination"
cmp -s "$SRC/outside/before" "$DST/outside/before" || fail "-X: the rest of the tree was not synced"
echo "inside, after start" >"$MNT/later"
touch "$MNT"               # the mount point's own attributes: still left out
echo "outside, after start" >"$SRC/outside/later"
wait_for "file outside the mount (-X)" cmp -s "$SRC/outside/later" "$DST/outside/later"
echo "outside, second" >"$SRC/outside/later2"
wait_for "second file outside the mount (-X)" cmp -s "$SRC/outside/later2" "$DST/outside/later2"
[ ! -e "$DST/mnt" ] && [ ! -L "$DST/mnt" ] || fail "-X: the mount point appeared at the destination"
stop_daemon
echo "mounts ($MONITOR): ok"
