#!/bin/sh
# Generalizes a Linux guest before its disk is baked into an image, then checks the result.
# kiln runs it as root (through sudo) just before it shuts the guest down:
#
#   sh -s generalize KEY_BLOB...    remove what identifies this instance, then check
#   sh -s check KEY_BLOB...         only check
#
# KEY_BLOBs are the base64 parts of the public keys the instance was launched with (the key
# pair's and kiln's access key). What is removed: those keys from every authorized_keys, the SSH
# host keys, the machine-id, cloud-init's instance state and logs, the journal and login
# records of the launch, DHCP leases and shell histories. A new instance made from the image
# gets all of them anew at its first boot.
#
# The check prints one "remains: WHAT" line per thing still present and exits 3 if there is
# any, 0 otherwise. kiln refuses to register an image when the check fails.
set -u
mode=${1:-check}
[ $# -gt 0 ] && shift

key_files() {
        for f in /root/.ssh/authorized_keys /root/.ssh/authorized_keys2 \
                /home/*/.ssh/authorized_keys /home/*/.ssh/authorized_keys2; do
                [ -f "$f" ] && printf '%s\n' "$f"
        done
}

history_files() {
        for f in /root/.bash_history /root/.sh_history /root/.zsh_history /root/.lesshst \
                /root/.python_history /home/*/.bash_history /home/*/.sh_history \
                /home/*/.zsh_history /home/*/.lesshst /home/*/.python_history; do
                [ -e "$f" ] && printf '%s\n' "$f"
        done
}

generalize() {
        key_files | while read -r f; do
                for blob in "$@"; do
                        # Rewrites in place, so the file keeps its owner and mode.
                        grep -v -F -e "$blob" "$f" >"$f.kiln-new" || true
                        cat "$f.kiln-new" >"$f"
                        rm -f "$f.kiln-new"
                done
        done
        rm -f /etc/ssh/ssh_host_*
        : >/etc/machine-id
        if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
                rm -f /var/lib/dbus/machine-id
        fi
        # What `cloud-init clean --logs` removes, without its Python start-up (seconds under
        # TCG); the seed directory stays, as clean leaves it.
        rm -rf /var/lib/cloud/instance /var/lib/cloud/instances /var/lib/cloud/data \
                /var/lib/cloud/sem /var/lib/cloud/handlers /var/lib/cloud/scripts/per-instance
        rm -f /var/log/cloud-init.log /var/log/cloud-init-output.log
        if command -v journalctl >/dev/null 2>&1; then
                journalctl --rotate >/dev/null 2>&1 || true
                journalctl --vacuum-time=1s >/dev/null 2>&1 || true
        fi
        for f in /var/log/wtmp /var/log/btmp /var/log/lastlog /var/log/auth.log \
                /var/log/syslog /var/log/messages; do
                [ -f "$f" ] && : >"$f"
        done
        rm -f /var/log/*.gz /var/log/*.[0-9] /var/lib/dhcp/*.leases
        history_files | while read -r f; do rm -f "$f"; done
        sync
}

check() {
        found=0
        for f in $(key_files); do
                for blob in "$@"; do
                        if grep -q -F -e "$blob" "$f"; then
                                echo "remains: a launch key in $f"
                                found=1
                        fi
                done
        done
        for f in /etc/ssh/ssh_host_*; do
                [ -e "$f" ] && { echo "remains: SSH host key $f"; found=1; }
        done
        [ -s /etc/machine-id ] && { echo "remains: /etc/machine-id"; found=1; }
        if [ -s /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
                echo "remains: /var/lib/dbus/machine-id"
                found=1
        fi
        for f in /var/lib/cloud/instance /var/lib/cloud/instances/* /var/lib/cloud/data/*; do
                [ -e "$f" ] || [ -L "$f" ] || continue
                echo "remains: cloud-init instance state $f"
                found=1
        done
        [ -e /var/log/cloud-init.log ] && { echo "remains: /var/log/cloud-init.log"; found=1; }
        for f in $(history_files); do
                echo "remains: shell history $f"
                found=1
        done
        [ "$found" = 0 ] || return 3
}

case "$mode" in
generalize)
        generalize "$@"
        check "$@"
        ;;
check) check "$@" ;;
*)
        echo "generalize.sh: unknown mode '$mode'" >&2
        exit 2
        ;;
esac
