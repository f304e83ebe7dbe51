#!/bin/bash
# Files at or above -B wait for the big-file window (-T) while ordinary files are
# synced after -t; the big file is queued, not lost (SIGQUIT with --sync-on-quit syncs it at once).
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

start_daemon -B 1M -T 600 --sync-on-quit
head -c 2097152 /dev/urandom > "$SRC/big"
echo small > "$SRC/small"
wait_for "small file synced" cmp -s "$SRC/small" "$DST/small"
wait_for "big file queued" grep -q "event: 'big'" "$LOG"
[ ! -e "$DST/big" ] || fail "the big file did not wait for its own window"

echo small2 > "$SRC/small2"          # ordinary files keep flowing meanwhile
wait_for "second small file synced" cmp -s "$SRC/small2" "$DST/small2"
[ ! -e "$DST/big" ] || fail "the big file went with an ordinary batch"

stop_daemon QUIT
cmp -s "$SRC/big" "$DST/big" || fail "the queued big file was not synced on QUIT"
echo "big_files: ok"
