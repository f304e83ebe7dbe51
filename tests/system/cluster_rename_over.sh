#!/bin/bash
# A cluster node syncs with rsync --update (a peer's newer copy of a file is never
# overwritten), yet a file renamed over another here replaced it, older or not. Here a
# file is made, given an old mtime and renamed over an existing one within one batch,
# so the destination has no copy of the old name and the rename's replay fails: the
# destination must still end with the renamed file, not keep its newer copy. A lone
# node (--cluster-key, no peer) is enough. Then the same for a file exchanged with
# another that is deleted right after, for an exchange a run carried in part, and for
# a rename replayed onto a newer copy the destination held under the old name.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
skip_in_librsync "a cluster node syncs with rsync"

echo "the file renamed over, newer" > "$SRC/target"
printf 'cluster test key\n' > "$WORK/key"
chmod 600 "$WORK/key"
start_daemon -t 2 --cluster-key="$WORK/key" --cluster-iface=lo --cluster-port=40991
# (Not wait_converged: a cluster node leaves directory times that differ below the
# second as they are.)
wait_for "the initial sync" cmp -s "$SRC/target" "$DST/target"

echo "the renamed file, older" > "$SRC/fresh"
touch -d "2001-02-03 04:05:06" "$SRC/fresh"
mv "$SRC/fresh" "$SRC/target"
renamed_over() { [ "$(cat "$DST/target")" = "the renamed file, older" ] && [ ! -e "$DST/fresh" ]; }
wait_for "the renamed file at the destination" renamed_over
grep -q "renamed over others here" "$LOG" || fail "the rename was replayed: the case under test did not happen"

# An exchange of two files, and one of them deleted right after (one batch): the source
# cannot tell the exchange from two renames (a -> b, b -> a) any more, and replayed as
# renames they leave the destination's newer copy under the name that is left. It must
# end with the source's older file all the same.
echo "kept, newer" > "$SRC/kept"
echo "gone, older" > "$SRC/gone"
touch -d "2001-02-03 04:05:06" "$SRC/gone"
both_synced() { cmp -s "$SRC/kept" "$DST/kept" && cmp -s "$SRC/gone" "$DST/gone"; }
wait_for "both files at the destination" both_synced
exchange "$SRC/kept" "$SRC/gone"
rm "$SRC/gone"
exchanged() { [ "$(cat "$DST/kept")" = "gone, older" ] && [ ! -e "$DST/gone" ]; }
wait_for "the older file under the name left" exchanged

# An exchange that a run carried in part already (one name at the destination holds
# what the source has there after the exchange, here copied by hand) is not replayed;
# the other name still holds the destination's newer file, and must end with the
# source's older one.
echo "x, newer" > "$SRC/x"
echo "y, older" > "$SRC/y"
touch -d "2001-02-03 04:05:06" "$SRC/y"
pair_synced() { cmp -s "$SRC/x" "$DST/x" && cmp -s "$SRC/y" "$DST/y"; }
wait_for "the pair at the destination" pair_synced
exchange "$SRC/x" "$SRC/y"
cp -p "$SRC/y" "$DST/y"
carried() { [ "$(cat "$DST/x")" = "y, older" ] && [ "$(cat "$DST/y")" = "x, newer" ]; }
wait_for "the older file under the name the run had not carried" carried

# A rename replayed at the destination, which held a newer copy under the old name (an
# earlier state a failed replay left there, say): the new name gets the source's file,
# not that copy.
echo "moved, as the source has it" > "$SRC/old-name"
touch -d "2001-02-03 04:05:06" "$SRC/old-name"
wait_for "old-name at the destination" cmp -s "$SRC/old-name" "$DST/old-name"
echo "a newer copy the destination kept" > "$DST/old-name"
mv "$SRC/old-name" "$SRC/new-name"
moved() { cmp -s "$SRC/new-name" "$DST/new-name" && [ ! -e "$DST/old-name" ]; }
wait_for "the source's file under the new name" moved
stop_daemon
echo "cluster_rename_over: ok"
