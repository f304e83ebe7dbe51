#!/bin/bash
# TERM while rsync runs: the daemon exits 0 and leaves no rsync behind, and no
# half-written file is visible at the destination. In librsync mode: TERM while clsync
# copies a big file itself.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

if [ "$MODE" = librsync ]; then
    # -M librsync runs no rsync: clsync copies the file itself. TERM the moment its
    # temp file appears stops the copy between two chunks: exit 0, the temp file
    # removed, nothing under the real name; the next start syncs the file.
    mkdir -p "$WORK/staging"
    head -c 300M /dev/urandom > "$WORK/staging/big"
    for attempt in 1 2 3; do
        rm -rf "$DST" "$STATE" && mkdir "$DST"
        start_daemon -B 1M -T 0.2
        python3 "$TESTS_DIR/signal_when.py" "$DAEMON_PID" TERM 60 --glob "$DST" '.big.clsync-*' >"$WORK/when.out" 2>&1 &
        WHEN=$!
        wait_for "the poller" grep -q polling "$WORK/when.out"
        mv "$WORK/staging/big" "$SRC/big"
        wait "$WHEN" || fail "no temp file seen while the big file was copied: $(cat "$WORK/when.out")"
        rc=0; wait "$DAEMON_PID" || rc=$?
        DAEMON_PID=
        [ "$rc" -eq 0 ] || fail "exit code $rc on TERM during a copy"
        leftovers=$(find "$DST" -name '.*.clsync-*')
        [ -z "$leftovers" ] || fail "temp file left at the destination: $leftovers"
        [ ! -e "$DST/big" ] && break
        # The copy ended before the TERM was handled (a stalled machine): the file must be
        # whole then, and the next attempt copies a bigger one.
        cmp -s "$SRC/big" "$DST/big" || fail "half-written file visible at the destination"
        echo "attempt $attempt: the copy finished before TERM stopped it; again with a bigger file"
        mv "$SRC/big" "$WORK/staging/big"
        head -c 300M /dev/urandom >> "$WORK/staging/big"
    done
    [ ! -e "$DST/big" ] || fail "TERM never stopped a copy in 3 attempts"
    grep -q "stopping on signal" "$LOG" || fail "the stop was not logged"
    start_daemon
    wait_converged "after a restart"
    stop_daemon
    echo "term_no_children (librsync): ok"
    exit 0
fi

# A slow rsync, so that TERM surely arrives while it runs.
cat > "$WORK/slow-rsync" <<SH
#!/bin/sh
echo \$\$ >> "$WORK/rsync-pids"
exec rsync --bwlimit=200 "\$@"
SH
chmod +x "$WORK/slow-rsync"
head -c 20000000 /dev/urandom > "$SRC/big"
"$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -S "$WORK/slow-rsync" -t 0.2 -d >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "rsync started" test -s "$WORK/rsync-pids"
wait_for "rsync writing" sh -c "ls -A '$DST' | grep -q ."
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" -eq 0 ] || fail "exit code $rc on TERM"
while read -r pid; do
    deadline=$(( $(date +%s) + 10 ))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "rsync $pid still running after the daemon stopped"
        sleep 0.1
    done
done < "$WORK/rsync-pids"
pgrep -f "$WORK/src" >/dev/null && fail "a child process still refers to the source"
[ ! -e "$DST/big" ] || cmp -s "$SRC/big" "$DST/big" || fail "half-written file visible at the destination"
ls -A "$DST" | grep -q '^\.big\.' && fail "rsync temp file left at the destination"
echo "term_no_children: ok"
