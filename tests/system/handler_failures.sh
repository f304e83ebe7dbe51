#!/bin/bash
# Failing handlers: a failed run is retried until it works; --retries ends the daemon
# with exit 75, or with --ignore-failures drops the batch and goes on; -x makes an exit
# code count as success; --timeout-sync kills the handler's whole process group; TERM
# during a run ends the daemon promptly and leaves no handler process behind.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

HANDLERS=$(cd "$TESTS_DIR/../../examples/handlers" && pwd)
export CLSYNC_DEST=$DST
mkdir -p "$SRC/a"
echo x > "$SRC/a/f"

# handler NAME BODY: a handler script $WORK/NAME; BODY is sh, $calls counts its runs.
handler() {
    cat > "$WORK/$1" <<SH
#!/bin/sh
calls=\$(( \$(cat "$WORK/$1.calls" 2>/dev/null || echo 0) + 1 ))
echo \$calls > "$WORK/$1.calls"
$2
SH
    chmod +x "$WORK/$1"
}
calls() { cat "$WORK/$1.calls" 2>/dev/null || echo 0; }
calls_at_least() { [ "$(calls "$1")" -ge "$2" ]; }
# no_process PATTERN: no process has PATTERN in its command line (polled: signals take a moment).
no_process() { ! pgrep -f "^$1\$" >/dev/null; }
wait_gone() {
    local deadline=$(( $(date +%s) + 15 ))
    until no_process "$1"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "$2: still running: $(pgrep -af "$1")"
        sleep 0.1
    done
}

# Runs 2 and 3 (the first after the initial sync) fail; the change still arrives.
handler flaky "case \$calls in 2|3) echo 'flaky: not now' >&2; exit 5;; esac
exec \"$HANDLERS/rsyncshell.sh\" \"\$@\""
start_daemon -M rsyncshell -S "$WORK/flaky"
echo new > "$SRC/a/new"
wait_converged "flaky handler"
grep -q "flaky: not now.*retrying" "$LOG" || fail "the failed runs were not logged as retried"
[ "$(calls flaky)" -ge 4 ] || fail "flaky handler ran $(calls flaky) times, expected at least 4"
stop_daemon

# Always failing, --retries 2: exit 75 after two runs.
handler broken "exit 5"
rc=0
timeout 60 "$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -M rsyncshell -S "$WORK/broken" -t 0.2 -r 2 \
    >"$LOG" 2>&1 || rc=$?
[ "$rc" -eq 75 ] || fail "always failing handler with -r 2: exit $rc, expected 75"
[ "$(calls broken)" -eq 2 ] || fail "-r 2: the handler ran $(calls broken) times, expected 2"
grep -q "exit code 5" "$LOG" || fail "the log does not give the handler's exit code"

# --ignore-failures: the batch is dropped and the daemon goes on with new events.
rm -f "$WORK/broken.calls"
"$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -M rsyncshell -S "$WORK/broken" -t 0.2 -r 2 \
    --ignore-failures -d >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "batch dropped" grep -q "dropping" "$LOG"
echo later > "$SRC/later"
wait_for "a run after the dropped batch" calls_at_least broken 3
kill -0 "$DAEMON_PID" 2>/dev/null || fail "--ignore-failures: the daemon exited"
stop_daemon

# -x 5: exit code 5 counts as success.
rm -rf "$DST" && mkdir "$DST"
handler five "\"$HANDLERS/rsyncshell.sh\" \"\$@\" || exit 1
exit 5"
start_daemon -M rsyncshell -S "$WORK/five" -x 5
echo again > "$SRC/a/again"
wait_converged "-x 5"
[ "$(calls five)" -ge 2 ] || fail "-x 5: the handler ran $(calls five) times"
# An accepted exit code is a success like 0, not "the source changed": nothing is
# synced again (the window is 0.2 s: a loop would run several times in 2 s).
runs=$(calls five)
sleep 2
[ "$(calls five)" -eq "$runs" ] || fail "-x 5: the batch ran again ($runs, then $(calls five) runs)"
stop_daemon
grep -qE "failed|retrying" "$LOG" && fail "-x 5: exit code 5 was logged as a failure"

# -k 1: the first run sleeps, with a child in the background; both are killed and the
# run is retried (and works).
nap=3$$   # a unique sleep argument, to find this test's processes
handler slow "if [ \$calls -eq 1 ]; then sleep $nap & sleep $nap; exit 0; fi
exec \"$HANDLERS/rsyncshell.sh\" \"\$@\""
rm -rf "$DST" && mkdir "$DST"
start_daemon -M rsyncshell -S "$WORK/slow" -k 1
grep -q "ran past --timeout-sync" "$LOG" || fail "-k 1: the log does not say the run timed out"
wait_gone "sleep $nap" "-k 1: the handler's process group was not killed"
wait_converged "-k 1: the run after the timeout"
stop_daemon

# TERM while the handler sleeps: a prompt exit 0 and no handler process left.
nap=4$$
handler sleeper "echo \$\$ > \"$WORK/sleeper.pid\"; sleep $nap & sleep $nap"
"$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -M rsyncshell -S "$WORK/sleeper" -t 0.2 -d >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "handler running" test -s "$WORK/sleeper.pid"
wait_for "handler sleeping" pgrep -f "^sleep $nap\$"
started=$(date +%s)
kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" -eq 0 ] || fail "TERM during a handler run: exit $rc"
[ $(( $(date +%s) - started )) -le 15 ] || fail "TERM during a handler run: took $(( $(date +%s) - started )) s"
wait_gone "sleep $nap" "TERM: a handler process survived the daemon"
echo "handler_failures: ok"
