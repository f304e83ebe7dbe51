#!/bin/bash
# Running as a daemon: -b returns once the daemon has started (or with its start-up
# error), -z writes and locks a pid file (a second instance gets 73, a stale one is
# taken over, TERM removes it), --status-file, --standby-file, the pre-exit and exit
# hooks, SIGQUIT with and without --sync-on-quit, and -u/-g.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

PIDFILE=$WORK/clsync.pid
STATUS=$WORK/status
BACKGROUND=   # pids of daemons started with -b: not our children, stopped at exit
# alive PID: the process exists and is not a zombie. A daemon started with -b is
# reparented to init, so once it has exited it may stay a zombie for a while.
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case $st in Z*) return 1 ;; esac
}
# gone PID: waits (with a deadline) until PID has exited.
gone() {
    local deadline=$(( $(date +%s) + ${DEADLINE:-60} ))
    while alive "$1"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "process $1 did not exit"
        sleep 0.1
    done
}
stop_background() {
    local pid
    for pid in $BACKGROUND; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; gone "$pid" || true; fi
    done
}
trap 'stop_background; cleanup' EXIT
# is_clsync PID: PID runs the binary under test.
is_clsync() {
    local exe
    exe=$(readlink "/proc/$1/exe") || return 1
    [ "${exe% (deleted)}" = "$(readlink -f "$CLSYNC")" ]
}
# daemonize LOGFILE ARGS...: clsync -b on $SRC -> $DST; sets RC to the parent's status.
# The parent must return by itself, so a hang is caught by timeout (status 124).
daemonize() {
    LOG=$1; shift
    RC=0
    timeout 30 "$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -t 0.2 -b "$@" >"$LOG" 2>&1 || RC=$?
}
status_line() { head -n 1 "$STATUS" 2>/dev/null; }
status_is() { [ "$(status_line)" = "$1" ]; }

# --- -b, -z, --status-file, -l --------------------------------------------------
mkdir -p "$SRC/a"
echo one > "$SRC/a/f"
daemonize "$WORK/daemon1.log" -z "$PIDFILE" --status-file "$STATUS" -l lbl
[ "$RC" -eq 0 ] || fail "clsync -b exited $RC"
pid=$(cat "$PIDFILE") || fail "no pid file once clsync -b returned"
[[ $pid =~ ^[0-9]+$ ]] || fail "pid file holds '$pid'"
BACKGROUND=$pid
alive "$pid" || fail "pid $pid from the pid file is not running"
is_clsync "$pid" || fail "pid $pid from the pid file is not clsync: $(readlink "/proc/$pid/exe")"
[ "$pid" -ne "$$" ] || fail "pid file holds the test's pid"
wait_for "initial sync" grep -q "synced the whole tree" "$LOG"
grep -q "clsync\[lbl\] info:" "$LOG" || fail "log lines do not carry the label"
wait_for "status 'running'" status_is running
for key in pending running iterations failures; do
    grep -Eqx "$key [0-9]+" "$STATUS" || fail "status file has no '$key N' line: $(cat "$STATUS")"
done
echo two > "$SRC/a/g"
wait_for "the daemon syncs" cmp -s "$SRC/a/g" "$DST/a/g"
alive "$pid" || fail "the daemon died"

# A second instance on the same pid file: 73, with or without -b; the first keeps running.
rc=0
timeout 30 "$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -z "$PIDFILE" >"$WORK/second.log" 2>&1 || rc=$?
[ "$rc" -eq 73 ] || fail "a second instance on the same pid file exited $rc, expected 73: $(cat "$WORK/second.log")"
grep -q "held by a running clsync" "$WORK/second.log" || fail "the second instance did not say why: $(cat "$WORK/second.log")"
daemonize "$WORK/second-b.log" -z "$PIDFILE"
[ "$RC" -eq 73 ] || fail "a second instance with -b on the same pid file exited $RC, expected 73: $(cat "$LOG")"
LOG=$WORK/daemon1.log
[ "$(cat "$PIDFILE")" = "$pid" ] || fail "the second instance changed the pid file"
alive "$pid" || fail "the second instance stopped the first"

# TERM: the daemon exits and removes its pid file.
kill -TERM "$pid"
wait_for "pid file removed after TERM" test ! -e "$PIDFILE"
gone "$pid"

# A stale pid file (its process is gone) is taken over.
dead=$(sh -c 'echo $$')
alive "$dead" && fail "pid $dead was reused at once; cannot test a stale pid file"
echo "$dead" > "$PIDFILE"
daemonize "$WORK/daemon2.log" -z "$PIDFILE"
[ "$RC" -eq 0 ] || fail "clsync -b with a stale pid file exited $RC"
grep -q "taking over" "$LOG" || fail "taking over the stale pid file was not logged"
pid=$(cat "$PIDFILE")
BACKGROUND=$pid
[ "$pid" != "$dead" ] || fail "the stale pid was left in the pid file"
alive "$pid" && is_clsync "$pid" || fail "pid $pid from the taken-over pid file is not a running clsync"
wait_for "initial sync" grep -q "synced the whole tree" "$LOG"
kill -TERM "$pid"
wait_for "pid file removed after TERM" test ! -e "$PIDFILE"
gone "$pid"
BACKGROUND=

# A start-up error of the daemon (found after -b forked) is the parent's exit status.
daemonize "$WORK/bad-watch.log" -z "$PIDFILE" -W "$WORK/missing"
[ "$RC" -eq 66 ] || fail "clsync -b with a missing watch dir exited $RC, expected 66: $(cat "$LOG")"
grep -q "watch dir '$WORK/missing'" "$LOG" || fail "the parent did not pass on the daemon's error: $(cat "$LOG")"
daemonize "$WORK/bad-rules.log" -z "$PIDFILE" -R "$WORK/missing-rules"
[ "$RC" -eq 78 ] || fail "clsync -b with a missing rules file exited $RC, expected 78: $(cat "$LOG")"
[ ! -e "$PIDFILE" ] || fail "a daemon that failed to start left its pid file"

# --- --standby-file --------------------------------------------------------------
LOG=$WORK/clsync.log
start_daemon --standby-file "$WORK/standby"
touch "$WORK/standby"
echo held > "$SRC/held"
wait_for "change queued" grep -q "event: 'held'" "$LOG"
# Nothing to poll for here: the change must NOT arrive. The window is 0.2 s, so
# 1.5 s gives the sync every chance to happen if the standby file did not hold it.
sleep 1.5
[ ! -e "$DST/held" ] || fail "a change was synced while the standby file existed"
rm "$WORK/standby"
wait_for "change synced after the standby file was removed" cmp -s "$SRC/held" "$DST/held"
stop_daemon

# --- --pre-exit-hook, --exit-hook --------------------------------------------------
HOOKS=$WORK/hooks.log
printf '#!/bin/sh\necho "$0 $1" >> "%s"\necho made > "%s/by-pre-exit-hook"\n' "$HOOKS" "$SRC" > "$WORK/pre-exit-hook"
printf '#!/bin/sh\necho "$0 $1" >> "%s"\n' "$HOOKS" > "$WORK/exit-hook"
chmod +x "$WORK/pre-exit-hook" "$WORK/exit-hook"
rc=0
timeout 60 "$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -t 0.2 -d -l lbl --exit-on-no-events \
    --pre-exit-hook "$WORK/pre-exit-hook" --exit-hook "$WORK/exit-hook" >"$LOG" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "--exit-on-no-events with hooks exited $rc"
printf '%s\n' "$WORK/pre-exit-hook lbl" "$WORK/exit-hook lbl" | cmp -s - "$HOOKS" ||
    fail "hooks did not run as expected (pre-exit, then exit, with the label): $(cat "$HOOKS" 2>/dev/null)"
cmp -s "$SRC/by-pre-exit-hook" "$DST/by-pre-exit-hook" || fail "the file made by the pre-exit hook was not synced before exit"

# --- SIGQUIT ---------------------------------------------------------------------------
# quit_after_queuing NAME: queues a change of NAME under a 60 s window, sends QUIT and
# expects exit 0 well before the window would have closed.
quit_after_queuing() {
    echo "$1" > "$SRC/$1"
    wait_for "change queued" grep -q "event: '$1'" "$LOG"
    local start; start=$(date +%s)
    kill -QUIT "$DAEMON_PID"
    gone "$DAEMON_PID"
    local rc=0
    wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=
    [ "$rc" -eq 0 ] || fail "QUIT: exit status $rc"
    [ $(( $(date +%s) - start )) -lt 30 ] || fail "QUIT waited for the 60 s window"
}
start_daemon -t 60
quit_after_queuing queued-no-sync-on-quit
[ ! -e "$DST/queued-no-sync-on-quit" ] || fail "QUIT without --sync-on-quit synced the queued change"
start_daemon -t 60 --sync-on-quit
quit_after_queuing queued-sync-on-quit
cmp -s "$SRC/queued-sync-on-quit" "$DST/queued-sync-on-quit" || fail "QUIT with --sync-on-quit did not sync the queued change"

# --- -u, -g --------------------------------------------------------------------------
if id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null 2>&1; then
    rm -rf "$DST"
    mkdir "$DST"
    # mktemp made $WORK 0700: nobody must get through it to read the tree. The
    # destination must belong to nobody, who cannot set the times of a directory it
    # does not own (rsync -a does that for DST/.), even with mode 777.
    chmod 755 "$WORK"
    chown nobody:nogroup "$DST"
    chmod 777 "$DST"
    start_daemon -u nobody -g nogroup
    [ "$(ps -o user= -p "$DAEMON_PID" | tr -d ' ')" = nobody ] || fail "clsync -u nobody runs as $(ps -o user= -p "$DAEMON_PID")"
    for task in /proc/"$DAEMON_PID"/task/*; do
        grep -Eq '^Uid:\s+65534\s+65534\s+65534\s+65534$' "$task/status" || fail "thread ${task##*/} is not nobody: $(grep Uid "$task/status")"
        grep -Eq '^Gid:\s+65534\s+65534\s+65534\s+65534$' "$task/status" || fail "thread ${task##*/} is not in group nogroup: $(grep Gid "$task/status")"
    done
    wait_converged "initial sync as nobody"
    echo late > "$SRC/a/as-nobody"
    wait_for "change synced as nobody" cmp -s "$SRC/a/as-nobody" "$DST/a/as-nobody"
    [ "$(stat -c %U "$DST/a/as-nobody")" = nobody ] || fail "rsync did not run as nobody"
    stop_daemon
else
    echo "daemon: no user nobody or group nogroup, -u/-g part skipped"
fi
echo "daemon: ok"
