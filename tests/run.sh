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
        local tier
        for tier in "${!bg_pid[@]}"; do kill -TERM -- -"${bg_pid[$tier]}" 2>/dev/null; done
}

# Two tiers that need no daemon run beside the ones before them, whose programs mostly wait on
# one core, so that both cores work: make lint (clang-format, clang-tidy, cppcheck) beside the
# unit tier, the fuzz smoke runs beside the ASan tier. Their output is printed and counted
# where their own tier comes. Each runs in a session of its own, so that an interrupt stops
# its compilers too.
declare -A bg_pid=() bg_log=() bg_t0=() ran=()
bg_start() {
        local tier=$1 target=$2
        bg_log[$tier]=$(mktemp)
        bg_t0[$tier]=$SECONDS
        setsid make --no-print-directory -C "$top" "$target" >"${bg_log[$tier]}" 2>&1 &
        bg_pid[$tier]=$!
}
bg_finish() {
        local tier=$1 rc
        echo "# --- $tier (ran beside the tier before it)"
        wait "${bg_pid[$tier]}"; rc=$?
        unset "bg_pid[$tier]"
        cat "${bg_log[$tier]}"
        tally "$tier" "${bg_log[$tier]}" "$rc" "${bg_t0[$tier]}"
}
bg_stop_all() {
        local tier
        for tier in "${!bg_pid[@]}"; do
                kill -TERM -- -"${bg_pid[$tier]}" 2>/dev/null
                wait "${bg_pid[$tier]}" 2>/dev/null
                rm -f "${bg_log[$tier]}"
        done
}
# Starts tier NAME (make target TARGET) in the background when the run has it and it has not
# run yet.
bg_maybe() {
        local tier=$1 target=$2; shift 2
        if [[ " $* " == *" $tier "* ]] && [ -z "${ran[$tier]:-}" ]; then
                bg_start "$tier" "$target"
                ran[$tier]=1
        fi
}
trap 'on_signal' INT TERM

# Runs one test program in the background (so that a signal reaches us at once) and counts
# its TAP lines.
run_one() {
        local name=$1; shift
        local log rc t0=$SECONDS
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
        tally "$name" "$log" "$rc" "$t0"
}

# Counts the TAP lines of a finished test program's log, which it removes: NAME LOG RC T0.
tally() {
        local name=$1 log=$2 rc=$3 t0=$4 line n_ok=0 n_fail=0 n_skip=0
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
        unit)
                bg_maybe lint lint "$@"
                tier_unit
                ;;
        lint | fuzz)
                if [ -n "${bg_pid[$tier]:-}" ]; then
                        bg_finish "$tier"
                elif [ -z "${ran[$tier]:-}" ]; then
                        if [ "$tier" = lint ]; then tier_make lint; else tier_make fuzz-smoke; fi
                fi
                ran[$tier]=1
                ;;
        asan)
                bg_maybe fuzz fuzz-smoke "$@"
                tier_make check-asan
                ;;
        e2e) tier_e2e ;;
        *) echo "run.sh: unknown tier '$tier'" >&2; exit 2 ;;
        esac
done

harness_image_build_stop # what an interrupted run started and left
bg_stop_all # tiers an interrupted run started beside others
echo "# tiers: ${*:-unit}; $(( $(date +%s) - start )) s"
[ ${#failures[@]} -gt 0 ] && echo "# failed: ${failures[*]}"
[ "$interrupted" = 1 ] && echo "# interrupted"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$interrupted" = 1 ] && exit 130
[ "$failed" = 0 ]
