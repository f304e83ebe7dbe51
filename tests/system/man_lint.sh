#!/bin/sh
# The man pages render without a warning: clsync.1 and clsync.conf.5 go through
# "mandoc -Tlint" (warnings and errors; its style hints are advice) and
# "groff -mandoc -ww -z", whichever is installed. Any message fails the test;
# with neither tool it is skipped (77). $MAN_DIR comes from the test harness.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
MAN_DIR=${MAN_DIR:-$here/../../man}
pages="$MAN_DIR/clsync.1 $MAN_DIR/clsync.conf.5"

for page in $pages; do
    if [ ! -r "$page" ]; then
        echo "man_lint: no man page at $page" >&2
        exit 99
    fi
done

have_mandoc=false
have_groff=false
command -v mandoc >/dev/null 2>&1 && have_mandoc=true
command -v groff >/dev/null 2>&1 && have_groff=true
if ! $have_mandoc && ! $have_groff; then
    echo "man_lint: neither mandoc nor groff is installed: skipped"
    exit 77
fi

problems=0

# report TOOL PAGE OUTPUT: counts and prints what a linter said about a page.
report() {
    if [ -n "$3" ]; then
        echo "man_lint: $1 on $2:"
        printf '%s\n' "$3"
        problems=$((problems + 1))
    fi
}

for page in $pages; do
    if $have_mandoc; then
        # -W warning: warnings and worse; mandoc exits non-zero on them too.
        out=$(mandoc -Tlint -W warning "$page" 2>&1) || [ -n "$out" ] || out="mandoc failed"
        report mandoc "$page" "$out"
    fi
    if $have_groff; then
        out=$(groff -mandoc -ww -z "$page" 2>&1) || [ -n "$out" ] || out="groff failed"
        report groff "$page" "$out"
    fi
done

if [ "$problems" -ne 0 ]; then
    echo "man_lint: $problems page(s) with warnings"
    exit 1
fi
tools=
if $have_mandoc; then tools="mandoc"; fi
if $have_groff; then tools="${tools:+$tools and }groff"; fi
echo "man_lint: ok (clsync.1 and clsync.conf.5, checked with $tools)"
