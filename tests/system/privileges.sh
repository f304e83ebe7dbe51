#!/bin/bash
# --chroot with -u/-g: the daemon runs inside the chroot as the unprivileged user with
# no capability left in any thread, creates its state dir (reachable by that user,
# private to it) and its status file with safe modes, and syncs live. A chroot without
# /proc or /dev/null, or one that does not exist, is refused at start with the status
# the man page gives.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "privileges: needs root, skipped"; exit 77; }
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null 2>&1 ||
    { echo "privileges: no user nobody or group nogroup, skipped"; exit 77; }
RSYNC=$(command -v rsync) || { echo "privileges: no rsync, skipped"; exit 77; }

ROOT=$WORK/root
trap 'if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=; fi
      umount -l "$ROOT/proc" 2>/dev/null; cleanup' EXIT

# Paths as the daemon sees them inside the chroot: not paths of this machine, so that a
# daemon that did not enter the chroot could not find them.
TREE=/clsync-privileges-tree
COPY=/clsync-privileges-copy
[ ! -e "$TREE" ] && [ ! -e "$COPY" ] || { echo "privileges: $TREE or $COPY exists here, skipped"; exit 77; }

# The chroot: rsync with its libraries, the tree, the copy.
mkdir -p "$ROOT$(dirname "$RSYNC")" "$ROOT$TREE/a/b" "$ROOT$COPY" "$ROOT/dev" "$ROOT/proc" "$ROOT/run"
cp "$RSYNC" "$ROOT$RSYNC"
for lib in $(ldd "$RSYNC" | grep -o '/[^ ]*'); do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp "$lib" "$ROOT$lib"
done
echo one > "$ROOT$TREE/a/b/one"
echo gone > "$ROOT$TREE/a/gone"
chmod 755 "$WORK"  # mktemp made it 0700: nobody must get through it
chown nobody:nogroup "$ROOT$COPY"
chown -R nobody:nogroup "$ROOT$TREE"

# A sanitizer build cannot reach its report dir from inside the chroot: its reports go
# to the log, where they fail the test.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=stderr"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=stderr"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=stderr"
no_sanitizer_reports() { ! grep -Eq 'Sanitizer|runtime error' "$LOG" || fail "a sanitizer report: $(grep -E 'Sanitizer|runtime error' "$LOG" | head -n 1)"; }

run_in_chroot() {
    exec "$CLSYNC" --chroot "$ROOT" -u nobody -g nogroup -W "$TREE" -D "$COPY" -l privileges -t 0.2 -d "$@"
}

# expect_refused STATUS TEXT: the daemon exits at once with STATUS, logging TEXT.
expect_refused() {
    local rc=0
    # LeakSanitizer cannot look for leaks without /proc.
    (ASAN_OPTIONS="${ASAN_OPTIONS}:detect_leaks=0" run_in_chroot) >"$LOG" 2>&1 || rc=$?
    [ "$rc" -eq "$1" ] || fail "expected exit status $1 ($2), got $rc"
    grep -qF "$2" "$LOG" || fail "the error does not say '$2'"
}
expect_refused 69 "$ROOT/dev/null is missing or not a device"
mknod -m 666 "$ROOT/dev/null" c 1 3
expect_refused 69 "$ROOT/proc is not a mounted proc file system"
mount -t proc proc "$ROOT/proc"
rc=0
"$CLSYNC" --chroot "$WORK/no-such-dir" -W "$TREE" -D "$COPY" -d >"$LOG" 2>&1 || rc=$?
[ "$rc" -eq 71 ] || fail "a --chroot that does not exist: exit status $rc, not 71"
grep -qF -- "--chroot $WORK/no-such-dir: No such file or directory" "$LOG" || fail "the missing chroot is not named"

run_in_chroot --status-file /run/clsync.status >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "initial sync in the chroot" grep -q "synced the whole tree" "$LOG"
[ "$(readlink "/proc/$DAEMON_PID/root")" = "$ROOT" ] || fail "the daemon's root is $(readlink "/proc/$DAEMON_PID/root")"
for task in /proc/"$DAEMON_PID"/task/*; do
    grep -Eq '^Uid:\s+65534\s+65534\s+65534\s+65534$' "$task/status" || fail "thread ${task##*/}: $(grep Uid "$task/status")"
    grep -Eq '^Gid:\s+65534\s+65534\s+65534\s+65534$' "$task/status" || fail "thread ${task##*/}: $(grep Gid "$task/status")"
    grep -Eq '^Groups:\s+65534\s*$' "$task/status" || fail "thread ${task##*/} has other groups: $(grep Groups "$task/status")"
    for cap in CapPrm CapEff CapAmb; do
        grep -Eq "^$cap:\s+0+$" "$task/status" || fail "thread ${task##*/} kept capabilities: $(grep "$cap" "$task/status")"
    done
done
cmp -s "$ROOT$TREE/a/b/one" "$ROOT$COPY/a/b/one" || fail "the initial sync did not copy a/b/one"

# Live changes, synced by rsync as nobody inside the chroot.
echo two > "$ROOT$TREE/a/b/two"
chown nobody:nogroup "$ROOT$TREE/a/b/two"
rm "$ROOT$TREE/a/gone"
wait_for "a new file synced" cmp -s "$ROOT$TREE/a/b/two" "$ROOT$COPY/a/b/two"
wait_for "a deletion synced" test ! -e "$ROOT$COPY/a/gone"
[ "$(stat -c %U "$ROOT$COPY/a/b/two")" = nobody ] || fail "rsync did not write as nobody"

# The status file: created by root, given to nobody, readable by all, writable by it only.
STATUS=$ROOT/run/clsync.status
[ "$(stat -c '%U:%G %a' "$STATUS")" = "nobody:nogroup 644" ] || fail "status file: $(stat -c '%U:%G %a' "$STATUS")"
# The state dir: private to nobody, behind parents nobody can pass through.
STATE_DIR=$ROOT/var/lib/clsync/privileges
[ "$(stat -c '%U:%G %a' "$STATE_DIR")" = "nobody:nogroup 700" ] || fail "state dir: $(stat -c '%U:%G %a' "$STATE_DIR")"
for parent in "$ROOT/var" "$ROOT/var/lib" "$ROOT/var/lib/clsync"; do
    [ "$(stat -c %a "$parent")" = 755 ] || fail "$parent was created with mode $(stat -c %a "$parent")"
done
grep -q "kept in memory only" "$LOG" && fail "the state dir could not be used by nobody"
ls "$STATE_DIR" | grep -q . || fail "nothing was written to the state dir"

kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" -eq 0 ] || fail "the daemon exited with $rc on TERM"
no_sanitizer_reports
echo "privileges: ok"
