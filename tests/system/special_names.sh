#!/bin/bash
# Every legal file name works: newline, leading dash, wildcards, backslash, spaces,
# invalid UTF-8, names that look like rsync filter rules or comments.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

start_daemon
names=("new
line" "-rf" "--delete" "sp ace " " lead" "st*r" "q?m" "[br]ackets" 'back\slash' 'w\*ld[' "+ plus" "- minus"
       "#hash" ";semi" "!" "***" "$(printf 'bad\377\376utf8')" "tab	tab")
for n in "${names[@]}"; do
    echo "$n" > "$SRC/$n"
    mkdir -p "$SRC/dir $n"
    echo inner > "$SRC/dir $n/$n"
done
wait_converged "special names created"

for n in "${names[@]}"; do echo changed >> "$SRC/$n"; done
rm -rf "$SRC/dir [br]ackets" "$SRC/dir st*r" 'back\slash'
rm -f "$SRC/$(printf 'bad\377\376utf8')" "$SRC/--delete" "$SRC/***"
wait_converged "special names changed and deleted"
stop_daemon
echo "special_names: ok"
