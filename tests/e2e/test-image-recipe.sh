#!/bin/bash
# The guest image as built by tests/images/debian12, read without booting or mounting it
# (debugfs on a raw copy): what every instance must own alone is absent, and what users of a
# cloud image expect is there.
set -u
. "$KILN_TOP/tests/harness/tap.sh"

work=$(mktemp -d /var/tmp/kiln-e2e-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'rm -rf "$work"; exit 143' TERM

qemu-img convert -f qcow2 -O raw "$KILN_TEST_IMAGE" "$work/disk.raw"
tap_ok $? "image converts to raw"
fs="$work/disk.raw?offset=1048576"

dbg() { debugfs -R "$1" "$fs" 2>/dev/null; }
exists() { debugfs -R "stat $1" "$fs" 2>&1 | grep -q '^Inode:'; }

table=$(sfdisk -d "$work/disk.raw" 2>/dev/null)
tap_like "$table" 'start= *2048,.*type=83, bootable' "one bootable Linux partition at 1 MiB"
tap_is "$(dd if="$work/disk.raw" bs=1 skip=510 count=2 status=none | od -An -tx1 | tr -d ' ')" \
        "55aa" "the MBR carries a boot signature"
tap_like "$(dd if="$work/disk.raw" bs=512 skip=1 count=1 status=none | strings -n 4 | head -c 200)" \
        "." "GRUB's core image follows the MBR"

tap_is "$(dbg 'ls /etc/ssh' | grep -c ssh_host_)" "0" "no SSH host keys in the image"
tap_like "$(debugfs -R 'stat /etc/machine-id' "$fs" 2>/dev/null)" 'Size: 0' \
        "/etc/machine-id is empty (made at first boot)"
exists /var/lib/dbus/machine-id
tap_ok $(($? == 0)) "no D-Bus machine-id"

shadow=$(dbg 'cat /etc/shadow')
tap_is "$(printf '%s\n' "$shadow" | grep -c '^root:[!*]')" "1" "root is locked"
tap_is "$(printf '%s\n' "$shadow" | awk -F: '$2 !~ /^[!*]/' | wc -l)" "0" "no account has a password"
tap_is "$(dbg 'ls /var/lib/cloud' | grep -cv '^ *[0-9]* *\.\.\? *$' | tr -d ' ' || true)" "0" \
        "no cloud-init instance state"

for f in /vmlinuz /initrd.img /boot/grub/grub.cfg /boot/grub/i386-pc/normal.mod \
         /usr/bin/cloud-init /usr/sbin/sshd /usr/bin/sudo /usr/games/cowsay \
         /usr/bin/growpart /usr/sbin/qemu-ga /etc/cloud/cloud.cfg.d/90-kiln.cfg; do
        exists "$f"
        tap_ok $? "the image has $f"
done
tap_like "$(dbg 'cat /etc/cloud/cloud.cfg.d/90-kiln.cfg')" 'datasource_list: \[ NoCloud, None \]' \
        "cloud-init reads only NoCloud"
tap_like "$(dbg 'cat /etc/default/locale')" 'LANG=en_US.UTF-8' "a UTF-8 locale is set"

tap_done
