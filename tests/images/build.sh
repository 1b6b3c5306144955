#!/bin/bash
# Builds a guest disk image from a recipe folder (tests/images/NAME/) and caches it under
# KILN_IMAGE_CACHE (default /var/cache/kiln/images), keyed by a hash of the recipe, so an
# unchanged recipe costs one hash. Prints the image's path on stdout; progress, time and size
# on stderr. Needs root (mmdebstrap's root mode), no mounts and no loop devices:
#   mmdebstrap -> directory -> mke2fs -d -> partition -> sfdisk -> GRUB core.img + boot.img.
set -euo pipefail

recipe=${1:-debian12}
here=$(cd "$(dirname "$0")" && pwd)
dir=$here/$recipe
cache=${KILN_IMAGE_CACHE:-/var/cache/kiln/images}
disk_mib=${KILN_IMAGE_SIZE_MIB:-3072}

[ -d "$dir" ] || { echo "build.sh: no recipe '$recipe' in $here" >&2; exit 2; }

# Standard output carries exactly one line, the image's path (fd 3); everything the tools below
# print goes to standard error (mke2fs -d, for one, reports each file on standard output).
exec 3>&1 1>&2

# The key covers every file of the recipe and this script itself.
key=$( (cd "$here" && find build.sh "$recipe" -type f -print0 | sort -z |
        xargs -0 sha256sum; echo "size=$disk_mib") | sha256sum | cut -c1-16)
out=$cache/$recipe-$key.qcow2

if [ -s "$out" ]; then
        echo "image: $recipe cached ($out)" >&2
        echo "$out" >&3
        exit 0
fi

[ "$(id -u)" = 0 ] || { echo "build.sh: building the image needs root" >&2; exit 1; }
for tool in mmdebstrap mke2fs sfdisk grub-mkimage qemu-img; do
        command -v "$tool" >/dev/null ||
                { echo "build.sh: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done

mkdir -p "$cache"
chmod 0755 "$cache"
work=$(mktemp -d "$cache/.build-$recipe.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
echo "image: building $recipe ($key), this takes a few minutes" >&2

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

# Disk: MBR, GRUB's core.img in the gap before the partition at 1 MiB, the partition after it.
truncate -s "${disk_mib}M" "$work/disk.raw"
dd if="$work/part.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$work/part.img"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q --wipe never "$work/disk.raw"
grub-mkimage -O i386-pc -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' \
        biosdisk part_msdos ext2 search search_label
core_size=$(stat -c %s "$work/core.img")
[ "$core_size" -lt $((2047 * 512)) ] ||
        { echo "build.sh: core.img is $core_size bytes, too large for the gap" >&2; exit 1; }
dd if=/usr/lib/grub/i386-pc/boot.img of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$work/disk.raw" bs=512 seek=1 conv=notrunc status=none

qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
chmod 0644 "$work/disk.qcow2"
mv "$work/disk.qcow2" "$out"

# Older builds of the same recipe are of no further use.
find "$cache" -maxdepth 1 -name "$recipe-*.qcow2" ! -name "$(basename "$out")" -delete

end=$(date +%s)
size=$(du -k "$out" | cut -f1)
echo "image: built $recipe in $((end - start)) s, $((size / 1024)) MiB on disk, ${disk_mib} MiB virtual" >&2
echo "$out" >&3
