#!/bin/sh
# RENAME_EXCHANGE (renameat2) of two directories, and of two files, whose times and
# sizes are equal (as after unpacking one archive): reported like two renames, the
# replay cannot tell the contents apart by their metadata; the destination must still
# end up with the swapped contents. At a local destination the pair is replayed as one
# exchange (the files move with their directories); a swap of equal trees copies
# nothing. A file whose mode changed just before it was exchanged keeps that mode
# under its new name (outage.py found it lost once). A directory made and exchanged at
# once with a watched one, before the watcher saw it (the daemon stopped meanwhile), is
# watched under its new name: what is written in it later is synced (cluster.py found
# such changes lost).
. "$(dirname "$0")/lib.sh"
mkdir -p "$SRC/a" "$SRC/b" "$SRC/same1/in" "$SRC/same2/in"
echo x >"$SRC/a/x"
echo y >"$SRC/b/y"
echo 1 >"$SRC/f1"
echo 2 >"$SRC/f2"
echo s >"$SRC/same1/in/s"
echo s >"$SRC/same2/in/s"
echo m >"$SRC/m"
chmod 644 "$SRC/m"
mkdir "$SRC/md"
touch -d 2020-01-01 "$SRC/a" "$SRC/b" "$SRC/f1" "$SRC/f2" "$SRC/same1/in/s" "$SRC/same2/in/s" \
    "$SRC/same1/in" "$SRC/same2/in" "$SRC/same1" "$SRC/same2"
start_daemon
wait_converged "initial sync"
inode_same=$(stat -c %i "$DST/same1/in/s")
inode_x=$(stat -c %i "$DST/a/x")

exchange "$SRC/a" "$SRC/b"
exchange "$SRC/f1" "$SRC/f2"
exchange "$SRC/same1" "$SRC/same2"
wait_converged "after the exchanges"
[ "$(cat "$DST/b/x")" = x ] && [ "$(cat "$DST/a/y")" = y ] || fail "the exchanged directories kept their old contents"
[ "$(cat "$DST/f1")" = 2 ] || fail "the exchanged files kept their old contents"
if [ "$MODE" = rsyncdirect ]; then
    # Equal trees: the replay's moves are the whole work (nothing copied again).
    [ "$(stat -c %i "$DST/same1/in/s")" = "$inode_same" ] || [ "$(stat -c %i "$DST/same2/in/s")" = "$inode_same" ] ||
        fail "a swap of equal trees copied them again"
    # Replayed as one exchange: the file moved with its directory, not copied.
    [ "$(stat -c %i "$DST/b/x")" = "$inode_x" ] || fail "the exchange of two directories was not replayed as one"
fi

exchange "$SRC/m" "$SRC/md" 664
wait_converged "after a chmod and an exchange"
[ "$(stat -c %a "$DST/md")" = 664 ] || fail "the exchanged file lost its new mode: $(stat -c %a "$DST/md")"

# The exchange is reported as an IN_MOVED_TO of the new directory (its old parent is
# not watched) and an IN_MOVED_FROM of the watched one, both unpaired.
kill -STOP "$DAEMON_PID"
python3 -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
os.makedirs(sys.argv[1] + "/in")
if libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))' "$SRC/new/deep/fresh" "$SRC/b"
kill -CONT "$DAEMON_PID"
wait_converged "after a new directory was exchanged with a watched one"
echo later >"$SRC/b/in/later"
echo later >"$SRC/new/deep/fresh/later"
wait_converged "after writes in the exchanged directories"
stop_daemon
echo "PASS"
