#!/bin/sh
# Several destinations: each has its own queue and back-off. One that cannot be
# written (its path runs through a file) holds up nothing: the others stay in sync,
# the status file says which is down, and once it can be written it catches up.
# Destinations that are the same directory, nested, or inside the tree are refused.
. "$(dirname "$0")/lib.sh"
DST2=$WORK/dst2
BLOCKER=$WORK/blocker
DEAD=$BLOCKER/dst3
STATUS=$WORK/status
echo "not a directory" >"$BLOCKER"
mkdir -p "$SRC/d"
echo one >"$SRC/d/f"

# shellcheck disable=SC2086
expect_refused() {
    local what=$1 rc=0; shift
    "$CLSYNC" $MODE_OPTIONS -W "$SRC" "$@" >"$WORK/refused.log" 2>&1 || rc=$?
    [ "$rc" -eq 64 ] || fail "$what: exit $rc, expected 64: $(cat "$WORK/refused.log")"
}
expect_refused "the same destination twice" -D "$DST" -D "$DST/"
grep -q "are the same directory" "$WORK/refused.log" || fail "no reason given: $(cat "$WORK/refused.log")"
ln -s "$DST" "$WORK/link-to-dst"
expect_refused "a destination and a symlink to it" -D "$DST" -D "$WORK/link-to-dst"
expect_refused "nested destinations" -D "$DST" -D "$DST/inner"
grep -q "one inside the other" "$WORK/refused.log" || fail "no reason given: $(cat "$WORK/refused.log")"
expect_refused "a destination inside the tree" -D "$DST" -D "$SRC/d"
if [ "$MODE" = rsyncdirect ]; then
    rc=0
    "$CLSYNC" -W "$SRC" -M shell -S /bin/true -D "$DST" -D "$DST2" >"$WORK/refused.log" 2>&1 || rc=$?
    [ "$rc" -eq 64 ] || fail "two destinations for a handler: exit $rc, expected 64"
fi

start_daemon -D "$DST2" -D "$DEAD" --status-file "$STATUS"
dst2_equal() { python3 "$TESTS_DIR/treecmp.py" "$SRC" "$DST2" --quiet; }
wait_converged "first destination"
wait_for "second destination" dst2_equal
wait_for "the unwritable destination reported down" grep -q "^destination $DEAD: down since" "$STATUS"
grep -q "^destination $DST: in sync" "$STATUS" || fail "status of the first destination: $(cat "$STATUS")"

# Changes keep flowing to the two that work, while the third keeps failing.
for i in 1 2 3 4 5; do
    echo "change $i" >"$SRC/d/change-$i"
    mv "$SRC/d/change-$i" "$SRC/d/renamed-$i"
    wait_converged "first destination, change $i"
    wait_for "second destination, change $i" dst2_equal
done
grep -q "^destination $DEAD: down since .*, last error: " "$STATUS" || fail "no error in the status: $(cat "$STATUS")"
grep -q "^failures [1-9]" "$STATUS" || fail "the original's failures line: $(cat "$STATUS")"
warnings=$(grep -c "warning: sync to $DEAD failed" "$LOG" || true)
[ "$warnings" -eq 1 ] || fail "$warnings warnings for one unwritable destination (expected one)"

# It can be written again: caught up, in sync.
rm "$BLOCKER"
mkdir "$BLOCKER"
dead_equal() { python3 "$TESTS_DIR/treecmp.py" "$SRC" "$DEAD" --quiet; }
DEADLINE=120 wait_for "the third destination caught up" dead_equal
wait_for "status back to in sync" grep -q "^destination $DEAD: in sync" "$STATUS"
grep -q "sync to $DEAD works again" "$LOG" || fail "recovery not logged"
stop_daemon
echo "PASS"
