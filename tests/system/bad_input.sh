#!/bin/bash
# Bad input gets a one-line error naming the problem and the documented exit code.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

# expect CODE PATTERN ARGS...: clsync ARGS exits with CODE and says PATTERN.
expect() {
    local code=$1 pattern=$2; shift 2
    local rc=0
    "$CLSYNC" "$@" >"$WORK/out" 2>&1 || rc=$?
    [ "$rc" -eq "$code" ] || fail "clsync $* exited $rc, expected $code: $(cat "$WORK/out")"
    grep -q -- "$pattern" "$WORK/out" || fail "clsync $* did not say '$pattern': $(cat "$WORK/out")"
}

touch "$WORK/file"
expect 66 "watch dir '$WORK/missing'" -W "$WORK/missing" -D "$DST"
expect 66 "is not a directory" -W "$WORK/file" -D "$DST"
expect 64 "inside the watch dir" -W "$SRC" -D "$SRC/sub"
expect 64 "inside the watch dir" -W "$SRC" -D "$SRC"
expect 64 "inside the watch dir" -W "$SRC/" -D "$SRC/./"
expect 64 "contains the watch dir" -W "$SRC" -D "$WORK"
expect 64 "contains the watch dir" -W "$SRC" -D /
ln -s "$SRC" "$WORK/srclink"
expect 64 "inside the watch dir" -W "$SRC" -D "$WORK/srclink/x/y"
expect 64 "unknown option '--frobnicate'" -W "$SRC" -D "$DST" --frobnicate
expect 64 "option --delay-collect: invalid value 'abc'" -W "$SRC" -D "$DST" -t abc
expect 64 "option --threshold-bigfile" -W "$SRC" -D "$DST" -B 1X
expect 64 "needs a value" -W "$SRC" -D "$DST" -t
expect 64 "--watch-dir (-W) is required" -D "$DST"
expect 64 "--destination-dir (-D) is required" -W "$SRC"
expect 69 "rsync binary '/nonexistent/rsync' not found" -W "$SRC" -D "$DST" -S /nonexistent/rsync
printf '#!/bin/sh\necho "rsync  version 3.1.3  protocol version 31"\n' > "$WORK/old-rsync"
chmod +x "$WORK/old-rsync"
expect 69 "is rsync 3.1.3; clsync needs rsync 3.2.4 or later" -W "$SRC" -D "$DST" -S "$WORK/old-rsync"
expect 0 "Usage:" --help
expect 0 "clsync [0-9]" -V
[ -z "$(ls -A "$DST")" ] || fail "a refused start wrote to the destination"
echo "bad_input: ok"
