#!/bin/bash
# libvirt storage on the real daemon: runs the storage unit test (tests/unit/test-virt-storage.c)
# against qemu:///system, where it also covers real files: a directory pool, upload and download
# of a qcow2 byte for byte, read-only modes, overlays on their backing files, aborted transfers.
# Its TAP passes through and its exit status is ours. The program removes what it made; if it
# is killed before it can, the pools it named after its PID and its scratch directory are
# removed here.
set -u

uri=${KILN_TEST_URI:-qemu:///system}
bin=${KILN_TEST_BIN:-$KILN_TOP/build/release/tests}/test-virt-storage

if [ ! -x "$bin" ]; then
        if [ "${KILN_E2E_REQUIRED:-0}" = 1 ]; then
                echo "not ok 1 - $bin is not built (make unit-bins)"
                exit 1
        fi
        echo "1..0 # SKIP $bin is not built (make unit-bins)"
        exit 77
fi

work=$(mktemp -d /var/tmp/kiln-e2e-storage.XXXXXX) || exit 1
# QEMU's user must be able to traverse the pool's directory.
chmod 0755 "$work"
child=

# Whatever a killed test program left: its pools (named kiln-test-storage-PID-...) and files.
backstop() {
        local pool
        if [ -n "$child" ]; then
                while IFS= read -r pool; do
                        [ -n "$pool" ] || continue
                        echo "# clean-up: removing pool '$pool'"
                        virsh -q -c "$uri" pool-destroy "$pool" >/dev/null 2>&1
                        virsh -q -c "$uri" pool-undefine "$pool" >/dev/null 2>&1
                done < <(virsh -q -c "$uri" pool-list --all --name 2>/dev/null |
                        grep -F "kiln-test-storage-$child-")
        fi
        rm -rf --one-file-system "$work"
}

# shellcheck disable=SC2317  # called from the traps
on_signal() {
        [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
        [ -n "$child" ] && wait "$child"
        backstop
        exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

KILN_TEST_URI=$uri KILN_TEST_TMPDIR=$work "$bin" &
child=$!
wait "$child"
rc=$?
# A signal interrupts wait; the handler then finishes the job.
backstop
exit "$rc"
