#!/bin/bash
# Builds the guest disks of a recipe folder (tests/images/NAME/) and caches them under
# KILN_IMAGE_CACHE (default /var/cache/kiln/images), keyed by a hash of the recipe, so an
# unchanged recipe costs one hash. One mmdebstrap run and one root filesystem make two disks:
#   NAME-KEY.qcow2       BIOS: MBR, GRUB's boot.img and core.img (i386-pc), the root partition;
#   NAME-uefi-KEY.qcow2  UEFI: GPT, an EFI system partition holding GRUB's BOOTX64.EFI
#                        (x86_64-efi), the root partition.
# Both GRUBs find the root filesystem by its label and read its /boot/grub/grub.cfg. If either
# disk is missing, both are built. Prints one path on stdout, the BIOS disk's, or with --uefi the
# UEFI disk's; progress, time and sizes on stderr. Needs root (mmdebstrap's root mode), no mounts
# and no loop devices:
#   mmdebstrap -> directory -> mke2fs -d -> partition -> sfdisk -> GRUB core.img + boot.img;
#   the same partition -> sfdisk (GPT) after an ESP from mkfs.vfat -C + mtools with BOOTX64.EFI.
# Usage: build.sh [NAME] [--uefi]   (NAME: debian12 if not given)
set -euo pipefail

recipe=debian12
uefi=0
for arg in "$@"; do
        case $arg in
        --uefi) uefi=1 ;;
        -*)
                echo "build.sh: unknown option '$arg' (usage: build.sh [NAME] [--uefi])" >&2
                exit 2
                ;;
        *) recipe=$arg ;;
        esac
done
here=$(cd "$(dirname "$0")" && pwd)
dir=$here/$recipe
cache=${KILN_IMAGE_CACHE:-/var/cache/kiln/images}
disk_mib=${KILN_IMAGE_SIZE_MIB:-3072}
esp_mib=64

[ -d "$dir" ] || { echo "build.sh: no recipe '$recipe' in $here" >&2; exit 2; }

# Standard output carries exactly one line, a disk's path (fd 3); everything the tools below
# print goes to standard error (mke2fs -d, for one, reports each file on standard output).
exec 3>&1 1>&2

# The key covers every file of the recipe and this script itself.
key=$( (cd "$here" && find build.sh "$recipe" -type f -print0 | sort -z |
        xargs -0 sha256sum; echo "size=$disk_mib") | sha256sum | cut -c1-16)
out=$cache/$recipe-$key.qcow2
out_uefi=$cache/$recipe-uefi-$key.qcow2
wanted=$out
[ "$uefi" = 0 ] || wanted=$out_uefi

if [ -s "$out" ] && [ -s "$out_uefi" ]; then
        echo "image: $recipe cached ($wanted)" >&2
        echo "$wanted" >&3
        exit 0
fi

[ "$(id -u)" = 0 ] || { echo "build.sh: building the image needs root" >&2; exit 1; }
for tool in mmdebstrap mke2fs sfdisk grub-mkimage qemu-img mkfs.vfat mmd mcopy; do
        command -v "$tool" >/dev/null ||
                { echo "build.sh: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
for platform in i386-pc x86_64-efi; do
        [ -f "/usr/lib/grub/$platform/moddep.lst" ] ||
                { echo "build.sh: no GRUB $platform modules: run 'make deps'" >&2; exit 1; }
done

mkdir -p "$cache"
chmod 0755 "$cache"
work=$(mktemp -d "$cache/.build-$recipe.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
echo "image: building $recipe ($key), BIOS and UEFI disks, this takes a few minutes" >&2

# Take the host's Debian sources when it has them (a mirror or proxy set up there carries over).
sources=http://deb.debian.org/debian
[ -f /etc/apt/sources.list.d/debian.sources ] && sources=/etc/apt/sources.list.d/debian.sources

include=$(grep -v '^#' "$dir/packages" | sed '/^$/d' | paste -sd, -)
mmdebstrap --variant=minbase --include="$include" \
        --customize-hook="$dir/customize.sh \"\$1\"" \
        bookworm "$work/root" "$sources" >&2

# Root filesystem: an ext4 image filled from the directory (no mount). GRUB 2.06 does not know
# orphan_file and metadata_csum_seed, so they stay off.
part_mib=$((disk_mib - 1))
mke2fs -q -t ext4 -L kiln-root -O ^orphan_file,^metadata_csum_seed \
        -d "$work/root" "$work/part.img" "${part_mib}M"
rm -rf "$work/root"

# BIOS disk: MBR, GRUB's core.img in the gap before the partition at 1 MiB, the partition after
# it.
truncate -s "${disk_mib}M" "$work/disk.raw"
dd if="$work/part.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q --wipe never "$work/disk.raw"
grub-mkimage -O i386-pc -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' \
        biosdisk part_msdos ext2 search search_label
core_size=$(stat -c %s "$work/core.img")
[ "$core_size" -lt $((2047 * 512)) ] ||
        { echo "build.sh: core.img is $core_size bytes, too large for the gap" >&2; exit 1; }
dd if=/usr/lib/grub/i386-pc/boot.img of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$work/disk.raw" bs=512 seek=1 conv=notrunc status=none

# UEFI disk: GPT; the EFI system partition (FAT32) at 1 MiB, then the same root filesystem image,
# last so that growpart can grow it; 1 MiB at the end holds the backup GPT. The firmware starts
# the ESP's removable-media path /EFI/BOOT/BOOTX64.EFI, a GRUB whose built-in config finds the
# root filesystem by its label and makes its /boot/grub the prefix; GRUB then reads grub.cfg there
# as core.img does. The modules grub.cfg's boot needs are built in; others load from the root's
# /boot/grub/x86_64-efi (customize.sh copies them there). fstab does not mount the ESP.
uefi_mib=$((1 + esp_mib + part_mib + 1))
# shellcheck disable=SC2016 # $root is GRUB's, expanded when GRUB runs the config
printf '%s\n' 'search --no-floppy --label --set=root kiln-root' \
        'set prefix=($root)/boot/grub' >"$work/early.cfg"
grub-mkimage -O x86_64-efi -o "$work/BOOTX64.EFI" -c "$work/early.cfg" -p /boot/grub \
        part_gpt part_msdos ext2 fat search search_label normal configfile test echo linux \
        all_video
mkfs.vfat -F 32 -s 1 -n EFI -C "$work/esp.img" $((esp_mib * 1024))
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
truncate -s "${uefi_mib}M" "$work/uefi.raw"
dd if="$work/esp.img" of="$work/uefi.raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/part.img" of="$work/uefi.raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse \
        status=none
rm -f "$work/part.img" "$work/esp.img"
printf 'label: gpt\nstart=2048, size=%d, type=U\nstart=%d, size=%d, type=L\n' \
        $((esp_mib * 2048)) $(((1 + esp_mib) * 2048)) $((part_mib * 2048)) |
        sfdisk -q --wipe never "$work/uefi.raw"

qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
rm -f "$work/disk.raw"
qemu-img convert -f raw -O qcow2 "$work/uefi.raw" "$work/uefi.qcow2"
rm -f "$work/uefi.raw"
chmod 0644 "$work/disk.qcow2" "$work/uefi.qcow2"
mv "$work/uefi.qcow2" "$out_uefi"
mv "$work/disk.qcow2" "$out"

# Older builds of the same recipe are of no further use ($recipe-* covers $recipe-uefi-*).
find "$cache" -maxdepth 1 -name "$recipe-*.qcow2" ! -name "$(basename "$out")" \
        ! -name "$(basename "$out_uefi")" -delete

end=$(date +%s)
size=$(du -k "$out" | cut -f1)
size_uefi=$(du -k "$out_uefi" | cut -f1)
echo "image: built $recipe in $((end - start)) s; BIOS: $((size / 1024)) MiB on disk," \
        "${disk_mib} MiB virtual; UEFI: $((size_uefi / 1024)) MiB on disk, ${uefi_mib} MiB virtual" >&2
echo "$wanted" >&3
