#!/bin/bash
# The seed's lifecycle on real guests: launch, configure a cowsay MOTD (quotes and $(id) in the
# message), bake, launch from the new image with another key pair, and log in with the printed
# ssh command. The new instance must show the MOTD literally, refuse the first key pair, and
# have its own host key, machine-id and cloud-init instance; the baked instance must still run.
# Then the chains: a second bake of the same instance, a bake of an instance launched from a
# baked image, a live --no-reboot bake, describe-storage's unique and shared bytes, bad input,
# and crashes at each step of a bake repaired by fsck.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"

image_count() {
        kiln_rc describe-images --owners self
        json 'len(d["Images"])'
}

kiln_rc register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
BASE=$(json 'd["ImageId"]')
kiln_rc describe-images --image-ids "$BASE"
BASE_SNAP=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
kiln_rc create-key-pair --key-name first --key-type ed25519 --output-file "$work/first.pem"
kiln_rc create-key-pair --key-name second --key-type ed25519 --output-file "$work/second.pem"
kiln_rc run-instances --image-id "$BASE" --key-name first --wait
tap_is "$RC" 0 "an instance to bake is ready"
A=$(json 'd["Instances"][0]["InstanceId"]')

msg='Baked by "kiln": $(id) `uname` \n ${HOME}'
kiln_rc configure --instance-id "$A" --motd-message "$msg" \
        --run 'echo baked-data | sudo -n tee /etc/kiln-marker >/dev/null' \
        --run 'echo "secret-command --password hunter2" >> ~/.bash_history'
tap_is "$RC" 0 "configure: a cowsay MOTD, a marker file, a shell history"
A_HOSTKEY=$(on "$A" sudo -n ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key | awk '{print $2}')
A_MACHINE=$(on "$A" cat /etc/machine-id)
tap_ok $([ -n "$A_HOSTKEY" ] && [ -n "$A_MACHINE" ]; echo $?) "the instance has a host key and a machine-id"

# ---- bad input: each refused before anything happens ----
before=$(image_count)
kiln_rc create-image --instance-id "$A" --name 'x'
tap_is "$RC" 3 "a name too short: exit 3"
tap_like "$ERR" 'InvalidAMIName.Malformed' "as InvalidAMIName.Malformed"
kiln_rc create-image --instance-id "$A" --name 'bad|name'
tap_like "$ERR" 'InvalidAMIName.Malformed' "a name with a bad character: InvalidAMIName.Malformed"
kiln_rc create-image --instance-id "$A" --name debian-12
tap_is "$RC" 5 "a name the account already uses: exit 5"
tap_like "$ERR" 'InvalidAMIName.Duplicate' "as InvalidAMIName.Duplicate"
kiln_rc create-image --instance-id "$A" --name live --no-reboot
tap_is "$RC" 3 "--no-reboot without --no-generalize is refused"
tap_like "$ERR" 'InvalidParameterCombination' "as InvalidParameterCombination"
kiln_rc create-image --instance-id i-0123456789abcdef0 --name nobody
tap_is "$RC" 4 "an unknown instance: exit 4"
kiln_rc create-image --instance-id "$A"
tap_is "$RC" 2 "a missing --name: usage error"
kiln_rc create-image --instance-id "$A" --name tagged --tag-specifications 'ResourceType=volume,Tags=[{Key=a,Value=b}]'
tap_is "$RC" 3 "TagSpecifications for a volume on create-image: exit 3"
tap_is "$(image_count)" "$before" "none of them registered anything"
kiln_rc describe-instances --instance-ids "$A"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["State"]["Name"]')" running "nor stopped the instance"

# ---- the bake ----
kiln_rc create-image --instance-id "$A" --name cow-v1 --description "cowsay MOTD" \
        --tag-specifications 'ResourceType=image,Tags=[{Key=motd,Value=cowsay}]' 'ResourceType=snapshot,Tags=[{Key=of,Value=cow-v1}]'
tap_is "$RC" 0 "create-image of a running instance"
COW=$(json 'd["ImageId"]')
tap_like "$ERR" "generalizing $A" "it says it generalizes"
tap_like "$ERR" "shutting $A down cleanly" "then shuts down"
tap_like "$ERR" "starting $A again" "and starts the instance again"
bake_ms=$(echo "$ERR" | sed -n 's/.*(bake: \([0-9]*\) ms).*/\1/p')
tap_diag "bake without guest shutdown: ${bake_ms} ms"
kiln_rc describe-images --image-ids "$COW"
tap_is "$(json 'd["Images"][0]["State"]')" available "the new image is available"
tap_is "$(json 'd["Images"][0]["SourceInstanceId"]')" "$A" "with SourceInstanceId"
tap_is "$(json 'd["Images"][0]["Description"]')" "cowsay MOTD" "and its description"
tap_is "$(json 'd["Images"][0]["RootDeviceName"]')" /dev/vda "and the root device"
SNAP1=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
tap_is "$(json 'd["Images"][0]["Tags"]')" "[{'Key': 'motd', 'Value': 'cowsay'}]" "with the image tags of --tag-specifications"
kiln_rc describe-snapshots --snapshot-ids "$SNAP1"
tap_is "$(json 'd["Snapshots"][0]["Description"]')" "Created by CreateImage($A) for $COW" "the snapshot is described as EC2 does"
tap_is "$(json 'd["Snapshots"][0]["Tags"]')" "[{'Key': 'of', 'Value': 'cow-v1'}]" "and carries the snapshot tags"
kiln_rc describe-storage
tap_is "$(json "[s.get('ParentSnapshotId') for s in d['Snapshots'] if s['SnapshotId']=='$SNAP1'][0]")" "$BASE_SNAP" "its parent is the snapshot the instance grew from"
kiln_rc describe-instances --instance-ids "$A"
AVOL=$(json 'd["Reservations"][0]["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]')
tap_is "$(stat -c %a "$(pool_path local)/$AVOL.qcow2")" 400 "the frozen overlay is read-only, and kiln's user's alone"
tap_ok $(ls "$(pool_path local)" | grep -q "^$AVOL\.$SNAP1\.qcow2\$"; echo $?) "and the instance has a fresh overlay on it"

# The new instance also gets the MOTD snippet of cloud-init/ as user data.
kiln_rc run-instances --image-id "$COW" --key-name second \
        --user-data "file://$KILN_TOP/cloud-init/motd-user-data.yaml"
B=$(json 'd["Instances"][0]["InstanceId"]')
bseed="$(pool_path local)/$B-seed.iso"
tap_ok $(grep -q 'BEGIN OPENSSH PRIVATE KEY' "$bseed"; echo $?) "a new instance's seed carries its private host key"
kiln_rc wait instance-ready --instance-ids "$A"
tap_is "$RC" 0 "the baked instance is ready again"
A_HOSTKEY2=$(on "$A" sudo -n ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key | awk '{print $2}')
tap_ok $([ -n "$A_HOSTKEY2" ] && [ "$A_HOSTKEY2" != "$A_HOSTKEY" ]; echo $?) \
        "with a new host key (generalization took the old one), pinned for the printed ssh command"
# Nobody waits for B: its start worker sees the first boot take the key, and the seed that
# stays in the pool no longer holds it.
for _ in $(seq 120); do
        grep -q 'BEGIN OPENSSH PRIVATE KEY' "$bseed" 2>/dev/null || break
        sleep 2
done
tap_ok $(grep -q 'BEGIN OPENSSH PRIVATE KEY' "$bseed"; [ $? = 1 ] && grep -q "instance-id: \"$B\"" "$bseed"; echo $?) \
        "once its first boot has taken the key, the seed it keeps does not carry it"
tap_ok $(grep -q 'Welcome to' "$bseed"; echo $?) "and still carries the user data"
tap_is "$(on "$A" cat /etc/kiln-marker)" baked-data "and still has its data"
kiln_rc wait instance-ready --instance-ids "$B"
tap_is "$RC" 0 "an instance of the new image is ready"

# A real login through the printed command shows the MOTD, literally.
login=$(echo exit | HOME=$work/home timeout 120 $(sshcmd "$B") -o BatchMode=yes -tt 2>/dev/null | tr -d '\r')
tap_like "$login" 'Baked by "kiln": \$\(id\) `uname` \\n \$\{HOME\}' "a login on it shows the MOTD, literally"
tap_like "$login" '\\   \^__\^' "through cowsay"
tap_like "$login" "Welcome to $B: launched with kiln user data" "and the user data snippet's MOTD too"
tap_is "$(on "$B" cat /etc/kiln-marker)" baked-data "the new instance has the configured data"
# The first key pair is refused on the new instance.
kiln_rc describe-instances --instance-ids "$B"
bport=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Port"]')
khosts=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["KnownHostsFile"]')
out=$(HOME=$work/home timeout 60 ssh -i "$work/first.pem" -p "$bport" -o BatchMode=yes \
        -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$khosts" \
        admin@127.0.0.1 true 2>&1)
tap_is "$?" 255 "the first key pair is refused on the new instance"
tap_like "$out" 'Permission denied' "with Permission denied"
B_HOSTKEY=$(on "$B" sudo -n ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key | awk '{print $2}')
tap_ok $([ -n "$B_HOSTKEY" ] && [ "$B_HOSTKEY" != "$A_HOSTKEY" ]; echo $?) "its host key differs from the baked instance's"
tap_diag "host keys: baked ${A_HOSTKEY:0:24}..., new ${B_HOSTKEY:0:24}..."

# ---- nobody else reads a kiln home (two instances running, images baked) ----
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
readable=() kinds=()
while IFS= read -r -d '' f; do
        case "$f" in
        */registry.db) kinds+=(registry) ;; */config.json) kinds+=(config) ;;
        *-seed.iso) kinds+=(seed) ;; */snap-*.qcow2) kinds+=(snapshot) ;;
        */vol-*.qcow2) kinds+=(volume) ;; */kiln_ed25519) kinds+=(access-key) ;;
        esac
        as_nobody cat "$f" >/dev/null 2>&1 && readable+=("$f")
done < <(find "$KILN_HOME" -path "$work" -prune -o -type f -print0)
tap_is "$(printf '%s\n' "${kinds[@]}" | sort -u | tr '\n' ' ')" \
        "access-key config registry seed snapshot volume " "the home holds each kind of file"
tap_is "${readable[*]}" "" "as nobody, none of its files can be read"
as_nobody ls "$KILN_HOME" "$(pool_path local)" >/dev/null 2>&1
tap_is "$?" 2 "nor can the home or its pool be listed"
B_MACHINE=$(on "$B" cat /etc/machine-id)
tap_ok $([ -n "$B_MACHINE" ] && [ "$B_MACHINE" != "$A_MACHINE" ]; echo $?) "its machine-id differs"
tap_is "$(on "$B" sudo -n cat /var/lib/cloud/data/instance-id)" "$B" "cloud-init ran as the new instance"
tap_is "$(on "$B" sudo -n ls /var/lib/cloud/instances)" "$B" "and holds no state of the baked one"
tap_is "$(on "$B" 'cat ~/.bash_history 2>/dev/null | grep -c hunter2')" 0 "no shell history came along"

# ---- chains and storage ----
# A second bake of A (stopped, not generalized: at once) after writing 8 MiB.
on "$A" 'sudo -n dd if=/dev/urandom of=/var/tmp/blob bs=1M count=8 status=none && sync' >/dev/null
kiln_rc stop-instances --instance-ids "$A"
kiln_rc create-image --instance-id "$A" --name cow-v2 --no-generalize
tap_is "$RC" 0 "a second bake of the same (stopped) instance"
COW2=$(json 'd["ImageId"]')
tap_ok $(echo "$ERR" | grep -qE "shutting|starting"; echo $((! $?))) "a stopped instance is baked at once, without a start or shutdown"
kiln_rc describe-instances --instance-ids "$A"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["State"]["Name"]')" stopped "A is still stopped"
# A bake of B, launched from a baked image.
kiln_rc stop-instances --instance-ids "$B"
kiln_rc create-image --instance-id "$B" --name cow-of-cow --no-generalize
tap_is "$RC" 0 "a bake of an instance launched from a baked image"
COWB=$(json 'd["ImageId"]')
kiln_rc describe-storage
cat >"$work/storage.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
snaps = {s["SnapshotId"]: s for s in d["Snapshots"]}
imgs = {i["ImageId"]: i for i in d["Images"]}
def chain(img):
    return imgs[img]["Snapshots"]
def users(snap):
    return [i for i in imgs if snap in chain(i)]
out = []
for img in sys.argv[2:]:
    c = chain(img)
    unique = sum(snaps[s]["BytesUsed"] for s in c if len(users(s)) == 1)
    shared = sum(snaps[s]["BytesUsed"] for s in c if len(users(s)) > 1)
    ok = imgs[img]["UniqueBytes"] == unique and imgs[img]["SharedBytes"] == shared
    out.append("%d:%s" % (len(c), "ok" if ok else "bad(%d/%d want %d/%d)" % (
        imgs[img]["UniqueBytes"], imgs[img]["SharedBytes"], unique, shared)))
print(" ".join(out))
EOF
echo "$OUT" >"$work/storage.json"
tap_is "$(python3 "$work/storage.py" "$work/storage.json" "$BASE" "$COW" "$COW2" "$COWB")" \
        "1:ok 2:ok 3:ok 3:ok" "chains of 1, 2, 3 and 3 layers with the right unique and shared bytes"
tap_is "$(json "sorted(set([i['Snapshots'] for i in d['Images'] if i['ImageId']=='$COW2'][0]) & {'$BASE_SNAP', '$SNAP1'})")" "$(python3 -c "print(sorted(['$BASE_SNAP', '$SNAP1']))")" "the second bake builds on the first"
tap_is "$(json "sorted(set([i['Snapshots'] for i in d['Images'] if i['ImageId']=='$COWB'][0]) & {'$BASE_SNAP', '$SNAP1'})")" "$(python3 -c "print(sorted(['$BASE_SNAP', '$SNAP1']))")" "and so does the bake of the baked image's instance"
unique2=$(json "[i['UniqueBytes'] for i in d['Images'] if i['ImageId']=='$COW2'][0]")
tap_ok $([ "$unique2" -ge $((8 * 1024 * 1024)) ] && [ "$unique2" -lt $((200 * 1024 * 1024)) ]; echo $?) "the second bake holds what changed (8 MiB written: $unique2 bytes)"

# An image baked without generalization may hold the instance's keys: never public.
# Whether an image was generalized is the image's own attribute, not a tag anyone could set.
kiln_rc describe-images --image-ids "$COW2" "$COW"
tap_is "$(json 'sum(1 for i in d["Images"] for t in i.get("Tags", []) if t["Key"] != "motd")')" 0 \
        "a bake adds no tag of its own (cow-v1 has only the one it was asked for)"
COW2_SNAP=$(json "[i for i in d['Images'] if i['ImageId'] == '$COW2'][0]['BlockDeviceMappings'][0]['Ebs']['SnapshotId']")
kiln_rc modify-image-attribute --image-id "$COW2" --launch-permission "Add=[{Group=all}]"
tap_is "$RC" 3 "an image baked with --no-generalize cannot be made public"
tap_like "$ERR" 'InvalidParameter.*--no-generalize' "with the reason"
kiln_rc modify-snapshot-attribute --snapshot-id "$COW2_SNAP" --create-volume-permission "Add=[{Group=all}]"
tap_is "$RC" 3 "nor can its snapshot"
kiln_rc copy-image --source-region local --source-image-id "$COW2" --name cow-v2-copy
tap_is "$RC" 0 "it can be copied"
COPY2=$(json 'd["ImageId"]')
kiln_rc modify-image-attribute --image-id "$COPY2" --launch-permission "Add=[{Group=all}]"
tap_is "$RC" 3 "and the copy cannot be made public either"
kiln_rc describe-images --image-ids "$COPY2"
kiln_rc modify-snapshot-attribute --snapshot-id "$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')" \
        --create-volume-permission "Add=[{Group=all}]"
tap_is "$RC" 3 "nor the copy's snapshot"
kiln_rc deregister-image --image-id "$COPY2"
kiln_rc modify-image-attribute --image-id "$COW2" --launch-permission "Add=[{UserId=$ACCT_B}]"
tap_is "$RC" 0 "it can still be shared with an account"
kiln_rc modify-image-attribute --image-id "$COW" --launch-permission "Add=[{Group=all}]"
tap_is "$RC" 0 "a generalized image can be made public"

# ---- live bake ----
kiln_rc start-instances --instance-ids "$B"
kiln_rc wait instance-ready --instance-ids "$B"
boot1=$(on "$B" cat /proc/sys/kernel/random/boot_id)
kiln_rc create-image --instance-id "$B" --name live-one --no-reboot --no-generalize
tap_is "$RC" 0 "--no-reboot --no-generalize bakes a running instance live"
tap_like "$ERR" 'warning: --no-reboot' "with a warning that the image is crash-consistent"
LIVE=$(json 'd["ImageId"]')
tap_is "$(on "$B" cat /proc/sys/kernel/random/boot_id)" "$boot1" "the instance kept running, not rebooted"
tap_is "$(on "$B" 'echo after-live | sudo -n tee /etc/after-live')" after-live "and writes to its fresh overlay"
kiln_rc describe-images --image-ids "$LIVE"
tap_is "$(json 'd["Images"][0]["State"]')" available "the live image is available"
kiln_rc fsck
tap_is "$RC" 0 "fsck finds everything consistent after the bakes"

# ---- a seed lost or stale: fsck writes it again from the registry ----
kiln_rc describe-instances --instance-ids "$B"
bseed="$(pool_path local)/$B-seed.iso"
rm -f "$bseed"
kiln_rc fsck
tap_like "$OUT" "missing-seed" "fsck finds an instance's seed volume gone"
kiln_rc fsck --repair
kiln_rc fsck
tap_ok $([ "$RC" = 0 ] && [ -s "$bseed" ] && ! grep -q 'PRIVATE KEY' "$bseed"; echo $?) \
        "and --repair writes it again, without the private key the first boot took"
printf 'garbage' | dd of="$bseed" bs=1 seek=40000 conv=notrunc status=none
kiln_rc fsck
tap_like "$OUT" "stale-seed" "a seed that is not the one kiln wrote is found"
kiln_rc fsck --repair
kiln_rc fsck
tap_is "$RC" 0 "and written again"

# ---- crashes during a bake of the stopped A ----
kiln_rc terminate-instances --instance-ids "$B"
n=0
for p in create-image.after-reserve create-image.reserve-between create-image.after-overlay \
        create-image.commit-between create-image.after-commit; do
        KILN_CRASH_AT=$p "$KILN_BIN" --no-progress create-image --instance-id "$A" \
                --name "crash-$p" --no-generalize >/dev/null 2>&1
        rc=$?
        kiln_rc fsck --repair
        r1=$RC
        kiln_rc fsck
        tap_ok $([ "$rc" = 137 ] && [ "$r1" -le 1 ] && [ "$RC" = 0 ]; echo $?) "[$p] killed, repaired, consistent (kill $rc, repair $r1, check $RC)"
        n=$((n + 1))
done
kiln_rc describe-images --owners self --filters Name=name,Values=crash-*
tap_ok $(python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if all(i['State']=='available' for i in d['Images']) else 1)" "$OUT"; echo $?) "what a crash left is either gone or a whole available image ($(json 'len(d["Images"])') of $n)"
kiln_rc start-instances --instance-ids "$A"
kiln_rc wait instance-ready --instance-ids "$A"
tap_is "$RC" 0 "the instance still starts after the crashes"
tap_is "$(on "$A" 'cat /etc/kiln-marker; test -s /var/tmp/blob && echo blob')" "$(printf 'baked-data\nblob')" "with all its data"

tap_done
