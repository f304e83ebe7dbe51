#!/bin/bash
# -M librsync with --state-dir: clsync writes the local destination itself.
#  a) a big file changed in the middle is updated in place: same inode, only the
#     64 KiB blocks the change touches are written (the debug log says how many bytes);
#  b) an append writes the appended bytes (and the old partial last block) only;
#  c) a destination file changed behind clsync's back (same size, other mtime) is not
#     updated in place from a stale signature: the delta path makes it byte-equal;
#  d) a burst of 2,000 small files and deletions leaves no temp file (".NAME.clsync-*");
#  e) a remote destination is refused (exit 64, naming librsync);
#  f) a second instance on the same --state-dir is refused (exit 73, naming the dir);
#  g) --fsync=file and --fsync=none converge too;
#  h) a rename at the top level alone converges (the destination root's mtime).
CLSYNC_MODE=librsync
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

BLOCK=65536  # kBlockSize (src/block_diff.h)
MIB=1048576

in_place_count() { grep -c " bytes written in place" "$LOG" || true; }
more_in_place_than() { [ "$(in_place_count)" -gt "$1" ]; }
# last_in_place NAME: "WRITTEN TOTAL" of the last in-place update of NAME in the log.
last_in_place() { sed -n "s/.* '$1': \([0-9]*\) of \([0-9]*\) bytes written in place.*/\1 \2/p" "$LOG" | tail -n 1; }
synced_count() { grep -c " info: synced " "$LOG" || true; }
more_synced_than() { [ "$(synced_count)" -gt "$1" ]; }
ino() { stat -c %i "$1"; }
# pwrite FILE OFFSET LENGTH: LENGTH random bytes at OFFSET, in one write(2), so that
# the daemon sees one change (and one batch), size kept unless it grows the file.
pwrite() {
    python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
data = os.urandom(int(sys.argv[3]))
assert os.pwrite(fd, data, int(sys.argv[2])) == len(data)
os.close(fd)' "$@"
}
append() { pwrite "$1" "$(stat -c %s "$1")" "$2"; }
# blocks_touched OFFSET LENGTH: how many 64 KiB blocks the byte range touches.
blocks_touched() { echo $(( ($1 + $2 - 1) / BLOCK - $1 / BLOCK + 1 )); }
# expect_in_place WHAT NAME WRITTEN TOTAL: waits for the in-place update after the change
# just made (counted from $before), then checks the bytes written and the file size.
expect_in_place() {
    local what=$1 name=$2 want=$3 size=$4 written total
    wait_for "in-place update: $what" more_in_place_than "$before"
    settled "$what"
    [ "$(in_place_count)" -eq $((before + 1)) ] || fail "$what: $(( $(in_place_count) - before )) in-place updates, expected 1"
    read -r written total <<<"$(last_in_place "$name")"
    [ "$total" = "$size" ] || fail "$what: the log reports a file of ${total:-?} bytes, expected $size"
    [ "$written" = "$want" ] || fail "$what: ${written:-?} bytes written in place, expected $want"
}

head -c $((20 * MIB)) /dev/urandom > "$SRC/big"
mkdir -p "$SRC/dir"
echo small > "$SRC/dir/small"
start_daemon
settled "initial sync"
[ -s "$STATE/state.db" ] || fail "no state database in $STATE"
inode=$(ino "$DST/big")

# a) 100 KiB in the middle, from a block boundary (10 MiB): 2 blocks; then from inside a
# block (5 MiB + 40,000): 3 blocks.
before=$(in_place_count)
pwrite "$SRC/big" $((10 * MIB)) 102400
expect_in_place "100 KiB at 10 MiB" big $(( $(blocks_touched $((10 * MIB)) 102400) * BLOCK )) $((20 * MIB))  # 131072
[ "$(ino "$DST/big")" = "$inode" ] || fail "the in-place update replaced the destination file (inode changed)"
before=$(in_place_count)
pwrite "$SRC/big" $((5 * MIB + 40000)) 102400
expect_in_place "100 KiB at 5 MiB + 40,000" big $(( $(blocks_touched $((5 * MIB + 40000)) 102400) * BLOCK )) $((20 * MIB))  # 196608
[ "$(ino "$DST/big")" = "$inode" ] || fail "the in-place update replaced the destination file (inode changed)"

# b) Appends: the file ends on a block boundary, so only the new bytes; then the old
# partial last block (10,000 bytes) and the new ones.
before=$(in_place_count)
append "$SRC/big" 10000
expect_in_place "append of 10,000 bytes" big 10000 $((20 * MIB + 10000))
before=$(in_place_count)
append "$SRC/big" 5000
expect_in_place "append of 5,000 bytes" big 15000 $((20 * MIB + 15000))
[ "$(ino "$DST/big")" = "$inode" ] || fail "an append replaced the destination file (inode changed)"

# c) Behind clsync's back: 4 KiB of the destination file overwritten, size kept, mtime
# changed. The recorded signature no longer describes it: an in-place update would keep
# the damage (that block is not in the source's change). The delta path rewrites it.
pwrite "$DST/big" $((MIB + 100)) 4096
touch -d '2001-02-03 04:05:06' "$DST/big"
before=$(in_place_count)
synced=$(synced_count)
pwrite "$SRC/big" $((15 * MIB)) 50000
wait_for "sync after the change behind clsync's back" more_synced_than "$synced"
settled "after the destination changed behind clsync's back"
cmp "$SRC/big" "$DST/big" || fail "the destination changed behind clsync's back is not byte-equal"
[ "$(in_place_count)" -eq "$before" ] || fail "updated in place from a signature that no longer matched: $(last_in_place big)"
[ "$(ino "$DST/big")" != "$inode" ] || fail "not rewritten through a temp file (same inode) after a change behind clsync's back"
# The delta path recorded a new signature: the next change is in place again.
inode=$(ino "$DST/big")
before=$(in_place_count)
pwrite "$SRC/big" $((2 * MIB)) 1000
expect_in_place "a change after the delta" big $BLOCK $((20 * MIB + 15000))
[ "$(ino "$DST/big")" = "$inode" ] || fail "the change after the delta was not made in place"

# d) 2,000 small files in 20 directories, a third deleted right after being written,
# then half of the rest deleted while the first batches run: no temp file is left.
python3 - "$SRC/burst" <<'EOF'
import os, sys
root = sys.argv[1]
for i in range(2000):
    d = os.path.join(root, "d%02d" % (i % 20))
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "f%04d" % i)
    with open(path, "w") as f:
        f.write("file %d\n" % i * (1 + i % 7))
    if i % 3 == 0:
        os.unlink(path)
for i in range(0, 2000, 2):
    try:
        os.unlink(os.path.join(root, "d%02d" % (i % 20), "f%04d" % i))
    except FileNotFoundError:
        pass
EOF
settled "after a burst of 2,000 files and deletions"
[ "$(find "$DST/burst" -type f | wc -l)" -eq "$(find "$SRC/burst" -type f | wc -l)" ] || fail "burst: file counts differ"
leftovers=$(find "$DST" -name '.*.clsync-*')
[ -z "$leftovers" ] || fail "temp files left at the destination: $(echo "$leftovers" | head -n 5)"
rm -rf "$SRC/burst"
settled "burst removed"
leftovers=$(find "$DST" -name '.*.clsync-*')
[ -z "$leftovers" ] || fail "temp files left at the destination: $(echo "$leftovers" | head -n 5)"

# e) A remote destination: refused at once, before anything is synced.
rc=0
timeout 30 "$CLSYNC" -M librsync --state-dir="$WORK/state-remote" -W "$SRC" -D "somehost:/some/path" \
    >"$WORK/remote.out" 2>&1 || rc=$?
[ "$rc" -eq 64 ] || fail "remote destination: exit $rc, expected 64: $(cat "$WORK/remote.out")"
grep -q "librsync" "$WORK/remote.out" || fail "remote destination: the message does not name librsync: $(cat "$WORK/remote.out")"

# f) A second instance on the same state dir (another destination): refused, exit 73,
# naming the state dir; the first one goes on.
mkdir "$WORK/dst2"
rc=0
timeout 30 "$CLSYNC" -M librsync --state-dir="$STATE" -W "$SRC" -D "$WORK/dst2" >"$WORK/second.out" 2>&1 || rc=$?
[ "$rc" -eq 73 ] || fail "second instance on the same state dir: exit $rc, expected 73: $(cat "$WORK/second.out")"
grep -qF "$STATE" "$WORK/second.out" || fail "second instance: the message does not name $STATE: $(cat "$WORK/second.out")"
[ -z "$(ls -A "$WORK/dst2")" ] || fail "the refused second instance wrote its destination"
echo alive > "$SRC/dir/alive"
wait_for "the first instance still syncs" cmp -s "$SRC/dir/alive" "$DST/dir/alive"
stop_daemon

# g) The other fsync policies: small files, an in-place update, a new big file, a deletion.
for policy in file none; do
    start_daemon --fsync=$policy
    settled "--fsync=$policy: start"
    before=$(in_place_count)
    echo "$policy" > "$SRC/dir/$policy"
    echo "$policy" >> "$SRC/dir/small"
    pwrite "$SRC/big" $((7 * MIB)) 1
    head -c $((2 * MIB)) /dev/urandom > "$SRC/dir/big-$policy"
    rm -f "$SRC/dir/alive"
    wait_for "--fsync=$policy: in-place update" more_in_place_than "$before"
    settled "--fsync=$policy"
    [ "$(last_in_place big)" = "$BLOCK $((20 * MIB + 15000))" ] || fail "--fsync=$policy: in place: $(last_in_place big)"
    stop_daemon
done

# h) A rename at the top level, alone in its batch: the rename is replayed at the
# destination, which changes the destination root's mtime like the source's.
start_daemon
mv "$SRC/dir" "$SRC/dir.renamed"
DEADLINE=20 wait_converged "a rename at the top level (no later event: converged at once or never)"
stop_daemon
echo "librsync: ok"
