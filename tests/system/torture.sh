#!/bin/sh
# Randomized torture test (see torture.py); TORTURE_SECONDS sets its length.
# Replay a failure with: CLSYNC=... tests/system/torture.sh --seed N
: "${TESTS_DIR:=$(cd "$(dirname "$0")" && pwd)}"
exec python3 "$TESTS_DIR/torture.py" --duration "${TORTURE_SECONDS:-20}" "$@"
