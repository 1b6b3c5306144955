# Sourced by tests/run.sh (and the demo): makes a libvirt daemon answer on qemu:///system and
# chooses the accelerator and guest image for the e2e tier.
#   harness_libvirt_up    starts virtlogd and libvirtd if nothing answers; remembers their PIDs
#   harness_libvirt_down  stops exactly the daemons harness_libvirt_up started
#   harness_e2e_prepare   both of the above plus image and accelerator (KILN_TEST_IMAGE,
#                         KILN_ACCEL); prints why not and returns non-zero if it cannot

HARNESS_URI=${KILN_TEST_URI:-qemu:///system}
HARNESS_STARTED_PIDS=()

harness_libvirt_answers() {
        timeout 10 virsh -q -c "$HARNESS_URI" version >/dev/null 2>&1
}

# Starts a daemon with -d and records the PID from its pid file.
harness_start_daemon() {
        local name=$1 pidfile=/run/$1.pid pid
        if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
                return 0
        fi
        if [ "$name" = libvirtd ] && harness_kvm_broken; then
                # On a host whose /dev/kvm cannot run guests, libvirtd re-probes QEMU on
                # every request that needs its capabilities (about 4 s each time); without
                # a /dev/kvm in its mount namespace, it probes once and uses TCG at once.
                unshare -m --propagation private \
                        sh -c 'mount --bind /dev/null /dev/kvm && exec libvirtd -d' ||
                        { echo "harness: 'libvirtd -d' failed"; return 1; }
                echo "harness: libvirtd runs with /dev/kvm hidden (KVM cannot run guests here)"
        else
                "$name" -d || { echo "harness: '$name -d' failed"; return 1; }
        fi
        for _ in $(seq 1 50); do
                [ -s "$pidfile" ] && break
                sleep 0.1
        done
        pid=$(cat "$pidfile" 2>/dev/null)
        [ -n "$pid" ] || { echo "harness: $name wrote no $pidfile"; return 1; }
        HARNESS_STARTED_PIDS+=("$pid")
        echo "harness: started $name (pid $pid)"
}

# True when /dev/kvm exists but kiln's probe finds that KVM cannot run a guest.
harness_kvm_broken() {
        [ -e /dev/kvm ] || return 1
        "$KILN_BIN" doctor --uri test:///default --output json 2>/dev/null | python3 -c \
                'import json,sys; sys.exit(0 if not json.load(sys.stdin)["Accelerator"]["KvmRunsGuests"] else 1)'
}

harness_libvirt_up() {
        harness_libvirt_answers && return 0
        if [ "$(id -u)" != 0 ]; then
                echo "harness: no libvirt daemon answers on $HARNESS_URI, and starting one needs root"
                return 1
        fi
        command -v libvirtd >/dev/null ||
                { echo "harness: libvirtd is not installed (run 'make deps')"; return 1; }
        harness_start_daemon virtlogd || return 1
        harness_start_daemon libvirtd || return 1
        for _ in $(seq 1 100); do
                harness_libvirt_answers && return 0
                sleep 0.2
        done
        echo "harness: libvirtd started but $HARNESS_URI does not answer"
        return 1
}

harness_libvirt_down() {
        local pid i
        # Newest first: libvirtd before virtlogd.
        for ((i = ${#HARNESS_STARTED_PIDS[@]} - 1; i >= 0; i--)); do
                pid=${HARNESS_STARTED_PIDS[$i]}
                kill -TERM "$pid" 2>/dev/null || continue
                for _ in $(seq 1 100); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
                echo "harness: stopped pid $pid"
        done
        HARNESS_STARTED_PIDS=()
}

# The cold build's output that harness_e2e_prepare kept for test-image-cold.sh: removed by
# whoever runs no such test (the demo, the benchmarks) and by the e2e tier at its end.
harness_image_cold_done() {
        rm -f "${KILN_IMAGE_COLD_OUT:-}" "${KILN_IMAGE_COLD_ERR:-}"
        unset KILN_IMAGE_COLD_OUT KILN_IMAGE_COLD_ERR
}

# The test image's build (or its lookup in the cache), in the background: tests/run.sh starts it
# before the tiers that come ahead of e2e, so that on a machine with an empty cache the build
# (minutes, mostly downloads and dpkg) runs beside them. harness_image_build_finish waits for it.
harness_image_build_start() {
        KILN_IMAGE_BUILD_OUT=$(mktemp /var/tmp/kiln-image-out.XXXXXX)
        KILN_IMAGE_BUILD_ERR=$(mktemp /var/tmp/kiln-image-err.XXXXXX)
        KILN_IMAGE_BUILD_RC=$(mktemp /var/tmp/kiln-image-rc.XXXXXX)
        (
                trap - INT TERM
                "$KILN_TOP/tests/images/build.sh" debian12 >"$KILN_IMAGE_BUILD_OUT" \
                        2>"$KILN_IMAGE_BUILD_ERR"
                echo $? >"$KILN_IMAGE_BUILD_RC"
        ) &
        KILN_IMAGE_BUILD_PID=$!
}

# Stops a background build that is still running (an interrupted run) and removes its files.
harness_image_build_stop() {
        if [ -n "${KILN_IMAGE_BUILD_PID:-}" ]; then
                pkill -TERM -P "$KILN_IMAGE_BUILD_PID" 2>/dev/null
                wait "$KILN_IMAGE_BUILD_PID" 2>/dev/null
        fi
        rm -f "${KILN_IMAGE_BUILD_OUT:-}" "${KILN_IMAGE_BUILD_ERR:-}" "${KILN_IMAGE_BUILD_RC:-}"
        unset KILN_IMAGE_BUILD_PID KILN_IMAGE_BUILD_OUT KILN_IMAGE_BUILD_ERR KILN_IMAGE_BUILD_RC
}

# When the cache had no disks of this recipe, this build is the cold path that
# test-image-cold.sh checks: its output is kept for that test, which then checks it instead of
# building the image a second time.
harness_image_build_finish() {
        local out=$KILN_IMAGE_BUILD_OUT err=$KILN_IMAGE_BUILD_ERR rc
        wait "$KILN_IMAGE_BUILD_PID" 2>/dev/null
        rc=$(cat "$KILN_IMAGE_BUILD_RC" 2>/dev/null)
        rm -f "$KILN_IMAGE_BUILD_RC"
        unset KILN_IMAGE_BUILD_PID KILN_IMAGE_BUILD_OUT KILN_IMAGE_BUILD_ERR KILN_IMAGE_BUILD_RC
        cat "$err"
        if [ "$rc" != 0 ]; then
                echo "harness: the test image's build failed (exit ${rc:-unknown})"
                rm -f "$out" "$err"
                return 1
        fi
        KILN_TEST_IMAGE=$(head -n 1 "$out")
        if grep -q '^image: built debian12' "$err"; then
                export KILN_IMAGE_COLD_OUT=$out KILN_IMAGE_COLD_ERR=$err
        else
                rm -f "$out" "$err"
        fi
}

harness_e2e_prepare() {
        local doctor
        [ -x "$KILN_BIN" ] || { echo "harness: $KILN_BIN is not built"; return 1; }
        harness_libvirt_up || return 1
        doctor=$("$KILN_BIN" doctor --uri "$HARNESS_URI" --output json) ||
                { echo "harness: 'kiln doctor' found a problem"; return 1; }
        KILN_ACCEL=$(printf '%s' "$doctor" | python3 -c \
                'import json,sys; print(json.load(sys.stdin)["Accelerator"]["Chosen"])') ||
                return 1
        echo "harness: accelerator $KILN_ACCEL ($(printf '%s' "$doctor" | python3 -c \
                'import json,sys; print(json.load(sys.stdin)["Accelerator"].get("Reason","KVM runs guests"))'))"
        if [ -z "${KILN_TEST_IMAGE:-}" ]; then
                [ -n "${KILN_IMAGE_BUILD_PID:-}" ] || harness_image_build_start
                harness_image_build_finish || return 1
        fi
        [ -r "$KILN_TEST_IMAGE" ] || { echo "harness: cannot read image $KILN_TEST_IMAGE"; return 1; }
        echo "harness: image $KILN_TEST_IMAGE"
        # The same image's UEFI disk (GPT, an EFI system partition, GRUB for EFI): made by the
        # same build, so this costs one cache lookup.
        if [ -z "${KILN_TEST_IMAGE_UEFI:-}" ]; then
                KILN_TEST_IMAGE_UEFI=$("$KILN_TOP/tests/images/build.sh" debian12 --uefi) || return 1
        fi
        echo "harness: UEFI image $KILN_TEST_IMAGE_UEFI"
}
