#!/bin/bash
# -M librsync: a crash (SIGKILL) in the middle of an in-place update of a 300 MiB file
# leaves the update recorded in the state store (unfinished_updates). The next start
# says so, writes the file again whole (not from the signature, which no longer
# describes the half-updated destination), converges byte for byte and clears the
# record; later changes are made in place again.
# The second round: the file is deleted from the source while clsync is down; the
# next start deletes it at the destination and clears the record as well.
CLSYNC_MODE=librsync
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
command -v sqlite3 >/dev/null || { echo "SKIP: librsync_crash: the sqlite3 shell is missing"; exit 77; }

BLOCK=65536
DB=$STATE/state.db
DEADLINE=${DEADLINE:-180}  # a librsync delta of 300 MiB on a loaded machine
# -B/-T: the big file's window is short (it is 128M/30 s by default).
OPTIONS="-B 1M -T 0.2"

unfinished() { sqlite3 -cmd ".timeout 5000" "$DB" "select count(*) from unfinished_updates"; }
no_unfinished() { [ "$(unfinished)" = 0 ]; }
in_place_count() { grep -c " bytes written in place" "$LOG" || true; }
more_in_place_than() { [ "$(in_place_count)" -gt "$1" ]; }
# change_blocks FILE STEP: 16 random bytes in every STEP-th 64 KiB block, size kept.
change_blocks() {
    python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
blocks, step = os.fstat(fd).st_size // 65536, int(sys.argv[2])
for b in range(0, blocks, step):
    os.pwrite(fd, os.urandom(16), b * 65536 + (b * 7919) % 65000)
os.close(fd)' "$@"
}
# crash_during_update STEP DELAY: changes every STEP-th block of the big file and SIGKILLs
# the daemon DELAY s after its update is recorded as begun. True when the kill left the
# update unfinished, false when the update was done first (the daemon is stopped then).
crash_during_update() {
    python3 "$TESTS_DIR/signal_when.py" --delay "$2" "$DAEMON_PID" KILL 120 \
        --sql "$DB" "select count(*) from unfinished_updates" >"$WORK/when.out" 2>&1 &
    local poller=$! rc=0
    wait_for "the poller" grep -q polling "$WORK/when.out"
    change_blocks "$SRC/big" "$1" || fail "cannot change the big file"
    wait "$poller" || fail "the in-place update was not seen begun: $(cat "$WORK/when.out")"
    wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=
    [ "$rc" -eq 137 ] || fail "the daemon exited with $rc, not killed (137)"
    cat "$WORK/when.out"
    [ "$(unfinished)" = 1 ]
}
# interrupt_an_update: crash_during_update until a kill lands in the middle, each retry
# with a larger change (a longer update) and less delay. Not flaky on a fast machine.
interrupt_an_update() {
    local attempt=1
    for args in "4 0.05" "2 0.02" "1 0" "1 0"; do
        # shellcheck disable=SC2086
        if crash_during_update $args; then
            echo "attempt $attempt: the daemon was killed during the update"
            if cmp -s "$SRC/big" "$DST/big"; then echo "(the destination already had all the new data)"; fi
            return 0
        fi
        echo "attempt $attempt: the update was done before the kill: again with a larger change"
        # shellcheck disable=SC2086
        start_daemon $OPTIONS
        settled "after attempt $attempt"
        attempt=$((attempt + 1))
    done
    fail "no kill landed during an in-place update in 4 attempts"
}

head -c 300M /dev/urandom > "$SRC/big"
echo small > "$SRC/small"
# shellcheck disable=SC2086
start_daemon $OPTIONS
settled "initial sync"
# The big file is updated in place from its signature (the precondition of the crash).
before=$(in_place_count)
change_blocks "$SRC/big" 1000
wait_for "an in-place update" more_in_place_than "$before"
settled "in-place update"
no_unfinished || fail "an update is recorded as unfinished after it finished"

# 1. Killed during the update; the next start writes the file again.
interrupt_an_update
# shellcheck disable=SC2086
start_daemon $OPTIONS
grep -q "'big': an update at the destination was interrupted" "$LOG" || fail "the interrupted update was not reported"
settled "after the restart"
cmp "$SRC/big" "$DST/big" || fail "the interrupted file is not byte-equal after the restart"
wait_for "the unfinished update cleared" no_unfinished
# The state is sound again: the next change is in place, one block.
before=$(in_place_count)
inode=$(stat -c %i "$DST/big")
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.pwrite(fd, os.urandom(100), 12345678); os.close(fd)' "$SRC/big"
wait_for "an in-place update after the restart" more_in_place_than "$before"
settled "in-place update after the restart"
grep -q "'big': $BLOCK of 314572800 bytes written in place" "$LOG" ||
    fail "the change after the restart was not written in place as one block: $(grep 'written in place' "$LOG" | tail -n 1)"
[ "$(stat -c %i "$DST/big")" = "$inode" ] || fail "the update after the restart was not in place (inode changed)"

# 2. Killed during the update, the file deleted from the source while clsync is down.
interrupt_an_update
rm "$SRC/big"
# shellcheck disable=SC2086
start_daemon $OPTIONS
grep -q "'big': an update at the destination was interrupted" "$LOG" || fail "the interrupted update was not reported"
settled "after the restart, the file deleted meanwhile"
[ ! -e "$DST/big" ] || fail "the deleted file is still at the destination"
DEADLINE=10 wait_for "the unfinished update of the deleted file cleared" no_unfinished
stop_daemon
# shellcheck disable=SC2086
start_daemon $OPTIONS
grep -q "an update at the destination was interrupted" "$LOG" && fail "an interrupted update reported again at the next start"
stop_daemon
echo "librsync_crash: ok"
