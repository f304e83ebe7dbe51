#!/bin/bash
# The example handlers (examples/handlers) in modes rsyncshell, shell, direct and simple
# mirror a tree: the initial sync, then creates, a new directory made with files inside
# at once, a change, a deletion, renames and a symlink. Handlers run in the watch dir, with
# CLSYNC_STATUS initsync on the first call and running later. -L -U keeps the list
# files; without -U none is left; a lists dir others can enter is refused (exit 77).
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

HANDLERS=$(cd "$TESTS_DIR/../../examples/handlers" && pwd)

# run_mode MODE [extra options...]: the whole scenario with MODE's example handler.
run_mode() {
    local mode=$1; shift
    SRC=$WORK/$mode/src DST=$WORK/$mode/dst LOG=$WORK/$mode/clsync.log
    local calls=$WORK/$mode/calls
    mkdir -p "$SRC/a/b" "$SRC/with space" "$DST"
    echo one > "$SRC/a/f1"
    echo two > "$SRC/a/b/f2"
    echo top > "$SRC/top"
    echo spaced > "$SRC/with space/file x"
    # The wrapper logs where and in which state it was called, then runs the example.
    cat > "$WORK/$mode/handler" <<SH
#!/bin/sh
echo "\$PWD \$CLSYNC_STATUS" >> "$calls"
exec "$HANDLERS/$mode.sh" "\$@"
SH
    chmod +x "$WORK/$mode/handler"
    export CLSYNC_DEST=$DST
    start_daemon -M "$mode" -S "$WORK/$mode/handler" "$@"
    wait_converged "$mode: initial sync"

    echo new > "$SRC/created"
    echo new > "$SRC/a/b/new"
    mkdir -p "$SRC/d/e" && echo x > "$SRC/d/e/f"
    echo more >> "$SRC/a/f1"
    rm "$SRC/a/b/f2"
    mv "$SRC/top" "$SRC/renamed"
    mv "$SRC/with space/file x" "$SRC/with space/file y"
    ln -s a/f1 "$SRC/link"
    wait_converged "$mode: after changes"
    stop_daemon

    local real_src first
    real_src=$(cd "$SRC" && pwd -P)
    first=$(head -n 1 "$calls")
    [ "$first" = "$real_src initsync" ] || fail "$mode: first handler call was '$first', expected '$real_src initsync'"
    grep -qx "$real_src running" "$calls" || fail "$mode: no handler call with CLSYNC_STATUS=running: $(cat "$calls")"
    grep -vqx "$real_src \(initsync\|running\)" "$calls" && fail "$mode: unexpected handler calls: $(cat "$calls")"
    sed -n '/ running$/,$p' "$calls" | grep -q ' initsync$' && fail "$mode: initsync after running: $(cat "$calls")"
    unset CLSYNC_DEST
    return 0
}

run_mode rsyncshell -L "$WORK/lists-kept" -U
ls "$WORK/lists-kept"/*.list >/dev/null 2>&1 || fail "-U: no list file kept in $WORK/lists-kept"
# They name paths of the tree: the lists dir clsync made and each list are private.
[ "$(stat -c %a "$WORK/lists-kept")" = 700 ] || fail "lists dir made with mode $(stat -c %a "$WORK/lists-kept")"
for list in "$WORK/lists-kept"/*.list; do
    [ "$(stat -c %a "$list")" = 600 ] || fail "list file $list has mode $(stat -c %a "$list")"
done
mkdir -m 700 "$WORK/lists-unlinked"
run_mode shell -L "$WORK/lists-unlinked"
! ls "$WORK/lists-unlinked"/*.list >/dev/null 2>&1 || fail "without -U list files were left: $(ls "$WORK/lists-unlinked")"
run_mode direct
run_mode simple

# A lists dir that group or others can enter is refused before anything runs.
mkdir -m 755 "$WORK/lists-open"
SRC=$WORK/shell/src DST=$WORK/open-dst LOG=$WORK/open.log
mkdir "$DST"
rc=0
CLSYNC_DEST=$DST timeout 60 "$CLSYNC" -W "$SRC" -D "$DST" -M shell -S "$HANDLERS/shell.sh" -L "$WORK/lists-open" \
    >"$LOG" 2>&1 || rc=$?
[ "$rc" -eq 77 ] || fail "lists dir with mode 0755: exit $rc, expected 77"
grep -q "lists-open" "$LOG" || fail "the refusal does not name the lists dir"
[ -z "$(ls -A "$DST")" ] || fail "a refused start wrote to the destination"
echo "handler_modes: ok"
