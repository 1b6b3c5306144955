#!/bin/bash
# A region on another host, over libvirt's remote protocol: a second libvirtd with its own QEMU,
# configuration and pool, in a network namespace the test creates and reachable only over a
# veth pair at that namespace's address (qemu+tcp://10.251.7.2/system; tests/harness/remote.sh).
# Its pool directory is a tmpfs only that namespace sees, so kiln can reach the pool's files
# through libvirt alone. The region names the host's address as its ListenAddress: QEMU's
# forwards listen there, and kiln and the printed ssh command connect there. Against it:
# copy-image from the local region, run-instances --wait, the printed ssh command, configure,
# the console, stop, create-image, a launch of the new image, the other host's daemon killed in
# the middle of a launch (the local region goes on; fsck --repair afterwards),
# describe-storage, fsck, terminate.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/libvirt.sh"
. "$KILN_TOP/tests/harness/home.sh"
. "$KILN_TOP/tests/harness/remote.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
        echo "1..0 # SKIP needs root, ip and nsenter for a second host in a network namespace"
        exit 77
fi
home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"
trap 'home_cleanup_instances; remote_down' EXIT
trap 'home_cleanup_instances; remote_down; exit 143' TERM
trap 'home_cleanup_instances; remote_down; exit 130' INT

remote_up 7
tap_is "$?" 0 "a second libvirtd answers at $REMOTE_URI, in a network namespace of the test's own"
remote_region far
far() { kiln_rc --region far "$@"; }

kiln_rc register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
AMI=$(json 'd["ImageId"]')
far copy-image --source-region local --source-image-id "$AMI" --name debian-12-far
tap_is "$RC" 0 "copy-image brings the image to the other host's region"
[ "$RC" = 0 ] || tap_diag "$ERR"
FAR_AMI=$(json 'd["ImageId"]')
tap_is "$(find "$REMOTE_POOL_PATH" -mindepth 1 | wc -l)" 0 \
        "  and nothing of it is on this host: its pool is only the other host's"
tap_like "$(virsh -q -c "$REMOTE_URI" vol-list "$(far describe-regions; json '[r for r in d["Regions"] if r["RegionName"] == "far"][0]["Pool"]')" 2>&1)" \
        "snap-" "  the layers are in the other host's pool"

far create-key-pair --key-name far --key-type ed25519 --output-file "$work/far.pem"
start=$(date +%s)
far run-instances --image-id "$FAR_AMI" --key-name far --wait
tap_is "$RC" 0 "run-instances --wait in the remote region: the instance becomes ready"
[ "$RC" = 0 ] || tap_diag "$ERR"
tap_diag "launch to ready on the other host: $(( $(date +%s) - start )) s"
ID=$(json 'd["Instances"][0]["InstanceId"]')
far describe-instances --instance-ids "$ID"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Host"]')" "$REMOTE_ADDR" \
        "its connection info names the host's address"
port=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Port"]')
tap_ok "$([ "$port" -ge 40000 ] && [ "$port" -le 44999 ]; echo $?)" \
        "  with a port from the region's range ($port)"
SSH=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
# shellcheck disable=SC2086 # the printed command is words to run
tap_is "$(HOME=$work/home timeout 120 $SSH -o BatchMode=yes hostname 2>&1)" "$ID" \
        "the printed ssh command logs in from this host"
tap_ok "$(virsh -q -c qemu:///system list --all --name | grep -qx "$ID"; echo $((1 - $?)))" \
        "  the domain is not on this host's daemon"
tap_like "$(virsh -q -c "$REMOTE_URI" domstate "$ID")" running "  but on the other's"

far configure --instance-id "$ID" --run 'echo far-away | sudo tee /etc/far-marker'
tap_is "$RC" 0 "configure over SSH at the host's address"
far get-console-output --instance-id "$ID" --output text
tap_like "$OUT" "Debian GNU/Linux 12" "get-console-output reads the console log from the other host's pool"

far stop-instances --instance-ids "$ID"
far wait instance-stopped --instance-ids "$ID"
far create-image --instance-id "$ID" --name far-baked
tap_is "$RC" 0 "create-image of the stopped instance on the other host"
[ "$RC" = 0 ] || tap_diag "$ERR"
BAKED=$(json 'd["ImageId"]')
far run-instances --image-id "$BAKED" --key-name far --wait
tap_is "$RC" 0 "an instance of the new image becomes ready"
ID2=$(json 'd["Instances"][0]["InstanceId"]')
far describe-instances --instance-ids "$ID2"
SSH2=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
# shellcheck disable=SC2086
tap_is "$(HOME=$work/home timeout 120 $SSH2 -o BatchMode=yes cat /etc/far-marker 2>&1)" far-away \
        "  with what configure wrote"

# ---- the other host's daemon dies in the middle of a launch ----
"$KILN_BIN" --no-progress --region far run-instances --image-id "$FAR_AMI" --key-name far \
        >"$work/cut.json" 2>"$work/cut.err" &
launch=$!
sleep 0.2
remote_kill
wait "$launch"
tap_diag "the cut launch: exit $?, $(tr '\n' ' ' <"$work/cut.err")"
t0=$(date +%s)
far describe-images --image-ids "$FAR_AMI"
tap_is "$RC" 0 "with the other host's daemon gone, the region's registry still answers"
kiln_rc create-key-pair --key-name local --key-type ed25519 --output-file "$work/local.pem"
kiln_rc run-instances --image-id "$AMI" --key-name local
tap_is "$RC" 0 "the local region launches as before"
LOCAL_ID=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc terminate-instances --instance-ids "$LOCAL_ID"
tap_is "$RC" 0 "  and terminates"
far stop-instances --instance-ids "$ID2"
tap_ok "$([ "$RC" != 0 ]; echo $?)" "a verb on an instance of the dead host fails"
tap_like "$ERR" "10.251.7.2" "  with an error naming the host"
tap_diag "all that took $(( $(date +%s) - t0 )) s"
remote_start
tap_is "$?" 0 "the other host's daemon starts again"
far fsck --repair
tap_diag "fsck --repair: $(printf '%s' "$OUT" | tr '\n' ' ' | cut -c1-400)"
far fsck
tap_is "$RC" 0 "after fsck --repair the remote region is consistent"
[ "$RC" = 0 ] || tap_diag "$OUT $ERR"

far describe-storage
tap_is "$RC" 0 "describe-storage covers the remote pool"
tap_like "$OUT" "$BAKED" "  with the baked image"
far fsck
tap_is "$RC" 0 "fsck finds the remote region consistent"
[ "$RC" = 0 ] || tap_diag "$OUT $ERR"

CUT=$(far describe-instances; json '" ".join(i["InstanceId"] for r in d["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated")')
# shellcheck disable=SC2086 # IDs
far terminate-instances --instance-ids $CUT
tap_is "$RC" 0 "every instance of the remote region terminates"
tap_is "$(virsh -q -c "$REMOTE_URI" list --all --name | grep -c .)" 0 "  their domains are gone from the other host"
far fsck
tap_is "$RC" 0 "and fsck finds the region consistent after it"
[ "$RC" = 0 ] || tap_diag "$OUT $ERR"
kiln_rc fsck
tap_is "$RC" 0 "the local region too"
tap_done
