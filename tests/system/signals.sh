#!/bin/bash
# HUP and USR1 do not stop the daemon; USR2 resyncs the whole tree; QUIT with
# --sync-on-quit syncs what is queued without waiting for the window, then exits 0.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

start_daemon -t 60 --sync-on-quit    # a window long enough that only QUIT can explain a sync
kill -HUP "$DAEMON_PID"
kill -USR1 "$DAEMON_PID"
wait_for "status logged" grep -q "status:" "$LOG"
kill -0 "$DAEMON_PID" || fail "HUP or USR1 stopped the daemon"

echo extra > "$DST/only-at-destination"
kill -USR2 "$DAEMON_PID"
wait_for "USR2 resync" test ! -e "$DST/only-at-destination"

echo pending > "$SRC/pending"
wait_for "event queued" grep -q "event: 'pending'" "$LOG"
stop_daemon QUIT
cmp -s "$SRC/pending" "$DST/pending" || fail "QUIT did not sync the queued change"
echo "signals: ok"
