#!/bin/bash
# Interrupting the test command (SIGTERM to the runner, or Ctrl-C to its process group) while
# a guest boots leaves no domain, no QEMU process and no work directory behind.
set -u
. "$KILN_TOP/tests/harness/tap.sh"

uri=${KILN_TEST_URI:-qemu:///system}
domains() { virsh -q -c "$uri" list --all --name 2>/dev/null | grep '^kiln-e2e-boot-' | sort; }
workdirs() { ls -d /var/tmp/kiln-e2e.* 2>/dev/null | sort; }

interrupt_case() {
        local how=$1 before_dom before_dirs pid new='' rc log=$(mktemp)
        before_dom=$(domains)
        before_dirs=$(workdirs)
        # As from a terminal: its own process group, SIGINT not ignored (a background job of a
        # script would ignore it).
        KILN_TEST_ONLY=test-guest-boot setsid python3 -c \
                'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
                "$KILN_TOP/tests/run.sh" e2e >"$log" 2>&1 &
        pid=$!
        for _ in $(seq 1 120); do
                new=$(comm -13 <(echo "$before_dom") <(domains))
                [ -n "$new" ] && break
                sleep 0.5
        done
        tap_ok $([ -n "$new" ]; echo $?) "$how: a guest was booting ($new)"
        sleep 2
        if [ "$how" = SIGTERM ]; then
                kill -TERM "$pid"
        else
                kill -INT -- "-$pid"
        fi
        wait "$pid"
        rc=$?
        tap_is "$rc" "130" "$how: the runner reports the interruption"
        [ "$rc" = 130 ] || sed 's/^/#   /' "$log"
        rm -f "$log"
        tap_is "$(comm -13 <(echo "$before_dom") <(domains))" "" "$how: no domain left defined or running"
        tap_is "$(pgrep -f "guest=$new" 2>/dev/null)" "" "$how: no QEMU process left"
        tap_is "$(comm -13 <(echo "$before_dirs") <(workdirs))" "" "$how: no work directory or disk left"
}

interrupt_case SIGTERM
interrupt_case SIGINT
tap_done
