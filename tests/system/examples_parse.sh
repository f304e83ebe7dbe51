#!/bin/bash
# The bundled config and rules examples are valid: every block of examples/clsync.conf
# and examples/lxc/clsync-lxc.conf parses (clsync gets as far as the missing watch dir: exit 66, not 64 or 78), and each
# rules file drives a real initial sync.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

EXAMPLES=$TESTS_DIR/../../examples
for conf in clsync.conf lxc/clsync-lxc.conf; do
    for block in $(sed -n 's/^\[\(.*\)\]$/\1/p' "$EXAMPLES/$conf"); do
        code=0
        "$CLSYNC" -H "$EXAMPLES/$conf" -K "$block" -b0 -Y stderr -W "$WORK/no-such-dir" -D "$WORK/d" >"$LOG" 2>&1 || code=$?
        [ "$code" = 66 ] || fail "block [$block] of examples/$conf: exit $code, expected 66: $(cat "$LOG")"
    done
done

mkdir -p "$SRC/ssh" "$SRC/var/cache" "$SRC/proc"
echo root > "$SRC/passwd"; echo cfg > "$SRC/ssh/sshd_config"; echo k > "$SRC/ssh/moduli"
echo c > "$SRC/var/cache/x"; echo p > "$SRC/proc/y"; echo s > "$SRC/a.swp"; echo keep > "$SRC/keep"
"$CLSYNC" -W "$SRC" -D "$DST" -R "$EXAMPLES/rules/lxc" --only-initialsync >"$LOG" 2>&1 || fail "rules/lxc: $(cat "$LOG")"
[ -e "$DST/keep" ] && [ -e "$DST/ssh/moduli" ] || fail "rules/lxc left out an included file"
[ ! -e "$DST/var/cache" ] && [ ! -e "$DST/proc" ] && [ ! -e "$DST/a.swp" ] || fail "rules/lxc synced an excluded path"

rm -rf "$DST"; mkdir -p "$DST"
"$CLSYNC" -W "$SRC" -D "$DST" -R "$EXAMPLES/rules/etc-passwd-ssh" --only-initialsync >"$LOG" 2>&1 ||
    fail "rules/etc-passwd-ssh: $(cat "$LOG")"
[ -e "$DST/passwd" ] && [ -e "$DST/ssh/sshd_config" ] || fail "rules/etc-passwd-ssh left out a listed file"
[ ! -e "$DST/keep" ] && [ ! -e "$DST/ssh/moduli" ] && [ ! -e "$DST/var" ] || fail "rules/etc-passwd-ssh synced more"
echo "examples_parse: ok"
