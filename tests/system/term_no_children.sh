#!/bin/bash
# TERM while rsync runs: the daemon exits 0 and leaves no rsync behind, and no
# half-written file is visible at the destination.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

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
