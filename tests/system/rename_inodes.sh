#!/bin/sh
# Renames inside the tree are replayed at a local destination as rename(): the
# destination keeps its inodes (nothing is copied again). Where the destination does
# not hold the old name (its new parent is new too), the fallback still converges.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

ino() { stat -c %i "$1"; }
# inodes [DIR]: "relative-path inode" of everything under DIR (DIR itself included).
inodes() { find "$1" -printf '%P %i\n' | sort; }
replayed_batches() { grep -cE ' synced .* \([0-9]+ renames? replayed\)' "$LOG" || true; }
replayed_more_than() { [ "$(replayed_batches)" -gt "$1" ]; }

# 1. A directory of 10,000 small files (and a subdirectory), synced by the initial sync.
mkdir -p "$SRC/big/sub/deeper"
python3 - "$SRC/big" <<'EOF'
import os, sys
root = sys.argv[1]
for i in range(9990):
    with open(os.path.join(root, "f%05d" % i), "w") as f:
        f.write("small file %d\n" % i)
for i in range(10):
    with open(os.path.join(root, "sub", "deeper", "g%d" % i), "w") as f:
        f.write("nested %d\n" % i)
EOF
# Fixtures of the smaller cases, also synced by the initial sync.
echo single > "$SRC/single"
echo chained > "$SRC/a"
echo modified > "$SRC/f"
mkdir -p "$SRC/somedir/inner"
echo moved > "$SRC/somedir/inner/x"
echo y > "$SRC/somedir/y"
echo first > "$SRC/s1"
echo second > "$SRC/s2"

start_daemon
settled "initial sync"
[ "$(find "$DST/big" -type f | wc -l)" -eq 10000 ] || fail "initial sync did not copy the 10,000 files"

inodes "$DST/big" > "$WORK/inodes.before"
replayed=$(replayed_batches)
mv "$SRC/big" "$SRC/big.renamed"
wait_for "a batch with a replayed rename (directory of 10,000 files)" replayed_more_than "$replayed"
settled "directory of 10,000 files renamed"
[ ! -e "$DST/big" ] || fail "old directory name still at the destination"
inodes "$DST/big.renamed" > "$WORK/inodes.after"
cmp -s "$WORK/inodes.before" "$WORK/inodes.after" || {
    diff "$WORK/inodes.before" "$WORK/inodes.after" | head -n 10 >&2
    fail "destination inodes changed when the directory of 10,000 files was renamed"
}
grep -E ' synced .* \([0-9]+ renames? replayed\)' "$LOG" | tail -n 1
# The big tree is not needed further: each later convergence check would read it all.
rm -rf "$SRC/big.renamed"
settled "renamed directory of 10,000 files removed"

# 2. A single file renamed keeps its destination inode.
before=$(ino "$DST/single")
mv "$SRC/single" "$SRC/single.renamed"
settled "single file renamed"
[ "$(ino "$DST/single.renamed")" = "$before" ] || fail "single file rename: destination inode changed"

# 3. Chained renames a -> b -> c back-to-back (normally within one window).
before=$(ino "$DST/a")
mv "$SRC/a" "$SRC/b"; mv "$SRC/b" "$SRC/c"
settled "chained renames a -> b -> c"
[ "$(ino "$DST/c")" = "$before" ] || fail "chained renames: destination inode changed"

# 4. Rename then modify under the new name.
mv "$SRC/f" "$SRC/g"; echo more >> "$SRC/g"
settled "rename then append"
[ "$(cat "$DST/g")" = "$(printf 'modified\nmore')" ] || fail "rename then append: wrong content at the destination"

# 5. A directory moved into a parent created in the same window: the destination has
# no such parent, the fallback (deletion and copy) converges. Inodes may change.
mkdir "$SRC/newdir" && mv "$SRC/somedir" "$SRC/newdir/"
settled "directory moved into a new parent"
[ "$(cat "$DST/newdir/somedir/inner/x")" = moved ] || fail "moved directory's content missing"

# 6. Swap of two files through a third name: contents (and inodes) swap.
ino1=$(ino "$DST/s1"); ino2=$(ino "$DST/s2")
mv "$SRC/s1" "$SRC/tmp"; mv "$SRC/s2" "$SRC/s1"; mv "$SRC/tmp" "$SRC/s2"
settled "swap through a third name"
[ "$(cat "$DST/s1")" = second ] && [ "$(cat "$DST/s2")" = first ] || fail "swap: wrong contents"
[ ! -e "$DST/tmp" ] || fail "swap: the temporary name is left at the destination"
[ "$(ino "$DST/s1")" = "$ino2" ] && [ "$(ino "$DST/s2")" = "$ino1" ] || fail "swap: destination inodes did not follow"

stop_daemon
echo "rename_inodes: ok"
