#!/bin/bash
# A rules file (-R) keeps cache/ and *.tmp out of the sync: at start, for later
# changes and for whole-tree runs; their copies at the destination are left alone;
# moving a directory into cache/ deletes it at the destination, moving one out of
# cache/ copies it; cache/ is not watched (inotify). SIGHUP reads the rules again,
# and a broken rules file on SIGHUP is reported with FILE:LINE, keeping the old rules.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

RULES=$WORK/rules
# write_rules LINE...: replaces the rules file atomically (a reload never sees half of it).
write_rules() {
    printf '%s\n' "$@" > "$RULES.new"
    mv -f "$RULES.new" "$RULES"
}
# whole_tree_runs: how many whole-tree runs the log reports as done.
whole_tree_runs() { grep -c "synced the whole tree" "$LOG" || true; }
more_whole_tree_runs_than() { [ "$(whole_tree_runs)" -gt "$1" ]; }
# resync_whole_tree: SIGUSR2, then waits until that whole-tree run is done; such a run
# covers every path, so anything the rules did not keep out is at the destination after it.
resync_whole_tree() {
    local runs; runs=$(whole_tree_runs)
    kill -USR2 "$DAEMON_PID"
    wait_for "whole-tree run after SIGUSR2" more_whole_tree_runs_than "$runs"
}
# watched_dirs: the "N directories watched" of a fresh SIGUSR1 status line.
watched_dirs() {
    local before; before=$(wc -l < "$LOG")
    kill -USR1 "$DAEMON_PID"
    wait_for "SIGUSR1 status line" sh -c "tail -n +$((before + 1)) '$LOG' | grep -q 'status: watching with inotify, [0-9]* directories watched'"
    tail -n +$((before + 1)) "$LOG" | sed -n 's/.*status: watching with inotify, \([0-9]*\) directories watched.*/\1/p' | head -n 1
}
# dirs_outside_cache: the directories of the source that should be watched.
dirs_outside_cache() { find "$SRC" -path "$SRC/cache" -prune -o -type d -print | wc -l; }
absent() { for p in "$@"; do [ ! -e "$DST/$p" ] || fail "excluded path '$p' reached the destination"; done; }
synced() { for p in "$@"; do cmp -s "$SRC/$p" "$DST/$p" || fail "'$p' was not synced"; done; }

write_rules '-d^cache$' '-f\.tmp$' '+*'
mkdir -p "$SRC/cache/a/b" "$SRC/cache/c/d" "$SRC/cache/e" "$SRC/keep/sub" "$SRC/moveme/inner"
echo c > "$SRC/cache/top"
echo c > "$SRC/cache/a/b/deep"
echo t > "$SRC/x.tmp"
echo t > "$SRC/keep/y.tmp"
echo k > "$SRC/keep/sub/k"
echo m > "$SRC/moveme/inner/m"
# The destination's copy of excluded cache/ (which exists in the source): never deleted.
mkdir -p "$DST/cache/old"
echo old > "$DST/cache/old/kept"

start_daemon -R "$RULES"
synced keep/sub/k moveme/inner/m
absent cache/top cache/a cache/c cache/e x.tmp keep/y.tmp
[ -e "$DST/cache/old/kept" ] || fail "the initial sync deleted the destination's copy of excluded cache/"

# Excluded directories are not watched: cache/ and its 5 directories are not counted.
if [ "$MONITOR" != fanotify ]; then
    n=$(watched_dirs)
    [ "$n" -eq "$(dirs_outside_cache)" ] ||
        fail "$n directories watched, expected $(dirs_outside_cache) (cache/ and below excluded; $(find "$SRC" -type d | wc -l) in all)"
fi

# Later changes: the excluded ones are made first, so once the normal file that
# follows them is synced, they have been seen (or were never watched); the
# whole-tree run after it must leave them out as well.
echo new > "$SRC/cache/new"
echo new > "$SRC/cache/a/b/new"
echo t > "$SRC/new.tmp"
echo t > "$SRC/keep/sub/new.tmp"
echo n > "$SRC/keep/normal"
wait_for "normal file synced" cmp -s "$SRC/keep/normal" "$DST/keep/normal"
resync_whole_tree
absent cache/new cache/a new.tmp keep/sub/new.tmp cache/top
[ -e "$DST/cache/old/kept" ] || fail "a whole-tree run deleted the destination's copy of excluded cache/"

# Moved into cache/: gone from the destination, and no longer watched or synced.
mv "$SRC/moveme" "$SRC/cache/moveme"
wait_for "directory moved into cache/ deleted" test ! -e "$DST/moveme"
absent cache/moveme
echo later > "$SRC/cache/moveme/inner/later"
# Moved out of cache/ to an included name: copied with everything below it.
mv "$SRC/cache/c" "$SRC/from-cache"
echo inside > "$SRC/from-cache/d/inside"
wait_for "directory moved out of cache/ synced" cmp -s "$SRC/from-cache/d/inside" "$DST/from-cache/d/inside"
echo n2 > "$SRC/keep/normal2"
wait_for "normal file synced" cmp -s "$SRC/keep/normal2" "$DST/keep/normal2"
resync_whole_tree
absent cache/moveme moveme cache/top
[ -d "$DST/from-cache/d" ] || fail "the directory moved out of cache/ is missing at the destination"
if [ "$MONITOR" != fanotify ]; then
    n=$(watched_dirs)
    [ "$n" -eq "$(dirs_outside_cache)" ] ||
        fail "after the moves, $n directories watched, expected $(dirs_outside_cache)"
fi
# The moved-out directory is watched under its new name.
echo watched > "$SRC/from-cache/d/watched"
wait_for "change in the moved-out directory synced" cmp -s "$SRC/from-cache/d/watched" "$DST/from-cache/d/watched"

# SIGHUP with cache/ no longer excluded: cache/ gets synced, *.tmp still does not.
write_rules '-f\.tmp$' '+*'
kill -HUP "$DAEMON_PID"
wait_for "cache/ synced after SIGHUP" cmp -s "$SRC/cache/a/b/new" "$DST/cache/a/b/new"
wait_for "cache/ synced after SIGHUP" cmp -s "$SRC/cache/moveme/inner/later" "$DST/cache/moveme/inner/later"
synced cache/top cache/new cache/a/b/deep
echo live > "$SRC/cache/e/live"
wait_for "cache/ watched after SIGHUP" cmp -s "$SRC/cache/e/live" "$DST/cache/e/live"
absent x.tmp new.tmp keep/sub/new.tmp

# A broken rules file on SIGHUP: logged with FILE:LINE, the rules in force are kept
# (had the first line been applied, '+*' would let the .tmp files through).
write_rules '+*' 'xbad'
kill -HUP "$DAEMON_PID"
wait_for "broken rules file reported" grep -qF "$RULES:2:" "$LOG"
kill -0 "$DAEMON_PID" 2>/dev/null || fail "a broken rules file on SIGHUP stopped the daemon"
echo t > "$SRC/after-bad.tmp"
echo n3 > "$SRC/keep/normal3"
wait_for "normal file synced after the broken reload" cmp -s "$SRC/keep/normal3" "$DST/keep/normal3"
resync_whole_tree
absent after-bad.tmp x.tmp new.tmp keep/sub/new.tmp
stop_daemon

# Paths the rules exclude that exist only at the destination are not deleted either.
mkdir -p "$DST/only-here/cache" && echo old > "$DST/only-here/cache/kept" && echo old > "$DST/only-here/stale.tmp"
mkdir -p "$SRC/only-here"
write_rules '-d(^|/)cache$' '-f\.tmp$' '+*'
# shellcheck disable=SC2086
"$CLSYNC" $MODE_OPTIONS -W "$SRC" -D "$DST" -R "$RULES" --only-initialsync >"$LOG" 2>&1 || fail "--only-initialsync with rules failed"
[ -e "$DST/only-here/cache/kept" ] && [ -e "$DST/only-here/stale.tmp" ] ||
    fail "excluded paths that only the destination has were deleted"
# Renaming an excluded directory itself to an included name: the old name is gone,
# so its type comes from the new one; the destination's stale copy of the excluded
# directory must not be renamed into place (it is a copy, not a rename).
write_rules '-d^cache$' '+*'
rm -rf "$SRC"/* "$DST"/* && mkdir -p "$SRC/cache/sub" "$DST/cache/stale" && echo new > "$SRC/cache/sub/f"
echo old > "$DST/cache/stale/g"
start_daemon -R "$RULES"
mv "$SRC/cache" "$SRC/uncached"
wait_for "renamed excluded directory synced" test -e "$DST/uncached/sub/f"
[ ! -e "$DST/uncached/stale" ] || fail "the excluded directory's stale destination copy was renamed into place"
wait_for "renamed excluded directory equal" python3 "$TESTS_DIR/treecmp.py" "$SRC/uncached" "$DST/uncached" --quiet
[ -e "$DST/cache/stale/g" ] || fail "the destination's copy of the excluded directory was touched"
stop_daemon
echo "rules: ok"
