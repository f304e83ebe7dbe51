#!/bin/sh
# The durable queue: what a destination that is down still needs is kept in the state
# dir. Killed with SIGKILL while one destination cannot be written, clsync restarted
# with --skip-initialsync syncs exactly those paths there (and nothing that did not
# change: no whole-tree walk); without --skip-initialsync it then verifies the whole tree.
. "$(dirname "$0")/lib.sh"
BLOCKER=$WORK/blocker
DEAD=$BLOCKER/dst2
echo "not a directory" >"$BLOCKER"
mkdir -p "$SRC/d"
echo old >"$SRC/untouched"
echo old >"$SRC/d/changed-later"
# Without the initial sync, so that only events make the dead destination's queue (a
# failed initial sync leaves the whole tree pending, recorded as one row).
# shellcheck disable=SC2086
"$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" -D "$DEAD" --monitor="$MONITOR" -t 0.2 -d --skip-initialsync >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "watching" grep -q "watching" "$LOG"
cp -a "$SRC/." "$DST/"
echo new >"$SRC/d/changed-later"
echo new >"$SRC/created"
mkdir "$SRC/newdir" && echo deep >"$SRC/newdir/inner"
mv "$SRC/d" "$SRC/d-renamed"
wait_converged "the working destination"
# Recorded as pending for the dead one (polled: recorded as events arrive).
pending_of_dead() {
    python3 - "$STATE" "$DEAD" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}/state.db?mode=ro", uri=True)
rows = db.execute("SELECT path FROM pending WHERE destination = ?", (sys.argv[2].encode(),)).fetchall()
print("\n".join(sorted(bytes(r[0]).decode() for r in rows)))
PY
}
wait_for "the unwritable destination failing" grep -q "warning: sync to $DEAD failed" "$LOG"
wait_for "'created' and 'd-renamed' pending for the dead destination" sh -c '[ "$(echo "$0" | grep -cx -e created -e d-renamed)" -eq 2 ] || exit 1' "$(pending_of_dead)"
rows=$(pending_of_dead)
echo "$rows" | grep -qx "created" || fail "'created' not pending for the dead destination: $rows"
echo "$rows" | grep -qx "d-renamed" || fail "'d-renamed' not pending: $rows"
echo "$rows" | grep -qx "untouched" && fail "'untouched' pending, but it never changed: $rows"
crash_daemon

# Writable again; restarted without the initial sync: only what was pending goes there.
rm "$BLOCKER"
mkdir "$BLOCKER"
# shellcheck disable=SC2086
"$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" -D "$DEAD" --monitor="$MONITOR" -t 0.2 -d --skip-initialsync >>"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "pending paths synced first" grep -q "paths were still to be synced to $DEAD at the last stop" "$LOG"
wait_for "the pending files at the revived destination" cmp -s "$SRC/d-renamed/changed-later" "$DEAD/d-renamed/changed-later"
wait_for "the new directory at the revived destination" cmp -s "$SRC/newdir/inner" "$DEAD/newdir/inner"
cmp -s "$SRC/created" "$DEAD/created" || fail "'created' missing at the revived destination"
[ -e "$DEAD/untouched" ] && fail "--skip-initialsync: a file that never changed was synced (a whole-tree run, not the pending paths)"
[ -e "$DEAD/d" ] && fail "the old name of the renamed directory exists at the revived destination"
wait_for "nothing pending any more" sh -c '[ -z "$(python3 -c "import sqlite3; db=sqlite3.connect(\"file:$0/state.db?mode=ro\", uri=True); print(db.execute(\"SELECT count(*) FROM pending\").fetchone()[0] or \"\")")" ]' "$STATE"
stop_daemon

# Without --skip-initialsync the whole tree is verified: the untouched file arrives.
start_daemon -D "$DEAD"
dead_equal() { python3 "$TESTS_DIR/treecmp.py" "$SRC" "$DEAD" --quiet; }
wait_for "the revived destination verified whole" dead_equal
wait_converged "the first destination"
stop_daemon
echo "PASS"
