#!/bin/bash
# Directories that vanish (removed, renamed away, replaced by files) while the daemon
# scans and watches them, and files rewritten in place while rsync copies them: the
# daemon keeps running, no run fails for good, and the destination ends equal to the
# source once the churn stops.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

# A wide tree, so that the start-up scan and the first sync take a while.
python3 - "$SRC" <<'EOF'
import os, sys
src = sys.argv[1]
for d in range(150):
    for s in range(4):
        path = os.path.join(src, 'd%03d' % d, 's%d' % s)
        os.makedirs(path)
        for f in range(5):
            with open(os.path.join(path, 'f%d' % f), 'w') as out:
                out.write('%d %d %d\n' % (d, s, f))
with open(os.path.join(src, 'big'), 'wb') as out:
    out.write(b'\0' * (8 << 20))
EOF

# churn ROUNDS [UNTIL]: removes, renames away and recreates the directories, replaces some
# with files, and rewrites the big file in place a chunk at a time (so that rsync reads
# it half old, half new), in a fixed pseudo-random order; with UNTIL, goes on after
# ROUNDS until the file UNTIL exists.
churn() {
    python3 - "$SRC" "$1" "${2:-}" <<'EOF'
import itertools, os, random, shutil, sys
src, rounds, until = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
big = os.open(os.path.join(src, 'big'), os.O_WRONLY)
for r in itertools.count():
    if r >= rounds and not (until and not os.path.exists(until)):
        break
    d = os.path.join(src, 'd%03d' % rng.randrange(150))
    what = rng.randrange(4)
    if os.path.isdir(d) and not os.path.islink(d):
        if what == 0:
            shutil.rmtree(d, ignore_errors=True)
        elif what == 1:
            os.rename(d, d + '.gone')
            shutil.rmtree(d + '.gone', ignore_errors=True)
        elif what == 2:
            shutil.rmtree(d, ignore_errors=True)
            with open(d, 'w') as out:
                out.write('a file where a directory was\n')
        else:
            shutil.rmtree(os.path.join(d, 's%d' % rng.randrange(4)), ignore_errors=True)
    else:
        if os.path.exists(d):
            os.unlink(d)
        for s in range(4):
            os.makedirs(os.path.join(d, 's%d' % s), exist_ok=True)
            with open(os.path.join(d, 's%d' % s, 'f'), 'w') as out:
                out.write('round %d\n' % r)
    os.pwrite(big, bytes([r % 251]) * (64 << 10), (r * (64 << 10)) % (8 << 20))
os.close(big)
EOF
}

churn 100 "$WORK/scanned" &
churner=$!
# Started while the churn runs: its scan meets directories that go away under it.
start_daemon
touch "$WORK/scanned"
wait "$churner" || fail "the churn workload failed"
churn 400
kill -0 "$DAEMON_PID" || fail "the daemon exited during the churn"
settled "after the churn"
grep -q "failed for good\|giving up" "$LOG" && fail "a run failed for good"
stop_daemon
echo "vanishing: ok"
