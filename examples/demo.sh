#!/bin/bash
# kiln's main job, end to end (`make demo`): register a Debian 12 image built from Debian
# packages, launch it, configure the seed's cowsay MOTD, bake a new image, launch that, log in
# and show the MOTD, then what the snapshots cost. Instances are terminated at the end; the
# images stay in the kiln home (KILN_HOME, default /var/lib/kiln for root), so a second run is
# quicker. Starts libvirt if nothing answers, and stops only what it started.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export KILN_TOP=$top
export KILN_BIN=${KILN_BIN:-$top/kiln}
. "$top/tests/harness/libvirt.sh"

start=$(date +%s)
step() { printf '\n==> [%3ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
k() { "$KILN_BIN" --no-progress "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

LAUNCHED=()
cleanup() {
        if [ ${#LAUNCHED[@]} -gt 0 ]; then
                step "terminating the demo's instances: ${LAUNCHED[*]}"
                k terminate-instances --instance-ids "${LAUNCHED[@]}" >/dev/null 2>&1 || true
        fi
        harness_libvirt_down
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "libvirt, the accelerator and the guest image (built from Debian packages, cached)"
harness_e2e_prepare
harness_image_cold_done
k describe-regions >/dev/null # creates the kiln home and the region's pool on first use
work=${KILN_HOME:-/var/lib/kiln}/demo
mkdir -p "$work"
chmod 0700 "$work"

step "registering the guest image as an AMI (once; later runs reuse it)"
base=$(k describe-images --owners self --filters Name=name,Values=debian-12-demo |
        field '" ".join(i["ImageId"] for i in d["Images"] if i["State"] == "available")')
if [ -z "$base" ]; then
        base=$(k register-image --name debian-12-demo --disk "$KILN_TEST_IMAGE" \
                --default-user admin --description "Debian 12 built by kiln's recipe" |
                field 'd["ImageId"]')
fi
echo "base image: $base"

step "a key pair for the demo"
if [ ! -f "$work/demo.pem" ] || ! k describe-key-pairs --key-names kiln-demo >/dev/null 2>&1; then
        k delete-key-pair --key-name kiln-demo >/dev/null 2>&1 || true
        rm -f "$work/demo.pem"
        k create-key-pair --key-name kiln-demo --key-type ed25519 --output-file "$work/demo.pem" >/dev/null
fi
echo "key pair kiln-demo, private key $work/demo.pem"

step "launching an instance of $base and waiting until SSH answers and cloud-init is done (about a minute under TCG)"
a=$(k run-instances --image-id "$base" --key-name kiln-demo --wait | field 'd["Instances"][0]["InstanceId"]')
LAUNCHED+=("$a")
echo "instance $a is ready"

step "configuring $a: the seed's cowsay MOTD"
k configure --instance-id "$a" --motd-message "Baked by kiln on $(hostname) at $(date -u +%H:%M) UTC"

step "baking $a into a new image (generalized: no keys, host keys or machine-id of $a inside)"
name="cowsay-motd-$(date -u +%Y%m%d-%H%M%S)"
cow=$("$KILN_BIN" --no-progress create-image --instance-id "$a" --name "$name" \
        --description "The seed's cowsay MOTD" | field 'd["ImageId"]')
echo "new image: $cow ($name)"
# create-image started the baked instance again, as EC2 does; the demo no longer needs it.
k terminate-instances --instance-ids "$a" >/dev/null
LAUNCHED=()
echo "terminated $a, which the image no longer needs"

step "launching an instance of the new image $cow"
b=$(k run-instances --image-id "$cow" --key-name kiln-demo --wait | field 'd["Instances"][0]["InstanceId"]')
LAUNCHED=("$b")
ssh_cmd=$(k describe-instances --instance-ids "$b" |
        field 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
echo "instance $b is ready; log in with:"
echo "  $ssh_cmd"

step "what a login on $b shows"
# The session ends at our "exit"; the prompt and what follows it are cut.
echo exit | timeout 120 $ssh_cmd -o BatchMode=yes -tt 2>/dev/null | tr -d '\r' | sed '/^exit$/,$d'

step "what the snapshots cost (describe-storage)"
k --output table describe-storage

step "done in $(( $(date +%s) - start )) s; the images stay (kiln describe-images --owners self)"
