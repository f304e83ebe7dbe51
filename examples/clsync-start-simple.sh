#!/bin/sh
# Mirrors testdir/from to testdir/to live in mode simple: handlers/simple.sh runs once per changed path.
# As the original clsync's start scripts did, directories named DontSync are left
# out (rules/dontsync). Ctrl-C stops. Arguments go to clsync (for instance -d, or
# --exit-on-no-events for one pass). CLSYNC names the binary (default: clsync).
# Copy this directory somewhere writable first (the scripts work in their own
# directory, as the original's did).
set -eu
CLSYNC=${CLSYNC:-clsync}
case "$CLSYNC" in */*) CLSYNC=$(cd "$(dirname "$CLSYNC")" && pwd)/$(basename "$CLSYNC") ;; esac
cd "$(dirname "$0")"
mkdir -p -m 700 testdir/from testdir/to testdir/listdir
export CLSYNC_DEST="$PWD/testdir/to"  # where the example handlers copy to
exec "$CLSYNC" -M simple -S handlers/simple.sh -W testdir/from -R rules/dontsync -t 1 -w 1 "$@"
