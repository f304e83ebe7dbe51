#!/bin/bash
# Config files (-H, -K): inherited blocks, %label% in values, the command line winning
# over the file; errors (exit 78) name the file and the line; -H /NULL/ reads none.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

CONF=$WORK/clsync.conf
# Nothing from the real home directory: HOME holds a config file that must not be read
# where -H is given, and that is read (and refused) where it is not.
export HOME=$WORK/home
mkdir "$HOME"
printf '[default]\nno-such-option = 1\n' > "$HOME/.clsync.conf"

# expect CODE PATTERN ARGS...: clsync ARGS exits with CODE and says PATTERN.
expect() {
    local code=$1 pattern=$2; shift 2
    local rc=0
    timeout 60 "$CLSYNC" "$@" >"$WORK/out" 2>&1 || rc=$?
    [ "$rc" -eq "$code" ] || fail "clsync $* exited $rc, expected $code: $(cat "$WORK/out")"
    grep -q -- "$pattern" "$WORK/out" || fail "clsync $* did not say '$pattern': $(cat "$WORK/out")"
}

# The block [mirror] inherits [common]; paths are built from %label%.
cat > "$CONF" <<CONF
; a comment
[common]
delay-collect = 0.2
mode = rsyncdirect
monitor = $MONITOR
debug = 1

[mirror]
config-block-inherits = common
watch-dir = $WORK/src-%label%
destination-dir = $WORK/dst-%label%
CONF
SRC=$WORK/src-one DST=$WORK/dst-one
mkdir -p "$SRC/a/b" "$DST"
echo x > "$SRC/a/b/f"
"$CLSYNC" -H "$CONF" -K mirror -l one >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_converged "config file: initial sync"
echo y > "$SRC/a/g"
wait_converged "config file: a change"
grep -q "syncing" "$LOG" || fail "debug = 1 from the inherited block was not applied"
stop_daemon

# The command line wins over the file: -t 0.2 over delay-collect = 100.
cat > "$CONF" <<CONF
[slow]
delay-collect = 100
watch-dir = $SRC
destination-dir = $DST
CONF
"$CLSYNC" -H "$CONF" -K slow -t 0.2 --monitor="$MONITOR" >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_converged "command line over file: initial sync"
echo z > "$SRC/a/h"
DEADLINE=50 wait_converged "-t 0.2 on the command line did not override delay-collect = 100"
stop_daemon

# Errors: exit 78, naming the file and the line.
cat > "$CONF" <<CONF
[a]
delay-collect = 0.2
watch-dir = $SRC
destination-dir = $DST
frobnicate = yes
CONF
expect 78 "$CONF:5" -H "$CONF" -K a
expect 78 "frobnicate" -H "$CONF" -K a
expect 78 "no block \[missing\]" -H "$CONF" -K missing

printf '[a]\nconfig-block-inherits = b\n[b]\nconfig-block-inherits = a\nwatch-dir = %s\n' "$SRC" > "$CONF"
expect 78 "inheritance loop" -H "$CONF" -K a -D "$DST"

printf '[a]\nwatch-dir = %s\ndestination-dir = %s\n\ndelay-collect = soon\n' "$SRC" "$DST" > "$CONF"
expect 78 "$CONF:5" -H "$CONF" -K a
expect 78 "soon" -H "$CONF" -K a

# No -H: the file in $HOME is read (and refused); -H /NULL/: no file at all.
expect 78 "$HOME/.clsync.conf:2" -W "$SRC" -D "$DST"
rm -rf "$DST" && mkdir "$DST"
timeout 60 "$CLSYNC" -H /NULL/ -W "$SRC" -D "$DST" --only-initialsync >"$LOG" 2>&1 || fail "-H /NULL/ -W -D did not work"
trees_equal || fail "-H /NULL/: the tree was not synced"

# SIGHUP re-reads the file: a shorter window applies at once; a broken file is
# reported and the configuration in force is kept.
cat > "$CONF" <<CONF
[live]
watch-dir = $SRC
destination-dir = $DST
delay-collect = 300
CONF
"$CLSYNC" -H "$CONF" -K live -d >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "initial sync" grep -q "synced the whole tree" "$LOG"
printf '[live]
watch-dir = %s
destination-dir = %s
delay-collect = 0.2
frobnicate = 1
' "$SRC" "$DST" > "$CONF"
kill -HUP "$DAEMON_PID"
wait_for "broken config reported" grep -q "$CONF:5: unknown key 'frobnicate' in block \[live\]; keeping the configuration in force" "$LOG"
sed -i '/frobnicate/d' "$CONF"
kill -HUP "$DAEMON_PID"
echo reloaded > "$SRC/after-hup"
# With the old 300 s window this could not arrive within the deadline.
DEADLINE=60 wait_for "change synced with the reloaded 0.2 s window" cmp -s "$SRC/after-hup" "$DST/after-hup"
stop_daemon
echo "config_file: ok"
