#!/bin/sh
# --monitor picks the kernel interface: fanotify without CAP_SYS_ADMIN is refused (69),
# auto falls back to inotify without it and uses fanotify with it, fanotify ignores
# writes elsewhere on the same file system, and an unknown backend is a usage error (64).
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: monitor_choice needs root (fanotify, setpriv)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: monitor_choice: setpriv missing"; exit 77; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 755 "$WORK"
echo one > "$SRC/file"
chown -R 65534:65534 "$SRC" "$DST"

# expect CODE PATTERN ARGS...: clsync ARGS (the watch and destination dirs given) exits
# with CODE and says PATTERN.
expect() {
    local code=$1 pattern=$2 rc=0; shift 2
    "$@" >"$WORK/out" 2>&1 || rc=$?
    [ "$rc" -eq "$code" ] || fail "$* exited $rc, expected $code: $(cat "$WORK/out")"
    grep -q -- "$pattern" "$WORK/out" || fail "$* did not say '$pattern': $(cat "$WORK/out")"
}

# (e) An unknown backend.
expect 64 "option --monitor: invalid value 'bogus'" "$CLSYNC" -W "$SRC" -D "$DST" --monitor=bogus
# (a) fanotify without CAP_SYS_ADMIN: refused before anything is synced. Whether the
# message names the capability is checked last, so that one wrong message hides no
# other failure.
expect 69 "fanotify" as_nobody "$CLSYNC" -W "$SRC" -D "$DST" --monitor=fanotify
cp "$WORK/out" "$WORK/out-fanotify-nobody"
[ -z "$(ls -A "$DST")" ] || fail "a refused start wrote to the destination"

# (b) auto without CAP_SYS_ADMIN: inotify. (Started directly, not through as_nobody, so
# that $! is the daemon: setpriv execs it.)
setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$CLSYNC" -W "$SRC" -D "$DST" --monitor=auto -t 0.2 -d >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "initial sync (auto, as nobody)" grep -q "synced the whole tree" "$LOG"
grep -q "using inotify" "$LOG" || fail "--monitor=auto as nobody did not say it uses inotify"
grep -q "inotify: watching" "$LOG" || fail "--monitor=auto as nobody did not start inotify"
grep -q "fanotify: watching" "$LOG" && fail "--monitor=auto as nobody claims fanotify"
as_nobody sh -c "echo two > '$SRC/auto-nobody'"
wait_for "change synced (auto, as nobody)" cmp -s "$SRC/auto-nobody" "$DST/auto-nobody"
stop_daemon

# (c) auto as root: fanotify.
MONITOR=auto start_daemon
grep -q "fanotify: watching $SRC " "$LOG" || fail "--monitor=auto as root did not use fanotify"
grep -q "using inotify" "$LOG" && fail "--monitor=auto as root fell back to inotify"
echo three > "$SRC/auto-root"
wait_for "change synced (auto, as root)" cmp -s "$SRC/auto-root" "$DST/auto-root"
stop_daemon

# (d) fanotify marks the whole file system, but writes outside the watch dir start no
# sync: of the batches after the initial sync, only the inside change makes one.
MONITOR=fanotify start_daemon -v
before=$(grep -c "syncing " "$LOG")
mkdir "$WORK/elsewhere"
(
    cd "$WORK/elsewhere" || exit 1
    i=0
    while [ "$i" -lt 2000 ]; do
        : > "f$i"
        i=$((i + 1))
    done
)
echo inside > "$SRC/inside"
wait_for "inside change synced" cmp -s "$SRC/inside" "$DST/inside"
# Every batch started has finished (a "synced" line for each "syncing" line).
all_batches_done() { [ "$(grep -c "syncing " "$LOG")" -eq "$(grep -c "synced " "$LOG")" ]; }
wait_for "batches finished" all_batches_done
after=$(grep -c "syncing " "$LOG")
[ "$after" -eq $((before + 1)) ] ||
    fail "expected one more sync batch after the outside writes, got $((after - before)):
$(grep "syncing " "$LOG" | tail -n 5)"
# -v lists a batch's paths, indented, below its "syncing" line: the last batch is 'inside' alone.
batch=$(awk '/ clsync info: syncing / { paths = ""; listing = 1; next }
             listing && / clsync info:   / { sub(/.* clsync info:   /, ""); paths = paths $0 "|"; next }
             { listing = 0 }
             END { print paths }' "$LOG")
[ "$batch" = "inside|" ] || fail "the last batch was not just 'inside': '$batch'"
stop_daemon

grep -q "CAP_SYS_ADMIN" "$WORK/out-fanotify-nobody" ||
    fail "--monitor=fanotify as nobody did not mention CAP_SYS_ADMIN: $(cat "$WORK/out-fanotify-nobody")"
echo "monitor_choice: ok"
