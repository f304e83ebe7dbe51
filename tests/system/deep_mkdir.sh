#!/bin/bash
# mkdir -p followed at once by files inside: the new-directory race must not lose files.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

start_daemon
for i in $(seq 1 20); do
    mkdir -p "$SRC/d$i/a/b/c/d"
    for f in 1 2 3; do echo "$i $f" > "$SRC/d$i/a/b/c/d/f$f"; echo "$i" > "$SRC/d$i/a/g$f"; done
done
wait_converged "after mkdir -p bursts"

# Changes inside the new directories afterwards arrive too: they are watched.
echo later > "$SRC/d7/a/b/c/d/later"
wait_converged "after a change in a new directory"
grep -q "watch" "$LOG"
stop_daemon
echo "deep_mkdir: ok"
