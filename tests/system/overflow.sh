#!/bin/bash
# A forced inotify queue overflow (daemon stopped while more events than the kernel
# queue holds pile up) must still converge, including files in directories created
# while the events were lost.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

max=$(cat /proc/sys/fs/inotify/max_queued_events)
for d in $(seq 0 39); do mkdir -p "$SRC/burst$d/inner"; done   # watched before the stop
start_daemon
kill -STOP "$DAEMON_PID"
python3 - "$SRC" "$max" <<'PY'
import os, sys
src, limit = sys.argv[1], int(sys.argv[2])
count = 0
while count < limit + 2000:
    d = count % 40
    with open(f"{src}/burst{d}/inner/f{count}", "w") as f:
        f.write(str(count))
    count += 1
# A directory created while events are lost: only the rescan can find and watch it.
os.makedirs(f"{src}/during/the/overflow")
for i in range(100):
    with open(f"{src}/during/the/overflow/g{i}", "w") as f:
        f.write(str(i))
PY
kill -CONT "$DAEMON_PID"
DEADLINE=120 wait_converged "after overflow"
grep -q "overflowed" "$LOG" || fail "no overflow was logged (the test did not force one)"

# The new directories are watched after the rescan.
echo after > "$SRC/burst3/inner/after-rescan"
echo after > "$SRC/during/the/overflow/after-rescan"
wait_converged "change after the rescan"
stop_daemon
echo "overflow: ok"
