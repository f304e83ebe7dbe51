#!/bin/bash
# The original's start scripts, one per mode (examples/clsync-start-MODE.sh), in a copy
# of examples/: each mirrors testdir/from to testdir/to (one pass with
# --exit-on-no-events), leaving out the DontSync directories of rules/dontsync, and
# keeps mirroring live changes.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

cp -r "$TESTS_DIR/../../examples" "$WORK/examples"
EX=$WORK/examples
rm -rf "$EX/testdir/to" "$EX/testdir/listdir"
mkdir -p "$EX/testdir/from/sub/DontSync" "$EX/testdir/from/dontSync"
echo secret > "$EX/testdir/from/sub/DontSync/secret"
echo secret > "$EX/testdir/from/dontSync/secret"
echo kept > "$EX/testdir/from/sub/kept"

# Every file outside the DontSync directories is at the destination, equal; none inside.
mirrored() {
    local from=$EX/testdir/from to=$EX/testdir/to f
    while IFS= read -r -d '' f; do
        cmp -s "$from/$f" "$to/$f" || return 1
    done < <(cd "$from" && find . -type f -not -path '*/[Dd]ont[Ss]ync/*' -print0)
    [ -z "$(find "$to" -ipath '*dontsync*' -print -quit)" ]
}

for mode in rsyncdirect rsyncshell shell direct simple; do
    rm -rf "$EX/testdir/to" && mkdir -p -m 700 "$EX/testdir/to"
    code=0
    CLSYNC=$CLSYNC timeout 120 sh "$EX/clsync-start-$mode.sh" --exit-on-no-events >"$LOG" 2>&1 || code=$?
    [ "$code" -eq 0 ] || fail "clsync-start-$mode.sh --exit-on-no-events exited $code"
    mirrored || { find "$EX/testdir/to" >&2; fail "clsync-start-$mode.sh: testdir/to is not testdir/from without DontSync"; }

    # Live: a change made while the script runs arrives.
    CLSYNC=$CLSYNC sh "$EX/clsync-start-$mode.sh" -d >"$LOG" 2>&1 &
    DAEMON_PID=$!
    wait_for "$mode: initial sync" grep -q "synced the whole tree" "$LOG"
    echo "live $mode" > "$EX/testdir/from/sub/live-$mode"
    wait_for "$mode: live change mirrored" cmp -s "$EX/testdir/from/sub/live-$mode" "$EX/testdir/to/sub/live-$mode"
    stop_daemon
    echo "start_scripts: $mode ok"
done
echo "start_scripts: ok"
