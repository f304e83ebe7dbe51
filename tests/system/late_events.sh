#!/bin/bash
# Events read late (the watcher stopped while the tree moved on) name paths that no
# longer exist or belong to another directory by then. Every directory must still end
# up watched under its current name. Found by the torture test.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mkdir -p "$SRC/a/b" "$SRC/B"
start_daemon
wait_converged "initial"

kill -STOP "$DAEMON_PID"
mkdir "$SRC/d"; mv "$SRC/d" "$SRC/e"                        # created, then renamed
mkdir "$SRC/a/b/new"; mv "$SRC/a" "$SRC/c"                  # created below a renamed parent
mkdir "$SRC/P" "$SRC/P/A"; rmdir "$SRC/P/A"; mv "$SRC/B" "$SRC/P/A"   # name reused by another directory
kill -CONT "$DAEMON_PID"
wait_converged "after the late events"

echo 1 > "$SRC/e/file"
echo 2 > "$SRC/c/b/new/file"
echo 3 > "$SRC/P/A/file"
wait_converged "changes inside directories whose events came late"
stop_daemon
echo "late_events: ok"
