#!/bin/bash
# A directory renamed over an existing empty directory, and a directory replaced
# under the same name: the watches follow, and later changes inside still arrive.
. "${TESTS_DIR:-$(dirname "$0")}/lib.sh"

mkdir -p "$SRC/full/sub" "$SRC/empty" "$SRC/same"
echo 1 > "$SRC/full/sub/f"
start_daemon
wait_converged "initial"

mv -T "$SRC/full" "$SRC/empty"          # rename(2) over the empty directory
wait_converged "rename over an empty directory"
echo 2 > "$SRC/empty/sub/g"
wait_converged "change inside the directory renamed over another"
mv "$SRC/empty" "$SRC/moved-again"
echo 3 > "$SRC/moved-again/h"
echo 3 > "$SRC/moved-again/sub/h"
wait_converged "change after a second rename"

rmdir "$SRC/same" && mkdir "$SRC/same"  # replaced by a new directory of the same name
echo 4 > "$SRC/same/x"
wait_converged "change in a replaced directory"
mkdir "$SRC/same/deeper" && echo 5 > "$SRC/same/deeper/y"
wait_converged "change below a replaced directory"
stop_daemon
echo "rename_over: ok"
