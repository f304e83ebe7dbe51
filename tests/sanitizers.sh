#!/bin/sh
# The tests again, against the sanitizer builds (Makefile.am, `make check-sanitizers`):
# the unit tests and the system tests given first with AddressSanitizer +
# UndefinedBehaviorSanitizer, those given second with ThreadSanitizer. A test that
# fails, or any sanitizer report (each written to a file of its own in
# sanitizer-reports/), fails the run. Two tests at a time.
# Usage: tests/sanitizers.sh "ASAN_TESTS..." "TSAN_TESTS..." (paths as in Makefile.am)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
reports=$top/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports/logs"
# detect_leaks: what a daemon leaks until its exit is reported too.
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="log_path=$reports/tsan:suppressions=$top/tests/tsan.supp"
export TESTS_DIR="$top/tests/system" MAN_DIR="$top/man"

# run_tests BUILD BINARY TEST...: each test's exit status and name to $reports/results-BUILD.
run_tests() {
    build=$1 binary=$2
    shift 2
    for test in "$@"; do echo "$test"; done |
        CLSYNC="$top/$binary" xargs -P 2 -I '{}' sh -c '
            name=$(basename "{}" .sh)
            "$TESTS_DIR/$name.sh" >"$0/logs/$1-$name.log" 2>&1
            echo "$? $name" >>"$0/results-$1"' "$reports" "$build"
}

started=$(date +%s)
status=0
if ! ./unit_tests-asan >"$reports/logs/asan-unit_tests.log" 2>&1; then
    echo "=== unit tests (AddressSanitizer + UndefinedBehaviorSanitizer) failed"
    tail -n 40 "$reports/logs/asan-unit_tests.log"
    status=1
fi
run_tests asan clsync-asan $1
run_tests tsan clsync-tsan $2

for build in asan tsan; do
    [ -f "$reports/results-$build" ] || continue
    while read -r rc name; do
        [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || {
            echo "=== $name under the $build build exited $rc"
            tail -n 40 "$reports/logs/$build-$name.log"
            status=1
        }
    done <"$reports/results-$build"
done
for report in "$reports"/asan.* "$reports"/ubsan.* "$reports"/tsan.*; do
    [ -f "$report" ] || continue
    echo "=== sanitizer report $report"
    head -n 60 "$report"
    status=1
done
ran=$(cat "$reports"/results-* 2>/dev/null | wc -l)
echo "sanitizers: unit tests and $ran system test runs in $(($(date +%s) - started)) s: $([ "$status" -eq 0 ] && echo clean || echo FAILED)"
exit "$status"
