#!/bin/bash
# A cluster node's rsync deletes at a peer only what this node deleted (the rest may be
# the peer's own new entries), so a rename whose replay failed there can leave what
# this node wrote under a name the source now uses for something else, where no event
# names it again. Here, in one batch, directory old is moved into a new directory (the
# destination lacks it: the replay fails) and directory other renamed to old (onto the
# destination's non-empty old: fails too): the destination's old keeps old's entries
# until the node takes back what it wrote there and no longer has (own_writes.h). A
# peer's own entry there stays. A lone node (--cluster-key, no peer) is enough.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
skip_in_librsync "a cluster node syncs with rsync"

mkdir -p "$SRC/old/sub" "$SRC/other"
echo x > "$SRC/old/x"
echo s > "$SRC/old/sub/s"
echo o > "$SRC/other/o"
printf 'cluster test key\n' > "$WORK/key"
chmod 600 "$WORK/key"
start_daemon -t 2 --cluster-key="$WORK/key" --cluster-iface=lo --cluster-port=40992
# (Not wait_converged: a cluster node leaves directory times that differ below the
# second as they are.)
wait_for "the initial sync" test -f "$DST/old/sub/s" -a -f "$DST/other/o"
# What a peer made there itself: never this node's to remove.
echo "the peer's" > "$DST/old/peers"

mkdir "$SRC/new"
mv "$SRC/old" "$SRC/new/old"
mv "$SRC/other" "$SRC/old"
synced() {
    [ -f "$DST/new/old/x" ] && [ -f "$DST/new/old/sub/s" ] && [ -f "$DST/old/o" ] && [ ! -e "$DST/other" ] &&
        [ ! -e "$DST/old/x" ] && [ ! -e "$DST/old/sub" ]
}
wait_for "old's entries gone from the destination's old" synced
grep -q "renaming 'other' to 'old' at the destination" "$LOG" ||
    fail "the rename of other was replayed: the case under test did not happen"
grep -q "that this node wrote there and no longer has" "$LOG" || fail "no leftovers were removed"
[ "$(cat "$DST/old/peers")" = "the peer's" ] || fail "the peer's own file at the destination was removed"
stop_daemon
echo "cluster_leftovers: ok"
