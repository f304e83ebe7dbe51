#!/bin/sh
# The man page and --help list the same options: every option printed by
# "clsync --help" has an ".It Fl ..." entry in the OPTIONS section of clsync.1,
# with the same short letter, and every option documented there exists in --help.
# $CLSYNC (the binary) and $MAN_DIR (the man dir) come from the test harness.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
CLSYNC=${CLSYNC:-$here/../../clsync}
MAN_DIR=${MAN_DIR:-$here/../../man}
page=$MAN_DIR/clsync.1

if [ ! -x "$CLSYNC" ]; then
    echo "man_matches_help: no clsync binary at $CLSYNC" >&2
    exit 99
fi
if [ ! -r "$page" ]; then
    echo "man_matches_help: no man page at $page" >&2
    exit 99
fi
if ! help=$("$CLSYNC" --help 2>&1); then
    echo "man_matches_help: '$CLSYNC --help' failed: $help" >&2
    exit 99
fi

# "LONG SHORT" per option; SHORT is "-" for a long-only option.
# --help lines look like "  -W, --watch-dir DIR   ..." or "      --max-iterations N  ...".
help_opts=$(printf '%s\n' "$help" |
    sed -n -E 's/^ +(-([A-Za-z0-9]), +)?--([a-z][a-z0-9-]*).*/\3 \2/p' |
    awk '{ print $1, ($2 == "" ? "-" : $2) }')

# The man page: ".It Fl W , Fl -watch-dir Ar dir" or ".It Fl -max-iterations Ar n"
# lines of the OPTIONS section (nested lists use other macros, so only option
# entries start with ".It Fl").
man_opts=$(awk '
    /^\.Sh[ \t]/ { in_options = ($0 ~ /^\.Sh[ \t]+OPTIONS[ \t]*$/); next }
    in_options && /^\.It[ \t]+Fl[ \t]/ {
        long = ""; short = "-"
        for (i = 2; i < NF; i++) {
            if ($i != "Fl") continue
            word = $(i + 1)
            gsub(/\\/, "", word)        # "\-watch\-dir" is "-watch-dir"
            if (word ~ /^-[a-z]/) long = long " " substr(word, 2)
            else if (word ~ /^[A-Za-z0-9]$/) short = word
        }
        if (long == "") print "(none)", short
        else { n = split(long, names, " "); for (j = 1; j <= n; j++) print names[j], short }
    }' "$page")

if [ -z "$help_opts" ]; then
    echo "man_matches_help: found no options in '$CLSYNC --help'" >&2
    exit 99
fi
if [ -z "$man_opts" ]; then
    echo "man_matches_help: found no '.It Fl' entries in the OPTIONS section of $page" >&2
    exit 1
fi

mismatches=0

# The SHORT recorded for LONG in a "LONG SHORT" list, or nothing.
short_of() { printf '%s\n' "$2" | awk -v name="$1" '$1 == name { print $2; exit }'; }

while read -r name short; do
    man_short=$(short_of "$name" "$man_opts")
    if [ -z "$man_short" ]; then
        echo "--$name is in --help but not in the OPTIONS section of $page"
        mismatches=$((mismatches + 1))
    elif [ "$man_short" != "$short" ]; then
        echo "--$name: short option '$short' in --help but '$man_short' in $page"
        mismatches=$((mismatches + 1))
    fi
done <<EOF
$help_opts
EOF

while read -r name short; do
    if [ "$name" = "(none)" ]; then
        if ! printf '%s\n' "$help_opts" | awk -v s="$short" '$2 == s { found = 1 } END { exit !found }'; then
            echo "-$short is in the OPTIONS section of $page but not in --help"
            mismatches=$((mismatches + 1))
        fi
    elif [ -z "$(short_of "$name" "$help_opts")" ]; then
        echo "--$name is in the OPTIONS section of $page but not in --help"
        mismatches=$((mismatches + 1))
    fi
done <<EOF
$man_opts
EOF

if [ "$mismatches" -ne 0 ]; then
    echo "man_matches_help: $mismatches mismatch(es) between --help and $page"
    exit 1
fi
echo "man_matches_help: ok ($(printf '%s\n' "$help_opts" | wc -l | tr -d ' ') options)"
