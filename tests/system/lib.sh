# Shared helpers for the system tests: a scratch dir, the daemon, polling with deadlines.
# Each test sources this file; $CLSYNC is the binary under test, $TESTS_DIR this folder.
set -eu

: "${CLSYNC:?CLSYNC must name the clsync binary}"
TESTS_DIR=${TESTS_DIR:-$(cd "$(dirname "$0")" && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/clsync-test.XXXXXX")
SRC=$WORK/src
DST=$WORK/dst
LOG=$WORK/clsync.log
mkdir -p "$SRC" "$DST"
DAEMON_PID=
# The watcher backend under test: the suite runs once per backend (Makefile.am).
MONITOR=${CLSYNC_MONITOR:-inotify}
# The sync mode under test: rsyncdirect (rsync run by clsync), or librsync, in which
# clsync writes the destination itself (Makefile.am's LIBRSYNC_TESTS). Either way the
# state dir is $STATE. MODE_OPTIONS are the options that select them: every command line
# that starts the daemon takes them, unquoted ("$CLSYNC" $MODE_OPTIONS -W ...); they
# are split at blanks, so $WORK must have none (checked below).
MODE=${CLSYNC_MODE:-rsyncdirect}
STATE=$WORK/state
case $MODE in
    rsyncdirect) MODE_OPTIONS="--state-dir=$STATE" ;;
    librsync) MODE_OPTIONS="-M librsync --state-dir=$STATE" ;;
    *) echo "lib.sh: unknown CLSYNC_MODE '$MODE' (rsyncdirect or librsync)" >&2; rm -rf "$WORK"; exit 99 ;;
esac
case $WORK in
    *[[:space:]]* | *[*?[]*) echo "lib.sh: the work dir '$WORK' has blanks or wildcards (TMPDIR)" >&2; rm -rf "$WORK"; exit 99 ;;
esac

cleanup() {
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$LOG" ]; then echo "--- daemon log (last 40 lines):" >&2; tail -n 40 "$LOG" >&2; fi
    exit 1
}

# start_daemon [extra options...]: starts clsync on $SRC -> $DST (in $MODE), logging to $LOG.
start_daemon() {
    # shellcheck disable=SC2086
    "$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" --monitor="$MONITOR" -t 0.2 -d "$@" >"$LOG" 2>&1 &
    DAEMON_PID=$!
    wait_for "initial sync" grep -q "synced the whole tree" "$LOG"
}

# exchange A B [MODE]: renameat2(A, B, RENAME_EXCHANGE), after chmod MODE A if given
# (in the same process: both within one batching window).
exchange() {
    python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if len(sys.argv) > 3:
    os.chmod(sys.argv[1], int(sys.argv[3], 8))
if libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))' "$@"
}

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds; fails after $DEADLINE s.
wait_for() {
    local what=$1; shift
    local deadline=$(( $(date +%s) + ${DEADLINE:-60} ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then fail "timed out waiting for: $what"; fi
        if [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; then fail "daemon died while waiting for: $what"; fi
        sleep 0.1
    done
}

trees_equal() { python3 "$TESTS_DIR/treecmp.py" "$SRC" "$DST" --quiet; }

# wait_converged: the destination equals the source (polled, with a deadline).
wait_converged() {
    local deadline=$(( $(date +%s) + ${DEADLINE:-60} ))
    until trees_equal; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            python3 "$TESTS_DIR/treecmp.py" "$SRC" "$DST" >&2 || true
            fail "destination did not converge: ${1:-}"
        fi
        if [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; then fail "daemon died"; fi
        sleep 0.2
    done
}

# batches_idle: no batch in flight: every "syncing" line has its end (synced; failed,
# at the first failure, again, or for good; retried after skipped deletions). Not
# "works again after N s and M failed runs", which ends nothing.
batches_idle() {
    [ "$(grep -c ' info: syncing ' "$LOG" || true)" -eq \
      "$(grep -cE ' info: synced | sync to .* failed (\(|again \(|[0-9]+ times in a row)|deletions were skipped' "$LOG" || true)" ]
}

# settled DESCRIPTION: the trees are equal and no batch is running (checked again after).
settled() { wait_converged "$1"; wait_for "no batch in flight ($1)" batches_idle; wait_converged "$1"; }

# stop_daemon [SIGNAL]: signals the daemon (TERM by default) and expects exit 0.
stop_daemon() {
    local signal=${1:-TERM} rc=0
    kill -"$signal" "$DAEMON_PID"
    wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=
    [ "$rc" -eq 0 ] || fail "daemon exited with $rc on $signal"
}

# crash_daemon: SIGKILLs the daemon, as a crash would, and waits until the children it
# left (an rsync run, its ssh) have ended: one still running could write the
# destination after the test has changed it.
crash_daemon() {
    local pids
    pids=$(descendants_of "$DAEMON_PID")
    kill -KILL "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
    # shellcheck disable=SC2086
    wait_for "the killed daemon's children to end" sh -c 'for p; do kill -0 "$p" 2>/dev/null && exit 1; done; exit 0' sh $pids
}

descendants_of() {
    local child
    for child in $(pgrep -P "$1"); do
        echo "$child"
        descendants_of "$child"
    done
}

# skip_in_librsync REASON: a test of something only rsync does is skipped (77) in
# the librsync variant.
skip_in_librsync() {
    if [ "$MODE" = librsync ]; then
        echo "SKIP: $*"
        exit 77
    fi
}

# fanotify needs root: without it the fanotify variant of a test is skipped (77).
if [ "$MONITOR" = fanotify ] && [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: --monitor=fanotify needs root"
    exit 77
fi
