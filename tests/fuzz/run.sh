#!/bin/bash
# Runs each libFuzzer harness of tests/fuzz for SECONDS under ASan and UBSan and prints one TAP
# line per harness (`ok N - fuzz/NAME`), with its runs, coverage and corpus as comments.
#   usage: tests/fuzz/run.sh SECONDS        (make fuzz, make fuzz-smoke)
# The harnesses are in FUZZ_BIN_DIR (build/fuzz-clang/fuzz). Each starts from three corpora:
#   FUZZ_BIN_DIR/corpus/NAME     what earlier runs found, kept between runs (new finds go here)
#   tests/fuzz/corpus/NAME       the checked-in seeds and regression cases
#   FUZZ_BIN_DIR/disks/NAME      disks that make-disks.sh makes (the detect harnesses)
# so every checked-in input is run again first. A crash, leak, timeout or failed check fails
# the harness and leaves the input in FUZZ_BIN_DIR/crashes/NAME/ (see tests/fuzz/README.md).
# KILN_TEST_ONLY=WORD runs only the harnesses whose name contains WORD.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:?usage: run.sh SECONDS}
bin_dir=${FUZZ_BIN_DIR:-$top/build/fuzz-clang/fuzz}
only=${KILN_TEST_ONLY:-}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

disks=$bin_dir/disks
disks_log=$(mktemp)
"$top/tests/fuzz/make-disks.sh" "$disks" >"$disks_log" 2>&1
disks_rc=$?
disks_why=$(tail -n 1 "$disks_log")
rm -f "$disks_log"

n=0 failed=0
for bin in "$bin_dir"/*; do
        [ -f "$bin" ] && [ -x "$bin" ] || continue
        name=$(basename "$bin")
        [ -f "$top/tests/fuzz/fuzz-$name.c" ] || continue # a harness since removed
        [ -z "$only" ] || [[ $name == *"$only"* ]] || continue
        n=$((n + 1))
        if [ "$name" = detect-patch ] && [ "$disks_rc" != 0 ]; then
                echo "ok $n - fuzz/$name # SKIP no base disk: $disks_why"
                continue
        fi
        work=$bin_dir/corpus/$name
        crashes=$bin_dir/crashes/$name
        mkdir -p "$work" "$crashes"
        corpora=("$work")
        for c in "$top/tests/fuzz/corpus/$name" "$disks/$name"; do
                [ -d "$c" ] && corpora+=("$c")
        done
        opts=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
                -artifact_prefix="$crashes/")
        [ -f "$top/tests/fuzz/$name.dict" ] && opts+=(-dict="$top/tests/fuzz/$name.dict")
        [ "$name" = seed ] && opts+=(-max_len=17000) # user data goes up to 16384 bytes
        log=$(mktemp)
        "$bin" "${opts[@]}" "${corpora[@]}" >"$log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
        if [ "$rc" = 0 ]; then
                echo "ok $n - fuzz/$name"
                echo "#   ${runs:-?} runs in $secs s; ${done_line#*DONE }"
        else
                failed=$((failed + 1))
                echo "not ok $n - fuzz/$name (exit status $rc)"
                grep -v '^#[0-9]' "$log" | tail -n 40 | sed 's/^/#   /'
                echo "#   input kept in $crashes/"
        fi
        rm -f "$log"
done
echo "1..$n"
[ "$failed" = 0 ]
