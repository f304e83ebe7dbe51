#!/bin/sh
# Builds the libFuzzer targets (clang, with ASan and UBSan) and runs each for SECONDS
# (default 30) from its seed corpus in tests/fuzz/corpus/TARGET (read only: what the
# run finds goes to a scratch corpus). A crash, leak, timeout or failed check fails the
# run; its input is kept in fuzz-build/ (replay: fuzz-build/TARGET FILE).
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (make fuzz: 300 s each)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
seconds=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz_cluster_packet fuzz_config_file fuzz_rules fuzz_command_line fuzz_file_list fuzz_state_store"}
build=fuzz-build
mkdir -p "$build/core"
flags="-std=c++17 -g -O1 -fno-omit-frame-pointer -Isrc $(pkg-config --cflags glib-2.0 inih libxxhash sqlite3)"
libs="$(pkg-config --libs glib-2.0 inih libxxhash sqlite3) -lrsync"
# The core library once, instrumented for the fuzzer (not linked with its main).
objects=
for source in src/batcher.cpp src/block_diff.cpp src/cluster_packet.cpp src/config_file.cpp \
              src/content_signature.cpp src/delay_queue.cpp src/expected_changes.cpp src/file_list.cpp \
              src/own_writes.cpp src/dir_handle_cache.cpp src/log.cpp src/mount_table.cpp src/options.cpp \
              src/remote_rename.cpp src/rsync_errors.cpp src/rules.cpp src/state_store.cpp \
              src/status_report.cpp src/substitute.cpp src/sync_runner.cpp; do
    object=$build/core/$(basename "$source" .cpp).o
    if [ ! -f "$object" ] || [ "$source" -nt "$object" ]; then
        # shellcheck disable=SC2086
        clang++ $flags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -c "$source" -o "$object"
    fi
    objects="$objects $object"
done
status=0
for target in $targets; do
    # shellcheck disable=SC2086
    clang++ $flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        "tests/fuzz/$target.cpp" $objects $libs -o "$build/$target"
    scratch=$(mktemp -d)
    mkdir -p "tests/fuzz/corpus/$target"
    if "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/$target-" "$scratch" "tests/fuzz/corpus/$target" >"$build/$target.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$target.log")
        echo "fuzz: $target: ${runs:-?} inputs in $seconds s, clean"
    else
        echo "fuzz: $target FAILED (log: $build/$target.log)"
        tail -n 40 "$build/$target.log"
        status=1
    fi
    rm -rf "$scratch"
done
exit "$status"
