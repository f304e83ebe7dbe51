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
# Rules files: a mistake names FILE:LINE.
printf '%s\n' '-d^cache$' '+*' 'xbad' > "$WORK/bad.rules"
expect 78 "$WORK/bad.rules:3:" -W "$SRC" -D "$DST" -R "$WORK/bad.rules"
printf '%s\n' '-f(' > "$WORK/bad-regex.rules"
expect 78 "$WORK/bad-regex.rules:1: .*bad regex" -W "$SRC" -D "$DST" -R "$WORK/bad-regex.rules"
# Handler modes: a lists dir others can read, a missing or nonexistent handler,
# handler arguments in mode rsyncdirect.
mkdir -m 0755 "$WORK/lists"
expect 77 "lists dir '$WORK/lists' is accessible by group or others" -W "$SRC" -M rsyncshell -S /bin/true -L "$WORK/lists"
expect 64 "(-S) is required in mode shell" -W "$SRC" -M shell
expect 69 "sync handler '/nonexistent' not found" -W "$SRC" -M shell -S /nonexistent
expect 64 "not taken in mode rsyncdirect" -W "$SRC" -D "$DST" -- x
expect 64 "option '--splitting' of clsync 0.4 is not supported" -W "$SRC" -D "$DST" --splitting=process
# Configuration files: a block that is not there, an unknown key (FILE:LINE), a missing file.
printf '[mirror]\nwatch-dir = %s\ndestination-dir = %s\n' "$SRC" "$DST" > "$WORK/good.conf"
expect 78 "no block \[nosuchblock\]" -H "$WORK/good.conf" -K nosuchblock
printf '[default]\nwatch-dir = %s\nfrobnicate = 1\n' "$SRC" > "$WORK/unknown-key.conf"
expect 78 "$WORK/unknown-key.conf:3: unknown key 'frobnicate'" -H "$WORK/unknown-key.conf" -D "$DST"
expect 78 "$WORK/missing.conf" -W "$SRC" -D "$DST" -H "$WORK/missing.conf"
# Cluster: --cluster-peer names a -D, and another node than this one.
(umask 077; printf 'a shared secret of 32 bytes long' > "$WORK/cluster.key")
expect 64 "option --cluster-peer: '$WORK/other' (node n2) is not a destination" -W "$SRC" -D "$DST" \
    --cluster-key="$WORK/cluster.key" --cluster-peer="n2=$WORK/other"
expect 64 "option --cluster-peer: n1 is this node's own name" -W "$SRC" -D "$DST" \
    --cluster-key="$WORK/cluster.key" --cluster-node-name=n1 --cluster-peer="n1=$DST"
# fanotify cannot resolve directory handles once -u has dropped root's capabilities.
expect 64 "cannot be used with --uid" -W "$SRC" -D "$DST" --monitor=fanotify -u nobody
[ -z "$(ls -A "$DST")" ] || fail "a refused start wrote to the destination"
echo "bad_input: ok"
