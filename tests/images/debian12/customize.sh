#!/bin/sh
# Runs inside mmdebstrap's customize phase with the root directory as $1: turns the freshly
# installed tree into a cloud image. Everything an instance must own alone (host keys,
# machine-id, cloud-init state) is removed here and made again at first boot.
set -eu
root=$1
files=$(dirname "$0")/files

install -m 0644 "$files/90-kiln.cfg" "$root/etc/cloud/cloud.cfg.d/90-kiln.cfg"
install -m 0644 "$files/interfaces" "$root/etc/network/interfaces"
mkdir -p "$root/etc/network/interfaces.d"
# One grub.cfg for both disks (BIOS and UEFI), and the host's GRUB modules for each platform,
# the same build as the core.img and BOOTX64.EFI that build.sh makes, for GRUB to load on demand.
for platform in i386-pc x86_64-efi; do
        mkdir -p "$root/boot/grub/$platform"
        cp /usr/lib/grub/$platform/*.mod /usr/lib/grub/$platform/*.lst "$root/boot/grub/$platform/"
done
install -m 0644 "$files/grub.cfg" "$root/boot/grub/grub.cfg"

# An initramfs of the modules that find the root disk (virtio and SCSI) instead of most of the
# kernel's: under TCG, unpacking and probing the rest took seconds of every boot.
mkdir -p "$root/etc/initramfs-tools/conf.d"
printf 'MODULES=list\n' >"$root/etc/initramfs-tools/conf.d/kiln.conf"
printf '%s\n' virtio_pci virtio_blk virtio_scsi sd_mod >>"$root/etc/initramfs-tools/modules"
chroot "$root" update-initramfs -u -k all

# The Windows stand-in (files/kiln-standin): xrdp stays off unless a config drive is attached.
install -m 0755 "$files/kiln-standin" "$root/usr/local/sbin/kiln-standin"
install -m 0644 "$files/kiln-standin.service" "$root/etc/systemd/system/kiln-standin.service"
chroot "$root" systemctl enable kiln-standin.service
chroot "$root" systemctl disable xrdp.service xrdp-sesman.service
# e2scrub_reap looks for LVM snapshots that an interrupted e2scrub left; the image has no LVM,
# and under TCG the check takes seconds of CPU from every boot.
chroot "$root" systemctl disable e2scrub_reap.service

# xrdp runs as its own user, which reads the TLS key through the ssl-cert group.
chroot "$root" adduser --quiet xrdp ssl-cert

printf 'LABEL=kiln-root / ext4 defaults,errors=remount-ro 0 1\n' >"$root/etc/fstab"
printf 'localhost\n' >"$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# A locale generated now saves cloud-init a locale-gen at every first boot.
printf 'en_US.UTF-8 UTF-8\n' >"$root/etc/locale.gen"
chroot "$root" locale-gen
printf 'LANG=en_US.UTF-8\n' >"$root/etc/default/locale"

# No account may log in with a password.
chroot "$root" passwd -l root >/dev/null

# Identities are made at first boot: host keys by cloud-init, machine-id by systemd.
rm -f "$root"/etc/ssh/ssh_host_*
# The TLS key and certificate (ssl-cert's) and RSA keys (xrdp's) that the packages made: the
# stand-in makes its own at first boot.
rm -f "$root/etc/ssl/private/ssl-cert-snakeoil.key" "$root/etc/ssl/certs/ssl-cert-snakeoil.pem" \
        "$root/etc/xrdp/rsakeys.ini"
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root/var/lib/cloud"/*
rm -f "$root/root/.bash_history"
find "$root/var/log" -type f -exec truncate -s 0 {} +
rm -rf "$root/var/cache/apt"/*.bin "$root/tmp"/* "$root/var/tmp"/*
