#!/bin/bash
# Runs test tiers and totals their TAP results: `tests/run.sh unit lint asan fuzz e2e`.
#   unit  tests/unit/test-*.c (built into $KILN_TEST_BIN) and tests/unit/test-*.sh
#   lint  make lint: one check, passed when it finds nothing
#   asan  make check-asan: the unit tier under ASan and UBSan
#   fuzz  make fuzz-smoke: each libFuzzer harness of tests/fuzz on its corpus, then 5 s
#   e2e   tests/e2e/test-*.sh on real guests; starts libvirtd if nothing answers (and stops
#         it again), builds or reuses the guest image
# A test program prints TAP; exit 77 skips it. With KILN_E2E_REQUIRED=1 (the README's test
# command) the e2e tier never skips: a missing daemon or image fails. The last line is
# "N passed, N failed, N skipped". Ctrl-C or SIGTERM stops the running test, which tears down
# what it made, and then the daemons the run started.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
export KILN_TOP=$top
export KILN_BIN=${KILN_BIN:-$top/build/release/kiln}
export KILN_TEST_BIN=${KILN_TEST_BIN:-$top/build/release/tests}
wrapper=${KILN_TEST_WRAPPER:-}
only=${KILN_TEST_ONLY:-}

passed=0 failed=0 skipped=0
failures=()
child=
interrupted=0

on_signal() {
        interrupted=1
        [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap 'on_signal' INT TERM

# Runs one test program in the background (so that a signal reaches us at once) and counts
# its TAP lines.
run_one() {
        local name=$1; shift
        local log rc line n_ok=0 n_fail=0 n_skip=0 t0=$SECONDS
        log=$(mktemp)
        echo "# --- $name"
        "$@" >"$log" 2>&1 &
        child=$!
        tail -s 0.1 -n +1 -f --pid="$child" "$log" 2>/dev/null &
        local tailer=$!
        wait "$child"; rc=$?
        while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
        child=
        wait "$tailer" 2>/dev/null
        while IFS= read -r line; do
                case "$line" in
                "not ok"*"# TODO"*) ;;
                "not ok"*) n_fail=$((n_fail + 1)) ;;
                "ok"*"# SKIP"* | "ok"*"# skip"*) n_skip=$((n_skip + 1)) ;;
                "ok"*) n_ok=$((n_ok + 1)) ;;
                esac
        done <"$log"
        rm -f "$log"
        if [ "$rc" = 77 ]; then
                n_skip=$((n_skip + 1))
        elif [ "$rc" != 0 ] && [ "$n_fail" = 0 ]; then
                echo "not ok - $name exited with status $rc"
                n_fail=1
        elif [ "$rc" = 0 ] && [ $((n_ok + n_fail + n_skip)) = 0 ]; then
                echo "ok - $name" # a check that prints no TAP (lint) counts once
                n_ok=1
        fi
        passed=$((passed + n_ok)) failed=$((failed + n_fail)) skipped=$((skipped + n_skip))
        [ "$n_fail" -gt 0 ] && failures+=("$name")
        echo "# --- $name: $((SECONDS - t0)) s, $n_ok passed, $n_fail failed, $n_skip skipped"
}

# What the e2e tier must leave as it found it on the daemon: pools and domains, by name.
libvirt_inventory() {
        {
                virsh -q -c "$HARNESS_URI" pool-list --all --name
                virsh -q -c "$HARNESS_URI" list --all --name
        } 2>/dev/null | sed '/^$/d' | sort
}

# One TAP line for the tier: its tests took down what they made.
check_inventory() {
        local before=$1 after
        after=$(libvirt_inventory)
        if [ "$before" = "$after" ]; then
                echo "ok - the e2e tier leaves libvirt's pools and domains as it found them"
                passed=$((passed + 1))
        else
                echo "not ok - the e2e tier leaves libvirt's pools and domains as it found them"
                diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed 's/^/#   /'
                failed=$((failed + 1)); failures+=("e2e-inventory")
        fi
}

selected() {
        [ -z "$only" ] || [[ $1 == *"$only"* ]]
}

tier_unit() {
        local t
        for t in "$KILN_TEST_BIN"/test-*; do
                [ -x "$t" ] || continue
                [[ $t == *.d ]] && continue
                selected "$t" || continue
                run_one "unit/$(basename "$t")" $wrapper "$t"
                [ "$interrupted" = 1 ] && return
        done
        for t in "$top"/tests/unit/test-*.sh; do
                [ -x "$t" ] || continue
                selected "$t" || continue
                run_one "unit/$(basename "$t")" "$t"
                [ "$interrupted" = 1 ] && return
        done
}

tier_e2e() {
        local t why
        local log
        log=$(mktemp)
        if ! harness_e2e_prepare >"$log" 2>&1; then
                why=$(cat "$log"); rm -f "$log"
                echo "$why"
                if [ "${KILN_E2E_REQUIRED:-0}" = 1 ]; then
                        echo "not ok - e2e tier cannot run: $(echo "$why" | tail -n 1)"
                        failed=$((failed + 1)); failures+=("e2e-setup")
                else
                        echo "ok - e2e tier # SKIP $(echo "$why" | tail -n 1)"
                        skipped=$((skipped + 1))
                fi
                harness_image_cold_done
                harness_libvirt_down
                return
        fi
        cat "$log"; rm -f "$log"
        export KILN_TEST_IMAGE KILN_TEST_IMAGE_UEFI KILN_ACCEL
        local inventory
        inventory=$(libvirt_inventory)
        for t in "$top"/tests/e2e/test-*.sh; do
                [ -x "$t" ] || continue
                selected "$t" || continue
                run_one "e2e/$(basename "$t")" "$t"
                [ "$interrupted" = 1 ] && break
        done
        [ "$interrupted" = 1 ] || check_inventory "$inventory"
        harness_image_cold_done
        harness_libvirt_down
}

# make lint, the unit tier again under ASan and UBSan (its TAP lines count as checks of their
# own: the same tests, another build), and the fuzz harnesses (one TAP line each).
tier_make() {
        local target=$1
        run_one "$target" make --no-print-directory -C "$top" "$target"
}

# The e2e tier's image is built (or found in the cache) in the background from the start, when
# other tiers come before e2e: they then run beside a cold build.
# shellcheck source=harness/libvirt.sh
. "$top/tests/harness/libvirt.sh"
if [[ " $* " == *" e2e "* ]] && [ "${1:-}" != e2e ] && [ -z "${KILN_TEST_IMAGE:-}" ] &&
        [ "$(id -u)" = 0 ] && [ -z "$only" ]; then
        harness_image_build_start
fi

start=$(date +%s)
for tier in "${@:-unit}"; do
        [ "$interrupted" = 1 ] && break
        case "$tier" in
        unit) tier_unit ;;
        lint) tier_make lint ;;
        asan) tier_make check-asan ;;
        fuzz) tier_make fuzz-smoke ;;
        e2e) tier_e2e ;;
        *) echo "run.sh: unknown tier '$tier'" >&2; exit 2 ;;
        esac
done

harness_image_build_stop # what an interrupted run started and left
echo "# tiers: ${*:-unit}; $(( $(date +%s) - start )) s"
[ ${#failures[@]} -gt 0 ] && echo "# failed: ${failures[*]}"
[ "$interrupted" = 1 ] && echo "# interrupted"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$interrupted" = 1 ] && exit 130
[ "$failed" = 0 ]
