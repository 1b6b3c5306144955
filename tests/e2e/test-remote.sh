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
# describe-storage, fsck, terminate. Then a region of two hosts (this one, and the other
# reached through an sshd there as the jump host): two zones, copy-image onto its first host, a
# launch placed in the second zone that brings the image's layers there and boots from them,
# reached through the jump by kiln (readiness, configure) and by the printed ssh command, four
# more placed on both, a volume that cannot cross zones, the second host killed (launches go to
# the first, its instance is impaired, verbs on it fail naming it), and fsck and the layers'
# removal on both hosts.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/libvirt.sh"
. "$KILN_TOP/tests/harness/home.sh"
. "$KILN_TOP/tests/harness/remote.sh"
. "$KILN_TOP/tests/harness/endpoint.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
        echo "1..0 # SKIP needs root, ip and nsenter for a second host in a network namespace"
        exit 77
fi
home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"
# The two-host region's instances on this host's daemon go too, whatever happened.
rack_down() {
        local ids
        ids=$("$KILN_BIN" --region rack describe-instances 2>/dev/null | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print(" ".join(i["InstanceId"] for r in d["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated"))
except Exception:
    pass')
        # shellcheck disable=SC2086 # IDs
        [ -z "$ids" ] || "$KILN_BIN" --region rack terminate-instances --instance-ids $ids >/dev/null 2>&1
}
# The other host's sshd (the jump host), stopped by its PID; /run/sshd removed if made here.
jump_pid=
made_run_sshd=0
jump_down() {
        [ -n "$jump_pid" ] && kill -TERM "$jump_pid" 2>/dev/null && wait "$jump_pid" 2>/dev/null
        jump_pid=
        [ "$made_run_sshd" = 1 ] && rmdir /run/sshd 2>/dev/null
        made_run_sshd=0
}
trap 'stop_serve; rack_down; home_cleanup_instances; jump_down; remote_down' EXIT
trap 'stop_serve; rack_down; home_cleanup_instances; jump_down; remote_down; exit 143' TERM
trap 'stop_serve; rack_down; home_cleanup_instances; jump_down; remote_down; exit 130' INT

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

# ---- a region of two hosts: this one and the other, reached through an SSH jump ----
# Its pool on the other host: a tmpfs of its own there. Its instances there are reached through
# an sshd on the other host (ProxyJump): their forwards listen on that host's 127.0.0.1 only.
mkdir -p "$REMOTE_STATE/pool2"
remote_run mount -t tmpfs -o mode=0711 tmpfs "$REMOTE_STATE/pool2"
ssh-keygen -q -t ed25519 -N '' -C jump-host -f "$work/jump_host"
ssh-keygen -q -t ed25519 -N '' -C jump-user -f "$work/jump_user"
cp "$work/jump_user.pub" "$work/jump_authorized"
if [ ! -d /run/sshd ]; then mkdir -m 0755 /run/sshd && made_run_sshd=1; fi
use_pam=no
[ "$(getent shadow root | cut -d: -f2 | cut -c1)" = '!' ] && use_pam=yes
cat >"$work/jump_sshd_config" <<CONF
Port 2222
ListenAddress $REMOTE_ADDR
HostKey $work/jump_host
PidFile none
AuthorizedKeysFile $work/jump_authorized
AllowUsers root
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM $use_pam
StrictModes no
AllowTcpForwarding yes
LogLevel VERBOSE
CONF
# nsenter execs sshd in the other host's namespaces: $! is sshd's own PID.
nsenter --net="/run/netns/$REMOTE_NS" --mount="$REMOTE_STATE/ns/mnt" -- \
        /usr/sbin/sshd -D -e -f "$work/jump_sshd_config" >"$work/jump_sshd.log" 2>&1 &
jump_pid=$!
for _ in $(seq 1 100); do grep -q "Server listening" "$work/jump_sshd.log" && break; sleep 0.1; done
tap_like "$(cat "$work/jump_sshd.log")" "Server listening on $REMOTE_ADDR port 2222" \
        "an sshd on the other host: the jump host"
# The user's own ssh reaches the jump host as for any ProxyJump: its key and known host key, in
# an ssh configuration file (-F, which ssh hands to the jump's ssh too).
printf '[%s]:2222 %s\n' "$REMOTE_ADDR" "$(cut -d' ' -f1,2 "$work/jump_host.pub")" >"$work/jump_known"
cat >"$work/jump_ssh_config" <<CONF
Host $REMOTE_ADDR
        IdentityFile $work/jump_user
        IdentitiesOnly yes
        UserKnownHostsFile $work/jump_known
        StrictHostKeyChecking yes
CONF
chmod 0600 "$work/jump_ssh_config"
python3 - "$KILN_HOME/config.json" "$REMOTE_URI" "$REMOTE_STATE/pool2" "$REMOTE_ADDR" \
        "$KILN_HOME/pools/rack" "$work/jump_user" "$(cat "$work/jump_host.pub")" <<'PY'
import json, sys
path, uri, pool_path, addr, local_path, identity, host_key = sys.argv[1:]
c = json.load(open(path))
tag = "".join(ch for ch in c["Regions"][0]["Pool"] if ch.isalnum() or ch == "-")
c["Regions"].append({"Name": "rack", "Pool": f"{tag}-rack", "Hosts": [
    {"Uri": "qemu:///system", "PoolPath": local_path},
    {"Uri": uri, "PoolPath": pool_path, "ProxyJump": {
        "User": "root", "Host": addr, "Port": 2222, "IdentityFile": identity,
        "HostKey": host_key}}]})
json.dump(c, open(path, "w"), indent=2)
PY
rack() { kiln_rc --region rack "$@"; }
rack_pool=$(rack describe-regions; json '[r for r in d["Regions"] if r["RegionName"] == "rack"][0]["Pool"]')
rack describe-availability-zones
tap_is "$(json '" ".join(z["ZoneName"] for z in d["AvailabilityZones"])')" "racka rackb" \
        "a region of two hosts has two availability zones"
rack describe-regions
HOST_A=$(json '[r for r in d["Regions"] if r["RegionName"] == "rack"][0]["Hosts"][0]["HostId"]')
HOST_B=$(json '[r for r in d["Regions"] if r["RegionName"] == "rack"][0]["Hosts"][1]["HostId"]')
tap_like "$HOST_A $HOST_B" '^h-[0-9a-f]{17} h-[0-9a-f]{17}$' "  and describe-regions lists its hosts"
# The same through the EC2 endpoint, with the aws CLI.
endpoint_start
aws_rack() {
        OUT=$(AWS_ACCESS_KEY_ID=$KEY_A AWS_SECRET_ACCESS_KEY=$SECRET_A \
                "$AWS" --endpoint-url "$URL" --region rack --output json ec2 "$@" 2>"$work/aws.err")
        RC=$?
}
aws_rack describe-availability-zones
tap_is "$(json '" ".join(z["ZoneName"] + "/" + z["RegionName"] for z in d["AvailabilityZones"])')" \
        "racka/rack rackb/rack" "  aws ec2 describe-availability-zones through kiln serve: one zone per host"
aws_rack describe-regions
tap_is "$(json '" ".join(sorted(r["RegionName"] for r in d["Regions"]))')" "far local rack west" \
        "  aws ec2 describe-regions: every configured region"
stop_serve

rack copy-image --source-region far --source-image-id "$BAKED" --name rack-baked
tap_is "$RC" 0 "copy-image into it from the other host's region"
RACK_AMI=$(json 'd["ImageId"]')
tap_is "$(virsh -q -c qemu:///system vol-list "$rack_pool" 2>/dev/null | grep -c 'snap-')" 2 \
        "  both layers land on its first host"
tap_is "$(virsh -q -c "$REMOTE_URI" vol-list "$rack_pool" 2>/dev/null | grep -c .)" 0 \
        "  and nothing on its second"

rack create-key-pair --key-name rack --key-type ed25519 --output-file "$work/rack.pem"
rack run-instances --image-id "$RACK_AMI" --key-name rack --placement AvailabilityZone=rackq
tap_is "$RC" 3 "a zone the region does not have: exit 3"
tap_like "$ERR" "racka, rackb" "  naming the zones it has"
start=$(date +%s)
rack run-instances --image-id "$RACK_AMI" --key-name rack --placement AvailabilityZone=rackb --wait
tap_is "$RC" 0 "--placement AvailabilityZone=rackb: the instance runs on the second host and becomes ready"
[ "$RC" = 0 ] || tap_diag "$ERR"
tap_diag "launch to ready, the image's layers brought to the host first: $(( $(date +%s) - start )) s"
RB=$(json 'd["Instances"][0]["InstanceId"]')
tap_is "$(json 'd["Instances"][0]["Placement"]["AvailabilityZone"]') $(json 'd["Instances"][0]["Placement"]["HostId"]')" \
        "rackb $HOST_B" "  its Placement names the zone and the host"
tap_is "$(virsh -q -c "$REMOTE_URI" vol-list "$rack_pool" 2>/dev/null | grep -c 'snap-')" 2 \
        "  the image's two layers were brought to that host"
tap_like "$(virsh -q -c "$REMOTE_URI" domstate "$RB" 2>&1)" running "  the domain runs on the other host's daemon"
rack describe-instances --instance-ids "$RB"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["ProxyJump"]') $(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Host"]')" \
        "root@$REMOTE_ADDR:2222 127.0.0.1" "  reached through the jump host, at the host's own 127.0.0.1"
SSHB=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
RB_PORT=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Port"]')
tap_like "$SSHB" "-J root@$REMOTE_ADDR:2222 " "  the printed ssh command has the ProxyJump"
tap_ok "$(timeout 5 bash -c "exec 3<>/dev/tcp/$REMOTE_ADDR/$RB_PORT" 2>/dev/null; echo $((1 - $?)))" \
        "  its forward cannot be reached from this host directly"
# shellcheck disable=SC2086
tap_is "$(timeout 120 $SSHB -F "$work/jump_ssh_config" -o BatchMode=yes cat /etc/far-marker 2>&1)" far-away \
        "  it boots from the brought layers: the printed ssh command, through the jump, reads what configure wrote"
rack configure --instance-id "$RB" --run 'echo jumped | sudo tee /etc/jump-marker'
tap_is "$RC" 0 "configure through the jump host (kiln's own SSH)"
[ "$RC" = 0 ] || tap_diag "$ERR"
tap_like "$(cat "$work/jump_sshd.log")" "Accepted publickey for root" "  the jump host's log shows kiln's sessions"

rack run-instances --image-id "$RACK_AMI" --key-name rack --count 4
tap_is "$RC" 0 "four more instances in the region"
FOUR=$(json '" ".join(i["InstanceId"] for i in d["Instances"])')
# shellcheck disable=SC2086 # IDs
rack describe-instances --instance-ids $FOUR
tap_is "$(json '" ".join(sorted(set(i["Placement"]["HostId"] for r in d["Reservations"] for i in r["Instances"])))')" \
        "$(printf '%s\n' "$HOST_A" "$HOST_B" | sort | tr '\n' ' ' | sed 's/ $//')" \
        "  placed on both hosts, and describe-instances tells which"
tap_diag "placement: $(json '" ".join(i["Placement"]["AvailabilityZone"] for r in d["Reservations"] for i in r["Instances"])')"
on_a=$(json '" ".join(i["InstanceId"] for r in d["Reservations"] for i in r["Instances"] if i["Placement"]["HostId"] == "'"$HOST_A"'")')
on_b=$(json '" ".join(i["InstanceId"] for r in d["Reservations"] for i in r["Instances"] if i["Placement"]["HostId"] == "'"$HOST_B"'")')
ok_a=1; for i in $on_a; do virsh -q -c qemu:///system dominfo "$i" >/dev/null 2>&1 || ok_a=0; done
ok_b=1; for i in $on_b; do virsh -q -c "$REMOTE_URI" dominfo "$i" >/dev/null 2>&1 || ok_b=0; done
tap_is "$ok_a $ok_b" "1 1" "  each one's domain is on the daemon of the host it names"

rack create-volume --size 1 --availability-zone rackb
tap_is "$RC" 0 "create-volume in zone rackb"
VB=$(json 'd["VolumeId"]')
A1=${on_a%% *}
rack attach-volume --volume-id "$VB" --instance-id "$A1" --device /dev/sdf
tap_is "$RC" 3 "attaching it to an instance in racka: exit 3"
tap_like "$ERR" "InvalidVolume.ZoneMismatch" "  InvalidVolume.ZoneMismatch"
rack delete-volume --volume-id "$VB"
tap_is "$RC" 0 "  the volume is deleted, on its host"

# The second host stops answering: the first goes on, and the second's instances are impaired.
# shellcheck disable=SC2086 # IDs
rack terminate-instances --instance-ids $FOUR
remote_kill
rack run-instances --image-id "$RACK_AMI" --key-name rack
tap_is "$RC" 0 "with the second host's daemon gone, a launch in the region goes to the first"
[ "$RC" = 0 ] || tap_diag "$ERR"
tap_is "$(json 'd["Instances"][0]["Placement"]["AvailabilityZone"]')" racka "  (racka)"
RA=$(json 'd["Instances"][0]["InstanceId"]')
rack describe-instance-status --instance-ids "$RB"
tap_is "$(json 'd["InstanceStatuses"][0]["SystemStatus"]["Status"]') $(json 'd["InstanceStatuses"][0]["InstanceStatus"]["Status"]')" \
        "impaired impaired" "the second host's instance: system and instance status impaired"
rack stop-instances --instance-ids "$RB"
tap_ok "$([ "$RC" != 0 ]; echo $?)" "a verb on it fails"
tap_like "$ERR" "$HOST_B" "  naming its host"
rack terminate-instances --instance-ids "$RA"
remote_start
tap_is "$?" 0 "the second host's daemon starts again"
rack describe-instance-status --instance-ids "$RB"
tap_is "$(json 'd["InstanceStatuses"][0]["SystemStatus"]["Status"]')" ok "  and its instance's system status is ok again"
rack terminate-instances --instance-ids "$RB"
tap_is "$RC" 0 "  and it terminates"
rack fsck
tap_is "$RC" 0 "fsck checks both hosts' pools and finds the region consistent"
[ "$RC" = 0 ] || tap_diag "$OUT $ERR"
rack deregister-image --image-id "$RACK_AMI"
for s in $(rack describe-snapshots --owner-ids self; json '" ".join(s["SnapshotId"] for s in d["Snapshots"])'); do
        rack delete-snapshot --snapshot-id "$s"
done
rack gc
tap_is "$(virsh -q -c "$REMOTE_URI" vol-list "$rack_pool" 2>/dev/null | grep -c 'snap-') $(virsh -q -c qemu:///system vol-list "$rack_pool" 2>/dev/null | grep -c 'snap-')" \
        "0 0" "deleting the image's snapshots removes their layers from both hosts"
rack fsck
tap_is "$RC" 0 "  and the region is consistent"
[ "$RC" = 0 ] || tap_diag "$OUT $ERR"
virsh -q -c qemu:///system pool-destroy "$rack_pool" >/dev/null 2>&1
virsh -q -c qemu:///system pool-undefine "$rack_pool" >/dev/null 2>&1

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
