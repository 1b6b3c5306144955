#!/bin/bash
# Disks for the OS-detection fuzz harnesses, made without root (mke2fs -d into a plain file,
# sfdisk on a plain file, debugfs to find the structures). Too large to keep in git, they are
# made here at run time into DIR (tests/fuzz/run.sh passes build/fuzz-clang/fuzz/disks):
#
#   DIR/base.img          the disk fuzz-detect-patch changes: GPT, a small BIOS boot partition,
#                         then ext4 (1 KiB blocks, two groups, extents) holding Debian 12's
#                         os-release through a relative symlink as Debian has it, cloud.cfg and
#                         cloud.cfg.d (one file a slow symlink); the default user is "admin"
#   DIR/detect/*.img      small raw disks for fuzz-detect: ext2 and ext4 alone, after an MBR,
#                         in a logical partition, after a GPT; ext4 with inline data (files,
#                         directories and a symlink in their inodes); a btrfs signature
#   DIR/detect-patch/*    for fuzz-detect-patch: each patches one structure of base.img with its
#                         own bytes (partition table, superblock, group descriptors, the inodes
#                         and blocks on the way to os-release and cloud.cfg), so mutations start
#                         from a disk that is read to the end
#
# Does nothing if DIR/base.img is newer than this script. Exits 77 without mke2fs, debugfs or
# sfdisk (Debian packages e2fsprogs and fdisk).
set -euo pipefail

dir=${1:?usage: make-disks.sh DIR}
self=$(realpath "$0")
export PATH=$PATH:/usr/sbin:/sbin
[ -s "$dir/base.img" ] && [ "$dir/base.img" -nt "$self" ] && exit 0
for tool in mke2fs debugfs sfdisk; do
        if ! command -v "$tool" >/dev/null; then
                echo "make-disks: $tool is not installed (e2fsprogs, fdisk)" >&2
                exit 77
        fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$dir/detect" "$dir/detect-patch" "$dir/base.img"
mkdir -p "$dir/detect" "$dir/detect-patch"

# tree DIR USER: a root file system with an os-release and cloud-init's default user USER.
tree() {
        local t=$1 user=$2
        mkdir -p "$t/usr/lib" "$t/etc/cloud/cloud.cfg.d" "$t/usr/share/cloud-init/templates"
        printf '%s\n' 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' 'NAME="Debian GNU/Linux"' \
                'VERSION_ID="12"' 'VERSION="12 (bookworm)"' 'ID=debian' >"$t/usr/lib/os-release"
        ln -s ../usr/lib/os-release "$t/etc/os-release"
        printf '%s\n' 'users: [default]' 'system_info:' '  distro: debian' '  default_user:' \
                '    name: debian' '    sudo: ["ALL=(ALL) NOPASSWD:ALL"]' >"$t/etc/cloud/cloud.cfg"
        printf '%s\n' 'datasource_list: [NoCloud, None]' >"$t/etc/cloud/cloud.cfg.d/05-ds.cfg"
        printf '%s\n' 'system_info:' '  default_user:' "    name: $user" \
                >"$t/etc/cloud/cloud.cfg.d/90-user.cfg"
        printf '%s\n' 'system_info: {default_user: {name: templated}}' \
                >"$t/usr/share/cloud-init/templates/a-long-name-for-a-slow-symlink.cfg"
        ln -s /usr/share/cloud-init/templates/a-long-name-for-a-slow-symlink.cfg \
                "$t/etc/cloud/cloud.cfg.d/50-templates.cfg"
        echo 'not a cfg' >"$t/etc/cloud/cloud.cfg.d/README"
}

# fs IMG SIZE TYPE [mke2fs options]: an ext file system of the tree in $work/tree.
fs() {
        local img=$1 size=$2 type=$3
        shift 3
        rm -f "$img"
        truncate -s "$size" "$img"
        mke2fs -q -F -t "$type" -b 1024 -m 0 "$@" -d "$work/tree" "$img" >/dev/null
}

# disk OUT FS START LABEL SCRIPT-LINES...: a disk with FS's bytes at sector START (and room
# for a backup GPT after them).
disk() {
        local out=$1 img=$2 start=$3 label=$4
        shift 4
        truncate -s $((start * 512 + $(stat -c %s "$img") + 64 * 512)) "$out"
        { echo "label: $label"; printf '%s\n' "$@"; } | sfdisk -q --wipe never "$out" >/dev/null
        dd if="$img" of="$out" bs=512 seek="$start" conv=notrunc status=none
}

tree "$work/tree" admin

# ---- small raw disks for fuzz-detect ----
fs "$work/ext2" 64k ext2 -N 32
fs "$work/ext4" 160k ext4 -N 32 -O ^has_journal,^resize_inode
cp "$work/ext2" "$dir/detect/ext2.img"
cp "$work/ext4" "$dir/detect/ext4.img"
# inline data: small files, directories and a long symlink live in their inodes
mkdir -p "$work/inline/usr/lib" "$work/inline/etc/cloud/cloud.cfg.d"
cp "$work/tree/usr/lib/os-release" "$work/inline/usr/lib/os-release"
ln -s ../usr/lib/./././././././././././././././././././././././os-release "$work/inline/etc/os-release"
cp "$work/tree/etc/cloud/cloud.cfg.d/90-user.cfg" "$work/inline/etc/cloud/cloud.cfg.d/"
truncate -s 160k "$dir/detect/inline-ext4.img"
mke2fs -q -F -t ext4 -b 1024 -m 0 -N 32 -I 256 -O ^has_journal,^resize_inode,inline_data \
        -d "$work/inline" "$dir/detect/inline-ext4.img" >/dev/null
disk "$dir/detect/mbr-ext2.img" "$work/ext2" 1 dos 'start=1, size=128, type=83'
disk "$dir/detect/logical-ext2.img" "$work/ext2" 3 dos 'start=1, size=130, type=5' \
        'start=3, size=128, type=83'
truncate -s 72k "$dir/detect/btrfs.img" # the magic at 64 KiB + 64
printf '_BHRfS_M' | dd of="$dir/detect/btrfs.img" bs=1 seek=65600 conv=notrunc status=none
disk "$dir/detect/gpt-ext4.img" "$work/ext4" 34 gpt 'first-lba: 34' 'start=34, size=320, type=L'

# ---- the base disk for fuzz-detect-patch ----
fs "$work/base-fs" 2M ext4 -g 1024 -N 128 -O ^has_journal
part=98 # sectors: the partition's start
size=$(stat -c %s "$work/base-fs")
base=$work/base.img
truncate -s $(((part + size / 512 + 33) * 512)) "$base"
printf '%s\n' 'label: gpt' 'first-lba: 34' 'start=34, size=64, type=21686148-6449-6E6F-744E-656564454649' \
        "start=$part, size=$((size / 512)), type=L" | sfdisk -q --wipe never "$base" >/dev/null
dd if="$work/base-fs" of="$base" bs=512 seek="$part" conv=notrunc status=none
disk_size=$(stat -c %s "$base")

# record OFF LEN: a patch of LEN (at most 255) bytes at OFF with the base disk's own bytes.
record() {
        local off=$1 len=$2
        # shellcheck disable=SC2059
        printf "$(printf '\\%03o\\%03o\\%03o\\%03o\\%03o' $((off & 255)) $((off >> 8 & 255)) \
                $((off >> 16 & 255)) $((off >> 24 & 255)) "$len")"
        dd if="$base" bs=4096 iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none
}

# records OFF LEN: LEN bytes from OFF in patches of 128.
records() {
        local off=$1 end=$(($1 + $2))
        while [ "$off" -lt "$end" ]; do
                record "$off" $((end - off < 128 ? end - off : 128))
                off=$((off + 128))
        done
}

p=$((part * 512))
seeds=$dir/detect-patch
{ record 446 66; } >"$seeds/mbr"
{ records 512 92; } >"$seeds/gpt-header"
{ records 1024 256; } >"$seeds/gpt-entries"
{ records $((disk_size - 512)) 92; } >"$seeds/gpt-backup"
{ records $((p + 1024)) 1024; } >"$seeds/superblock"
{ records $((p + 2048)) 128; } >"$seeds/group-descriptors"
for path in / /etc /etc/os-release /usr /usr/lib /usr/lib/os-release /etc/cloud \
        /etc/cloud/cloud.cfg /etc/cloud/cloud.cfg.d /etc/cloud/cloud.cfg.d/90-user.cfg \
        /etc/cloud/cloud.cfg.d/50-templates.cfg \
        /usr/share/cloud-init/templates/a-long-name-for-a-slow-symlink.cfg; do
        name=${path//\//-}
        [ "$name" = - ] && name=-root
        read -r blk off < <(debugfs -R "imap $path" "$work/base-fs" 2>/dev/null |
                sed -n 's/.*located at block \([0-9]*\), offset 0x\([0-9a-f]*\).*/\1 \2/p')
        records $((p + blk * 1024 + 16#$off)) 256 >"$seeds/inode$name"
        # a fast symlink has no blocks ("blocks" would read its target as block numbers)
        debugfs -R "stat $path" "$work/base-fs" 2>/dev/null | grep -q '^Fast link dest' && continue
        blocks=$(debugfs -R "blocks $path" "$work/base-fs" 2>/dev/null)
        [ -n "$blocks" ] || continue
        for b in $blocks; do records $((p + b * 1024)) 1024; done >"$seeds/data$name"
done
mv "$base" "$dir/base.img"
