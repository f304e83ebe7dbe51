#!/bin/sh
# Running out of inotify watches is not fatal: with fs.inotify.max_user_watches lowered
# so that the tree cannot be fully watched, the daemon (as user nobody, whose watches
# the limit counts) still starts and syncs the whole tree, says which sysctl to raise
# (or to use --monitor=fanotify), reports PARTIALLY WATCHED on SIGUSR1, and keeps
# syncing changes in the directories it does watch.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: watch_limit needs root (sysctl, setpriv)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: watch_limit: setpriv missing"; exit 77; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
LIMIT_FILE=/proc/sys/fs/inotify/max_user_watches

# Where the limit is lowered. fs.inotify.max_user_watches is global: while it is low,
# every user's new watches fail, root's too, and so would other tests running now.
# So by default the daemon runs in a user namespace of its own (all ids mapped to
# themselves) whose own limit, /proc/sys/user/max_inotify_watches, is lowered: the
# kernel checks a watch against the limit of each namespace up to the initial one,
# so it hits the same ENOSPC without touching anyone else. Without user namespaces
# (or with WATCH_LIMIT_GLOBAL=1) the global sysctl is lowered for as short as can be.
if [ "${WATCH_LIMIT_GLOBAL:-0}" != 1 ] && [ -e /proc/sys/user/max_inotify_watches ] && unshare --user true 2>/dev/null; then
    MODE=userns
elif [ -w "$LIMIT_FILE" ]; then
    MODE=global
else
    echo "SKIP: watch_limit: neither user namespaces nor a writable $LIMIT_FILE"; exit 77
fi
OLD_LIMIT=$(cat "$LIMIT_FILE")
restore_limit() { [ "$MODE" != global ] || echo "$OLD_LIMIT" > "$LIMIT_FILE" 2>/dev/null || true; }
trap 'restore_limit; cleanup' EXIT
trap 'exit 1' HUP INT TERM

# Watches user nobody already holds (another test's daemon, say) count against a
# global limit: allow 20 on top of them. In a namespace of its own the daemon has none.
nobody_watches() {
    local total=0 pid f n
    for pid in /proc/[0-9]*; do
        [ "$(stat -c %u "$pid" 2>/dev/null)" = 65534 ] || continue
        for f in "$pid"/fdinfo/*; do
            n=$(grep -c '^inotify wd:' "$f" 2>/dev/null) || n=0
            total=$((total + n))
        done
    done
    echo "$total"
}

chmod 755 "$WORK"
echo top > "$SRC/top"
i=1
while [ "$i" -le 40 ]; do
    d=$(printf 'd%02d' "$i")
    mkdir "$SRC/$d"
    echo "$d" > "$SRC/$d/file"
    i=$((i + 1))
done
mkdir -p "$WORK/staging/moved"
echo moved > "$WORK/staging/moved/file"
chown -R 65534:65534 "$SRC" "$DST" "$WORK/staging"

# 41 directories, 20 watches: the root and 19 subdirectories.
set -- "$CLSYNC" -W "$SRC" -D "$DST" --monitor=inotify -t 0.2 -d -v
if [ "$MODE" = userns ]; then
    # unshare execs the shell before its id maps exist, which drops its capabilities:
    # it waits for the maps, then execs again to be root of the namespace.
    mkfifo "$WORK/maps-written"
    # shellcheck disable=SC2016
    as_root_of_namespace='echo 20 > /proc/sys/user/max_inotify_watches &&
        exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"'
    # shellcheck disable=SC2016
    unshare --user sh -c 'read _ < "$1"; shift; exec sh -c "$0" sh "$@"' \
        "$as_root_of_namespace" "$WORK/maps-written" "$@" >"$LOG" 2>&1 &
    DAEMON_PID=$!
    own_namespace=$(readlink /proc/self/ns/user)
    unshared() { [ "$(readlink "/proc/$DAEMON_PID/ns/user")" != "$own_namespace" ]; }
    wait_for "the daemon's user namespace" unshared
    echo "0 0 4294967295" > "/proc/$DAEMON_PID/uid_map"
    echo "0 0 4294967295" > "/proc/$DAEMON_PID/gid_map"
    timeout 10 sh -c 'echo go > "$1"' sh "$WORK/maps-written" || fail "the daemon's shell did not wait for its id maps"
else
    echo "$(( $(nobody_watches) + 20 ))" > "$LIMIT_FILE"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$@" >"$LOG" 2>&1 &
    DAEMON_PID=$!
fi
wait_for "initial sync" grep -q "synced the whole tree" "$LOG"

# Still at the limit: a directory moved in cannot be watched, but is synced with its content.
as_nobody mv "$WORK/staging/moved" "$SRC/moved"
wait_for "moved-in directory synced at the watch limit" cmp -s "$SRC/moved/file" "$DST/moved/file"
restore_limit
wait_converged "initial sync of a partially watched tree"
grep -q "inotify watch limit reached at '.*'.*fs.inotify.max_user_watches.*--monitor=fanotify" "$LOG" ||
    fail "no error naming fs.inotify.max_user_watches and suggesting --monitor=fanotify"
watched=$(sed -n 's/.*inotify: watching \([0-9]*\) directories.*/\1/p' "$LOG" | head -n 1)
[ -n "$watched" ] && [ "$watched" -lt 41 ] || fail "expected a partial watch, log says '${watched:-nothing}'"
[ "$MODE" = global ] || [ "$watched" -eq 20 ] || fail "a limit of 20 watches, but $watched directories watched"

kill -USR1 "$DAEMON_PID"
wait_for "status line" grep -q "status: .*PARTIALLY WATCHED" "$LOG"

# A directory the daemon watches: the root, and a subdirectory the limit did not hit
# (each unwatched one is named in the log).
sub=
i=1
while [ "$i" -le 40 ]; do
    d=$(printf 'd%02d' "$i")
    if ! grep -q -e "watch limit reached at '$d'" -e "'$d' not watched" "$LOG"; then sub=$d; break; fi
    i=$((i + 1))
done
[ -n "$sub" ] || fail "no subdirectory was watched"
as_nobody sh -c "echo later > '$SRC/later'; echo later > '$SRC/$sub/later'"
wait_for "file in the watched root synced" cmp -s "$SRC/later" "$DST/later"
wait_for "file in watched '$sub' synced" cmp -s "$SRC/$sub/later" "$DST/$sub/later"
stop_daemon
echo "watch_limit: ok"
