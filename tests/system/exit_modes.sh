#!/bin/bash
# --only-initialsync, --exit-on-no-events (also with --skip-initialsync) and
# --max-iterations end the daemon by themselves with exit 0.
# shellcheck disable=SC2086 # $MODE_OPTIONS (lib.sh) is split on purpose
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mkdir -p "$SRC/a/b"; echo x > "$SRC/a/b/f"
timeout 60 "$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" --only-initialsync >"$LOG" 2>&1 || fail "--only-initialsync failed"
trees_equal || fail "--only-initialsync did not sync the tree"

echo y > "$SRC/a/g"
timeout 60 "$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" --exit-on-no-events >"$LOG" 2>&1 || fail "--exit-on-no-events failed"
trees_equal || fail "--exit-on-no-events did not sync the tree"

echo z > "$SRC/a/h"
timeout 60 "$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" --skip-initialsync --exit-on-no-events >"$LOG" 2>&1 ||
    fail "--skip-initialsync --exit-on-no-events did not exit by itself"
[ ! -e "$DST/a/h" ] || fail "--skip-initialsync synced the tree"

timeout 60 "$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" --max-iterations 1 >"$LOG" 2>&1 || fail "--max-iterations 1 failed"
trees_equal || fail "--max-iterations 1 did not run the initial sync"
echo "exit_modes: ok"
