#!/bin/sh
# Remote destinations over a real sshd on loopback: two destinations (one local, one
# 127.0.0.1:path), a rename replayed at the remote one with mv (same inode there),
# odd names, the remote down (the local one goes on, the status says "down", the log
# warns once), and back (caught up).
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/lib_sshd.sh"
skip_in_librsync "librsync writes local destinations only"
start_sshd
REMOTE=$WORK/remote
STATUS=$WORK/status.json
mkdir -p "$SRC/dir/sub"
head -c 300000 /dev/urandom >"$SRC/dir/sub/data"
printf 'odd\n' >"$SRC/it's a \$(name) with
newline"

remote_equal() { python3 "$TESTS_DIR/treecmp.py" "$SRC" "$REMOTE" --quiet; }
# status_of DESTINATION FIELD: a field of that destination in the JSON status file.
status_of() {
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print([d for d in s["destinations"] if d["destination"] == sys.argv[2]][0][sys.argv[3]])' "$STATUS" "$1" "$2"
}

start_daemon -D "127.0.0.1:$REMOTE" --ssh-command "$SSH_COMMAND" --status-file "$STATUS" --status-format=json
wait_for "remote initial sync" remote_equal
wait_converged "local initial sync"
[ "$(status_of "127.0.0.1:$REMOTE" state)" = "in sync" ] || fail "remote not 'in sync' in the status: $(cat "$STATUS")"

# A renamed directory is moved at the remote side, not copied again.
inode_before=$(stat -c %i "$REMOTE/dir/sub/data")
mv "$SRC/dir" "$SRC/renamed dir"
wait_for "rename at the remote destination" remote_equal
wait_converged "rename at the local destination"
[ "$(stat -c %i "$REMOTE/renamed dir/sub/data")" = "$inode_before" ] ||
    fail "the renamed directory was copied again at the remote destination, not moved"
# Logged once rsync has exited, which may come after the trees are equal: polled.
wait_for "the log line of the rename replayed" grep -q "1 rename replayed" "$LOG"
grep -q "renaming at 127.0.0.1" "$LOG" && fail "the remote rename session failed"

# The remote goes down: the local destination goes on, the status says so.
stop_sshd
for i in 1 2 3; do echo "while down $i" >"$SRC/down-$i"; done
rm "$SRC/it's a \$(name) with
newline"
wait_converged "local destination while the remote is down"
wait_for "remote marked down in the status" sh -c '[ "$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print([d for d in s[\"destinations\"] if d[\"destination\"]==sys.argv[2]][0][\"state\"])" "$0" "$1")" = down ]' "$STATUS" "127.0.0.1:$REMOTE"
[ "$(status_of "$DST" state)" = "in sync" ] || fail "local destination not 'in sync' while the remote is down: $(cat "$STATUS")"
# Several retries, one warning.
wait_for "three failed runs" sh -c '[ "$(grep -c "sync to 127.0.0.1:.* failed" "$0")" -ge 3 ]' "$LOG"
warnings=$(grep -c "warning: sync to 127.0.0.1:" "$LOG" || true)
[ "$warnings" -eq 1 ] || fail "$warnings warnings for one outage (expected one per change of state)"
[ -e "$REMOTE/down-1" ] && fail "the remote destination was written while sshd was down"

start_sshd
wait_for "remote caught up" remote_equal
wait_for "the recovery logged" grep -q "sync to 127.0.0.1:.* works again" "$LOG"
wait_for "remote 'in sync' again" sh -c '[ "$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print([d for d in s[\"destinations\"] if d[\"destination\"]==sys.argv[2]][0][\"state\"])" "$0" "$1")" = "in sync" ]' "$STATUS" "127.0.0.1:$REMOTE"
stop_daemon
echo "PASS"
