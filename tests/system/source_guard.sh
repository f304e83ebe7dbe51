#!/bin/sh
# The source guard: the watch dir (a tmpfs mounted there) is unmounted while clsync
# runs: the sync is held and the destination keeps its files; mounted again with its
# files, syncing goes on. Emptied (rm -rf *): held again, until SIGUSR2 says the
# empty tree is right; then the deletions reach the destination.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
STATUS=$WORK/status
mount -t tmpfs clsync-test "$SRC"
trap 'umount "$SRC" 2>/dev/null; cleanup' EXIT
populate() {
    mkdir -p "$SRC/d/e"
    echo one >"$SRC/d/e/f"
    echo two >"$SRC/top"
}
populate
start_daemon --status-file "$STATUS"
wait_converged "initial sync"

# after FIRST THEN: the log's last line with THEN comes after its last line with FIRST.
after() {
    first=$(grep -nF "$1" "$LOG" | tail -n 1 | cut -d: -f1)
    later=$(grep -nF "$2" "$LOG" | tail -n 1 | cut -d: -f1)
    [ -n "$first" ] && [ -n "$later" ] && [ "$later" -gt "$first" ]
}

# keeps_files WHAT: the destination still has the files for 2 s (a deletion would
# follow the hold within one 0.2 s window).
keeps_files() {
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -e "$DST/d/e/f" ] && [ -e "$DST/top" ] || fail "the destination lost its files: $1"
        sleep 0.2
    done
}

umount "$SRC"
wait_for "hold after the unmount" grep -q "holding the sync to $DST: the watch dir $SRC is not the file system it was at start (unmounted)" "$LOG"
wait_for "held in the status file" grep -q "^destination $DST: held (" "$STATUS"
keeps_files "after the unmount"

mount -t tmpfs clsync-test "$SRC"
populate
echo three >"$SRC/new after remount"
wait_for "sync goes on" grep -q "sync to $DST goes on" "$LOG"
wait_converged "after the remount"
# The guard looks when a sync starts: the tree is emptied only once the whole-tree
# sync queued by the rescan after the remount is over (emptied while that sync runs,
# the tree would be mirrored empty; see the man page).
wait_for "watched again" sh -c '[ "$(grep -c "inotify: watching 3 directories" "$0")" -ge 2 ]' "$LOG"
wait_for "the rescan's event" after "inotify: watching 3 directories" "event: '' (and below)"
wait_for "the rescan synced" after "event: '' (and below)" "synced the whole tree"
wait_for "no batch in flight" batches_idle

rm -rf "$SRC"/*
wait_for "hold when emptied" grep -q "the watch dir $SRC is empty and the destination is not" "$LOG"
keeps_files "after the tree was emptied"

kill -USR2 "$DAEMON_PID"
wait_converged "the empty tree synced after SIGUSR2"
[ -z "$(ls -A "$DST")" ] || fail "the destination is not empty after SIGUSR2"
echo back >"$SRC/back"
wait_converged "a new file after the forced sync"
rm "$SRC/back"
wait_for "hold when emptied again" sh -c '[ "$(grep -c "is empty and the destination is not" "$0")" -ge 2 ]' "$LOG"
stop_daemon
echo "PASS"
