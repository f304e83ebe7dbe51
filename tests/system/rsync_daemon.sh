#!/bin/sh
# An rsync:// destination: a real rsync daemon on a free loopback port, a module
# with a subdirectory as the destination. Creates, renames (copied: there is no
# shell to move them), deletions and odd names reach it.
. "$(dirname "$0")/lib.sh"
skip_in_librsync "librsync writes local destinations only"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the module writes as root"; exit 77; }
MODULE=$WORK/module
mkdir -p "$MODULE"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/rsyncd.conf" <<CONF
use chroot = no
pid file = $WORK/rsyncd.pid
[mirror]
path = $MODULE
read only = false
uid = root
gid = root
CONF
rsync --daemon --no-detach --address=127.0.0.1 --port="$PORT" --config="$WORK/rsyncd.conf" 2>"$WORK/rsyncd.log" &
RSYNCD_PID=$!
trap 'kill $RSYNCD_PID 2>/dev/null; wait $RSYNCD_PID 2>/dev/null; cleanup' EXIT
wait_for "rsync daemon" rsync "rsync://127.0.0.1:$PORT/"

REMOTE=$MODULE/to
mkdir -p "$SRC/a/b"
echo one >"$SRC/a/b/f"
printf 'x' >"$SRC/-dash [x]*"
start_daemon -D "rsync://127.0.0.1:$PORT/mirror/to"
remote_equal() { python3 "$TESTS_DIR/treecmp.py" "$SRC" "$REMOTE" --quiet; }
wait_for "initial sync to the module" remote_equal
mv "$SRC/a" "$SRC/c"
echo two >"$SRC/c/b/g"
rm "$SRC/-dash [x]*"
wait_for "rename, create and delete at the module" remote_equal
wait_converged "the local destination too"
stop_daemon
echo "PASS"
