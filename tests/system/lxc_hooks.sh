#!/bin/bash
# A real LXC container (busybox template, no network) with the hooks of examples/lxc:
# starting it starts its clsync instance, files written inside the container reach
# the destination, and stopping it syncs the last change (written just before the
# stop, well inside the 10 s window) and stops the instance. Skipped (77) without
# root or LXC.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
skip() {
    echo "SKIP: $*"
    exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root for LXC"
for tool in lxc-create lxc-start lxc-attach lxc-stop lxc-destroy busybox; do
    command -v "$tool" >/dev/null || skip "no $tool (apt-get install lxc busybox-static)"
done

EXAMPLES=$(cd "$TESTS_DIR/../../examples" && pwd)
NAME=clsync-test-$$
RUN=$WORK/run
mkdir -p "$RUN" "$DST"
destroy_container() {
    lxc-stop -n "$NAME" -k >/dev/null 2>&1 || true
    lxc-destroy -n "$NAME" >/dev/null 2>&1 || true
    [ -s "$RUN/lxc-$NAME.pid" ] && kill "$(cat "$RUN/lxc-$NAME.pid")" 2>/dev/null || true
}
trap 'destroy_container; cleanup' EXIT

cat >"$WORK/clsync.conf" <<CONF
$(cat "$EXAMPLES/lxc/clsync-lxc.conf")

[test]
config-block-inherits = lxc
destination-dir = $DST/%label%
delay-collect = 10
rules-file = $EXAMPLES/rules/lxc
CONF
# The hooks run with lxc-start's environment; the variables point them at this test.
hook_env="/usr/bin/env CLSYNC_LXC_CONFIG=$WORK/clsync.conf CLSYNC_LXC_BLOCK=test CLSYNC_LXC_BINARY=$CLSYNC"
hook_env="$hook_env CLSYNC_LXC_STATE=$RUN CLSYNC_LXC_LOGS=$WORK"
cat >"$WORK/lxc.conf" <<CONF
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.hook.start-host = $hook_env $EXAMPLES/lxc/clsync-lxc-start
lxc.hook.post-stop = $hook_env $EXAMPLES/lxc/clsync-lxc-stop
CONF
# Containers and instances a killed earlier run left behind.
for stale in $(lxc-ls -1 2>/dev/null | grep '^clsync-test-' || true); do
    lxc-stop -n "$stale" -k >/dev/null 2>&1 || true
    lxc-destroy -n "$stale" >/dev/null 2>&1 || true
done
lxc-create -n "$NAME" -t busybox -f "$WORK/lxc.conf" >"$WORK/create.log" 2>&1 ||
    fail "lxc-create failed: $(tail -n 3 "$WORK/create.log" | tr '\n' ' ')"
rootfs=$(lxc-info -n "$NAME" -c lxc.rootfs.path | sed 's/^lxc.rootfs.path = //; s/^dir://')
LOG=$WORK/lxc-$NAME.log

lxc-start -n "$NAME" -l INFO -o "$WORK/start.log" || fail "lxc-start failed: $(tail -n 5 "$WORK/start.log")"
pid=$(cat "$RUN/lxc-$NAME.pid" 2>/dev/null) || fail "the start hook left no pid file: $(cat "$LOG" 2>/dev/null)"
kill -0 "$pid" || fail "clsync of the container is not running"
wait_for "the initial sync of the container's rootfs" test -e "$DST/$NAME/bin/busybox"
wait_for "status file says running" grep -qx running "$RUN/lxc-$NAME.status"

# A file written inside the container reaches the destination (within the window).
lxc-attach -n "$NAME" -- /bin/sh -c 'echo from-inside > /root/inside' || fail "lxc-attach failed"
[ "$(cat "$rootfs/root/inside")" = from-inside ] || fail "the write inside the container is not in $rootfs"
DEADLINE=60 wait_for "the file written inside reached the destination" cmp -s "$rootfs/root/inside" "$DST/$NAME/root/inside"

# Written just before the stop: only the stop hook's last sync can carry it over.
lxc-attach -n "$NAME" -- /bin/sh -c 'echo last-word > /root/last' || fail "lxc-attach failed"
lxc-stop -n "$NAME" -k || fail "lxc-stop failed"
wait_for "the stop hook ended clsync" sh -c "! kill -0 $pid 2>/dev/null"
cmp -s "$rootfs/root/last" "$DST/$NAME/root/last" || fail "the last change was not synced when the container stopped"
[ ! -e "$RUN/lxc-$NAME.pid" ] || fail "the pid file is still there"
grep -q "SIGQUIT: syncing what is queued" "$LOG" || fail "clsync did not get the stop hook's SIGQUIT"
echo "lxc_hooks: ok (container $NAME, rootfs $rootfs)"
