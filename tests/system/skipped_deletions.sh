#!/bin/bash
# When the source changes while rsync lists it, rsync exits 23 and skips every
# deletion of that run. Such a run must be synced again, not counted as done.
# A wrapper makes the first event batch behave that way.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"
skip_in_librsync "skipped_deletions: rsync's exit 23 (deletions skipped); -M librsync runs no rsync"

cat > "$WORK/racy-rsync" <<SH
#!/bin/bash
case " \$* " in
*" --include-from=- "*)
    if [ ! -e "$WORK/raced" ]; then
        touch "$WORK/raced"
        args=()
        for a in "\$@"; do [ "\$a" = --delete ] || args+=("\$a"); done
        rsync "\${args[@]}" || exit
        echo 'rsync: [sender] opendir "$SRC/flip" failed: Not a directory (20)' >&2
        # Like rsync: an informational message, on stdout unless --stderr=all.
        case " \$* " in
        *" --stderr=all "*) echo 'IO error encountered -- skipping file deletion' >&2 ;;
        *) echo 'IO error encountered -- skipping file deletion' ;;
        esac
        exit 23
    fi ;;
esac
exec rsync "\$@"
SH
chmod +x "$WORK/racy-rsync"

echo doomed > "$SRC/doomed"
"$CLSYNC" -W "$SRC" -D "$DST" --monitor="$MONITOR" -S "$WORK/racy-rsync" -t 0.2 -d >"$LOG" 2>&1 &
DAEMON_PID=$!
wait_for "initial sync" grep -q "synced the whole tree" "$LOG"
wait_converged "initial"

rm "$SRC/doomed"
echo new > "$SRC/new"
wait_for "the racy run happened" test -e "$WORK/raced"
wait_converged "deletion after a run that skipped deletions"
grep -q "deletions were skipped" "$LOG" || fail "the skipped deletions were not reported"
stop_daemon
echo "skipped_deletions: ok"
