#!/bin/bash
# A real guest from the test image: boots as a libvirt domain, runs cloud-init from the NoCloud
# seed, answers SSH on a 127.0.0.1 forward with the host key that was pinned before it booted,
# and refuses a connection that expects another host key.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/guest.sh"

guest_setup
name=kiln-e2e-boot-$$

guest_boot "$name"
tap_ok $? "domain $name started (accelerator ${KILN_ACCEL:-tcg})"

guest_wait_ssh 300
rc=$?
tap_ok $rc "SSH answers with the pinned host key"
if [ $rc != 0 ]; then
        tap_done
        exit 1
fi
tap_diag "domain start to SSH: ${GUEST_SSH_SECONDS} s"

uname_out=$(guest_ssh uname -a)
tap_like "$uname_out" "^Linux $name .* x86_64 GNU/Linux$" "uname -a in the guest"
tap_diag "guest: $uname_out"

status=$(guest_ssh cloud-init status --wait 2>/dev/null | tail -n 1)
tap_is "$status" "status: done" "cloud-init finished"
tap_diag "domain start to cloud-init done: $(( $(date +%s) - $(cat "$GUEST_WORK/$name/started") )) s"

tap_is "$(guest_ssh hostname)" "$name" "hostname comes from the seed's meta-data"
tap_is "$(guest_ssh sudo -n cloud-init query instance_id 2>/dev/null)" "$name" \
        "instance ID comes from the seed"
tap_is "$(guest_ssh sudo -n whoami 2>&1)" "root" "the default user has passwordless sudo"

machine_id=$(guest_ssh cat /etc/machine-id)
tap_like "$machine_id" '^[0-9a-f]{32}$' "a machine-id was made at first boot"

# No account can log in with a password: every shadow entry is locked.
pw=$(guest_ssh "sudo -n awk -F: '\$2 !~ /^[!*]/ {print \$1}' /etc/shadow")
tap_is "$pw" "" "no account has a password"

tap_is "$(guest_ssh 'command -v cowsay || ls /usr/games/cowsay' 2>/dev/null | tail -n 1)" \
        "/usr/games/cowsay" "cowsay is installed (the seed's MOTD example needs it)"

# The only host key is the one that was pinned.
fp_guest=$(guest_ssh "sudo -n ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" | awk '{print $2}')
fp_pinned=$(ssh-keygen -lf "$GUEST_WORK/$name/host_ed25519.pub" | awk '{print $2}')
tap_is "$fp_guest" "$fp_pinned" "the guest's host key is the pinned one"
tap_is "$(guest_ssh 'sudo -n sh -c "ls /etc/ssh/ssh_host_*_key" | wc -l')" "1" \
        "no other host key was generated"

# A wrong pin must fail: the checks above are not vacuous.
ssh-keygen -q -t ed25519 -N '' -f "$GUEST_WORK/other"
cp "$GUEST_WORK/$name/known_hosts" "$GUEST_WORK/known_hosts.good"
echo "[127.0.0.1]:$GUEST_PORT $(cut -d' ' -f1,2 "$GUEST_WORK/other.pub")" >"$GUEST_WORK/$name/known_hosts"
guest_ssh true 2>/dev/null
tap_ok $(($? == 0)) "SSH refuses a host key that differs from the pin"
cp "$GUEST_WORK/known_hosts.good" "$GUEST_WORK/$name/known_hosts"

tap_done
