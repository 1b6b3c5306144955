#!/bin/bash
# Installs the Debian packages that kiln's build, tests and demo need. Idempotent: does
# nothing when all are there; otherwise runs `apt-get update` once and installs the missing
# ones without questions. Only Debian's archive is used.
set -euo pipefail

packages=(
        # build
        make gcc clang pkg-config
        libvirt-dev libcurl4-openssl-dev libjansson-dev libssh2-1-dev libsqlite3-dev libyaml-dev
        libssl-dev libxml2-dev libnbd-dev libext2fs-dev comerr-dev libmicrohttpd-dev zlib1g-dev
        # lint and sanitizers
        clang-format clang-tidy cppcheck valgrind libclang-rt-14-dev
        # hypervisor: libvirtd, virtlogd, the QEMU driver, TCG/KVM guests, UEFI firmware, an
        # emulated TPM (swtpm), disk tools
        libvirt-daemon libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
        qemu-system-x86 ovmf swtpm swtpm-tools qemu-utils
        # libvirt networks (--network NAME): dnsmasq for DHCP, iptables for its rules, unshare
        dnsmasq-base iptables util-linux
        # NoCloud seeds, keys, SSH clients in tests
        xorriso openssh-client openssh-server openssl
        # guest image recipe (tests/images): no mounts, no loop devices; BIOS and UEFI disks
        mmdebstrap e2fsprogs fdisk grub-pc-bin grub-efi-amd64-bin grub-common dosfstools mtools
        debian-archive-keyring
        # test harness and benchmark helpers
        python3 libxml2-utils procps iproute2 ca-certificates sqlite3 time bc packer curl
        apache2-utils # ab: bench/endpoint's load
        # an RDP client for the Windows stand-in (tests/e2e/test-windows.sh), on a virtual display
        freerdp2-x11 xvfb xauth
        # EC2 clients that drive kiln serve in the tests: the aws CLI and boto3 (botocore)
        awscli python3-boto3
        # kiln(1) rendered and checked (tests/unit/test-install.sh)
        man-db groff-base
)

missing=()
for p in "${packages[@]}"; do
        [[ $p == \#* ]] && continue
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
        echo "deps: all ${#packages[@]} packages present"
        exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
        echo "deps: installing packages needs root (run 'sudo make deps')" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps: done"
