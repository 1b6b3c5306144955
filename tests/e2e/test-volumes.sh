#!/bin/bash
# Block device mappings and volumes on real guests: a launch with a bigger root (cloud-init
# grows the partition and file system) and an added empty volume, both written by the guest
# and baked into an image of two snapshots, whose launch has both files on the same devices;
# an empty volume hot-plugged into a running instance, written by the guest, detached (the
# guest lets go of it), attached to the stopped instance and seen with its data after the
# start; a volume made from the image's snapshot, bigger than it, with its partitions; the
# refusals (a size below the snapshot's, a device in use, deleting an attached or root volume)
# leaving nothing behind; and a volume that outlives its instance.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"

# disk_size ID DEV: the size in bytes the guest sees for /dev/DEV, or nothing.
disk_size() { on "$1" "lsblk -b -d -n -o SIZE /dev/$2 2>/dev/null" | tr -d ' '; }
# by_id VOL: the guest's name for the volume's disk, from the serial kiln gives it (the volume
# ID without its dash, as EC2's disks show it): Linux numbers virtio disks as it finds them.
by_id() { echo "disk/by-id/virtio-vol${1#vol-}"; }
# dev_of ID VOL: the kernel's name (vdX) of the volume's disk in the guest.
dev_of() { on "$1" "basename \$(readlink -f /dev/$(by_id "$2"))"; }
# Waits up to 30 s for the guest to see (or, with "gone", no longer see) /dev/PATH.
wait_disk() {
        local id=$1 dev=$2 want=${3:-there} i
        for i in $(seq 30); do
                if on "$id" "test -b /dev/$dev" >/dev/null; then
                        [ "$want" = there ] && return 0
                else
                        [ "$want" = gone ] && return 0
                fi
                sleep 1
        done
        return 1
}
vol_state() {
        kiln_rc describe-volumes --volume-ids "$1"
        json 'd["Volumes"][0]["State"] + " " + ",".join(a["InstanceId"] + ":" + a["Device"] for a in d["Volumes"][0]["Attachments"])'
}

kiln_rc register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
BASE=$(json 'd["ImageId"]')
kiln_rc describe-images --image-ids "$BASE"
BASE_SNAP=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
BASE_GIB=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]')
kiln_rc create-key-pair --key-name vols --key-type ed25519 --output-file "$work/vols.pem"
ROOT_GIB=$((BASE_GIB + 3))
kiln_rc run-instances --image-id "$BASE" --key-name vols --wait --block-device-mappings \
        "DeviceName=/dev/vda,Ebs={VolumeSize=$ROOT_GIB}" \
        '[{"DeviceName": "/dev/vdb", "Ebs": {"VolumeSize": 1, "VolumeType": "gp3"}}]'
tap_is "$RC" 0 "run-instances with a bigger root and an added empty volume (shorthand and JSON)"
A=$(json 'd["Instances"][0]["InstanceId"]')
ROOTVOL=$(json 'd["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]')
tap_is "$(json '[m["DeviceName"] for m in d["Instances"][0]["BlockDeviceMappings"]]')" "['/dev/vda', '/dev/vdb']" \
        "the instance maps both devices"

# ---- the mapping's volumes in the guest, baked and launched again ----
tap_is "$(disk_size "$A" vda)" $((ROOT_GIB * 1073741824)) "the guest's root disk has the size asked for"
root_fs=$(on "$A" "df -B1 --output=size / | tail -1" | tr -d ' ')
tap_ok $([ "${root_fs:-0}" -gt $(( (BASE_GIB + 2) * 1073741824 )) ]; echo $?) \
        "cloud-init grew the root file system ($root_fs bytes)"
tap_is "$(disk_size "$A" vdb)" 1073741824 "the added volume is a 1 GiB disk"
on "$A" 'echo root-data | sudo -n tee /root-file >/dev/null && sudo -n mkfs.ext4 -q /dev/vdb && sudo -n mount /dev/vdb /mnt && echo vdb-data | sudo -n tee /mnt/file >/dev/null && sudo -n umount /mnt && sync' >/dev/null
# A live bake (test-bake.sh covers the generalized one): the instance keeps running.
kiln_rc create-image --instance-id "$A" --name two-volumes --no-reboot --no-generalize
tap_is "$RC" 0 "create-image of the running instance"
TWO=$(json 'd["ImageId"]')
kiln_rc describe-images --image-ids "$TWO"
tap_is "$(json '[(m["DeviceName"], m["Ebs"]["VolumeSize"]) for m in d["Images"][0]["BlockDeviceMappings"]]')" \
        "[('/dev/vda', $ROOT_GIB), ('/dev/vdb', 1)]" "the image maps two snapshots under their device names and sizes"
TWO_ROOT=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
TWO_DATA=$(json 'd["Images"][0]["BlockDeviceMappings"][1]["Ebs"]["SnapshotId"]')
kiln_rc run-instances --image-id "$TWO" --key-name vols
tap_is "$RC" 0 "the image of two volumes launches"
B=$(json 'd["Instances"][0]["InstanceId"]')
# The same snapshots registered as RegisterImage does, with an empty third volume; both guests
# boot at once.
kiln_rc register-image --name from-snapshots --root-device-name /dev/vda --block-device-mappings \
        "DeviceName=/dev/vda,Ebs={SnapshotId=$TWO_ROOT}" "DeviceName=/dev/vdb,Ebs={SnapshotId=$TWO_DATA}" \
        'DeviceName=/dev/vdc,Ebs={VolumeSize=2}'
tap_is "$RC" 0 "register-image from the snapshots and an empty volume"
REG=$(json 'd["ImageId"]')
kiln_rc run-instances --image-id "$REG" --key-name vols
C=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc wait instance-ready --instance-ids "$B" "$C"
tap_is "$RC" 0 "both instances are ready"
tap_is "$(on "$B" 'cat /root-file; sudo -n mount /dev/vdb /mnt && cat /mnt/file; sudo -n umount /mnt')" \
        "root-data
vdb-data" "both files are there, on the same devices"
tap_is "$(on "$C" 'cat /root-file; sudo -n mount /dev/vdb /mnt && cat /mnt/file; sudo -n umount /mnt')" \
        "root-data
vdb-data" "the image registered from the snapshots has them too"
tap_is "$(disk_size "$C" vdc)" 2147483648 "and an empty 2 GiB disk at /dev/vdc"
kiln_rc terminate-instances --instance-ids "$B" "$C"

# ---- an empty volume, hot-plugged ----
kiln_rc create-volume --size 1 --volume-type gp3 --tag-specifications 'ResourceType=volume,Tags=[{Key=use,Value=data}]'
tap_is "$RC" 0 "create-volume --size 1"
V=$(json 'd["VolumeId"]')
tap_is "$(json 'list(d.keys())')" \
        "['AvailabilityZone', 'CreateTime', 'Encrypted', 'Size', 'SnapshotId', 'State', 'VolumeId', 'Tags', 'VolumeType', 'MultiAttachEnabled']" \
        "CreateVolume's members in the aws CLI order"
tap_is "$(json 'd["State"] + " " + str(d["Size"]) + " " + d["VolumeType"]')" "available 1 gp3" "available, 1 GiB, gp3"
tap_is "$(stat -c %a "$(pool_path local)/$V.qcow2")" 600 "its file is kiln's user's alone"
kiln_rc attach-volume --volume-id "$V" --instance-id "$A" --device /dev/sdf
tap_is "$RC" 0 "attach-volume to the running instance"
tap_is "$(json 'd["State"] + " " + d["Device"] + " " + d["InstanceId"]')" "attached /dev/sdf $A" "VolumeAttachment: attached, the device asked for"
kiln_rc wait volume-in-use --volume-ids "$V"
tap_is "$RC" 0 "wait volume-in-use"
tap_is "$(vol_state "$V")" "in-use $A:/dev/sdf" "describe-volumes: in-use, with the attachment"
wait_disk "$A" "$(by_id "$V")"
VDEV=$(dev_of "$A" "$V")
tap_is "$(disk_size "$A" "$VDEV")" 1073741824 "the guest sees a 1 GiB disk at once (hot-plug), serial ${V/-/}"
kiln_rc describe-instances --instance-ids "$A"
tap_is "$(json '[m["DeviceName"] for m in d["Reservations"][0]["Instances"][0]["BlockDeviceMappings"]]')" \
        "['/dev/vda', '/dev/vdb', '/dev/sdf']" "describe-instances maps it under its device name"
on "$A" "sudo -n mkfs.ext4 -q -L kilndata /dev/$VDEV && sudo -n mount /dev/$VDEV /mnt && echo volume-data | sudo -n tee /mnt/file >/dev/null && sudo -n umount /mnt" >/dev/null
tap_is "$(on "$A" "sudo -n blkid -s LABEL -o value /dev/$VDEV")" kilndata "the guest made a file system on it"

# ---- create-image's mappings: a hot-plugged volume left out, the root recorded bigger ----
kiln_rc create-image --instance-id "$A" --name no-root --no-reboot --no-generalize \
        --block-device-mappings DeviceName=/dev/vda,NoDevice=
tap_is "$RC" 3 "create-image cannot leave the root out: exit 3"
kiln_rc create-image --instance-id "$A" --name no-sdf --no-reboot --no-generalize \
        --block-device-mappings DeviceName=/dev/sdf,NoDevice= "DeviceName=/dev/vda,Ebs={VolumeSize=$((ROOT_GIB + 1))}"
tap_is "$RC" 0 "create-image leaving the hot-plugged volume out (a live bake)"
NOSDF=$(json 'd["ImageId"]')
kiln_rc describe-images --image-ids "$NOSDF"
tap_is "$(json '[(m["DeviceName"], m["Ebs"]["VolumeSize"]) for m in d["Images"][0]["BlockDeviceMappings"]]')" \
        "[('/dev/vda', $((ROOT_GIB + 1))), ('/dev/vdb', 1)]" "the image maps the root, bigger, and vdb, not sdf"
tap_is "$(vol_state "$V")" "in-use $A:/dev/sdf" "the volume left out is untouched"
tap_is "$(on "$A" "sudo -n blkid -s LABEL -o value /dev/$VDEV")" kilndata "and still the guest's"

# ---- refusals ----
kiln_rc create-volume --size 1
V2=$(json 'd["VolumeId"]')
kiln_rc attach-volume --volume-id "$V2" --instance-id "$A" --device /dev/sdf
tap_is "$RC" 3 "a device in use: exit 3"
tap_like "$ERR" "Attachment point /dev/sdf is already in use" "says so"
kiln_rc attach-volume --volume-id "$V" --instance-id "$A" --device /dev/sdg
tap_is "$RC" 6 "a volume in use: exit 6"
tap_like "$ERR" "VolumeInUse" "VolumeInUse"
kiln_rc delete-volume --volume-id "$V"
tap_is "$RC" 6 "delete-volume while attached: exit 6"
kiln_rc detach-volume --volume-id "$ROOTVOL"
tap_is "$RC" 7 "the root volume cannot be detached: exit 7"
tap_like "$ERR" "OperationNotPermitted" "OperationNotPermitted"
kiln_rc create-volume --snapshot-id "$BASE_SNAP" --size $((BASE_GIB - 1))
tap_is "$RC" 3 "a volume smaller than its snapshot: exit 3"
tap_like "$ERR" "is too small; minimum is ${BASE_GIB}GiB" "says the minimum"
kiln_rc describe-volumes --filters Name=status,Values=available
tap_is "$(json '[v["VolumeId"] for v in d["Volumes"]]')" "['$V2']" "the refusals made or changed no volume"
kiln_rc delete-volume --volume-id "$V2"

# ---- detach from the running guest ----
kiln_rc detach-volume --volume-id "$V" --instance-id "$A"
tap_is "$RC" 0 "detach-volume"
tap_is "$(json 'd["State"]')" detached "VolumeAttachment: detached"
wait_disk "$A" "$(by_id "$V")" gone
tap_ok $? "the guest let go of the disk"
kiln_rc wait volume-available --volume-ids "$V" --timeout 30
tap_is "$RC" 0 "wait volume-available"
tap_is "$(vol_state "$V")" "available " "the volume is available again"

# ---- attach to the stopped instance: seen at the next start, with its data ----
kiln_rc stop-instances --instance-ids "$A"
kiln_rc wait instance-stopped --instance-ids "$A"
kiln_rc attach-volume --volume-id "$V" --instance-id "$A" --device /dev/sdg
tap_is "$RC" 0 "attach-volume to the stopped instance"
kiln_rc start-instances --instance-ids "$A"
kiln_rc wait instance-ready --instance-ids "$A"
tap_is "$RC" 0 "it starts with the volume"
tap_is "$(on "$A" "sudo -n mount /dev/$(by_id "$V") /mnt && cat /mnt/file; sudo -n umount /mnt")" volume-data \
        "and the guest reads what it wrote there"

# ---- create-snapshot of the attached volume, live, and incremental ----
kiln_rc create-snapshot --volume-id "$V" --description "first" \
        --tag-specifications 'ResourceType=snapshot,Tags=[{Key=when,Value=first}]'
tap_is "$RC" 0 "create-snapshot of a volume in use by a running instance"
tap_like "$ERR" "only crash-consistent" "warns that a live snapshot is only crash-consistent"
SN1=$(json 'd["SnapshotId"]')
tap_is "$(json 'd["State"] + " " + d["VolumeId"] + " " + str(d["VolumeSize"]) + " " + d["Description"] + " " + d["Tags"][0]["Value"]')" \
        "completed $V 1 first first" "completed, of the volume, its size, description and tags"
on "$A" "sudo -n mount /dev/$(by_id "$V") /mnt && echo second | sudo -n tee /mnt/file2 >/dev/null && sudo -n umount /mnt" >/dev/null
kiln_rc create-snapshot --volume-id "$V"
SN2=$(json 'd["SnapshotId"]')
tap_is "$(json 'd.get("ParentSnapshotId")')" "$SN1" "the second snapshot is incremental: its parent is the first"
# The second snapshot froze the overlay the first one started (VOLUME.SNAPSHOT.qcow2).
tap_ok $([ "$(stat -c %s "$(pool_path local)/$V.$SN1.qcow2")" -lt 33554432 ]; echo $?) \
        "and holds only what was written since (under 32 MiB)"
kiln_rc describe-volumes --volume-ids "$V"
tap_is "$(json 'repr(d["Volumes"][0]["SnapshotId"])')" "''" "the volume still shows the snapshot it was made from (none), as EC2 does"
kiln_rc create-snapshot --volume-id vol-0123456789abcdef0
tap_is "$RC" 4 "create-snapshot of an unknown volume: exit 4"
tap_like "$ERR" "InvalidVolume.NotFound" "InvalidVolume.NotFound"
kiln_rc create-snapshot --volume-id "$V" --tag-specifications 'ResourceType=image,Tags=[{Key=a,Value=b}]'
tap_is "$RC" 3 "tags for an image on create-snapshot: exit 3"
kiln_rc describe-snapshots --filters Name=volume-id,Values="$V"
tap_is "$(json 'sorted(s["SnapshotId"] for s in d["Snapshots"])')" "$(python3 -c "print(sorted(['$SN1', '$SN2']))")" \
        "the refusals made no snapshot"
kiln_rc create-volume --snapshot-id "$SN2"
SV=$(json 'd["VolumeId"]')
kiln_rc attach-volume --volume-id "$SV" --instance-id "$A" --device /dev/sdi
wait_disk "$A" "$(by_id "$SV")"
tap_is "$(on "$A" "sudo -n mount -o ro /dev/$(by_id "$SV") /mnt && cat /mnt/file /mnt/file2; sudo -n umount /mnt")" \
        "volume-data
second" "a volume from the second snapshot has both files"
kiln_rc detach-volume --volume-id "$SV"
kiln_rc wait volume-available --volume-ids "$SV" --timeout 30
kiln_rc delete-volume --volume-id "$SV"
tap_is "$RC" 0 "and is detached and deleted"

# ---- a volume from the image's snapshot, bigger ----
kiln_rc create-volume --snapshot-id "$BASE_SNAP" --size $((BASE_GIB + 1))
tap_is "$RC" 0 "create-volume from the image's snapshot, 1 GiB bigger"
S=$(json 'd["VolumeId"]')
tap_is "$(json 'd["SnapshotId"] + " " + str(d["Size"])')" "$BASE_SNAP $((BASE_GIB + 1))" "with its snapshot and size"
kiln_rc attach-volume --volume-id "$S" --instance-id "$A" --device /dev/sdh
wait_disk "$A" "$(by_id "$S")"
SDEV=$(dev_of "$A" "$S")
tap_is "$(disk_size "$A" "$SDEV")" $(( (BASE_GIB + 1) * 1073741824 )) "the guest sees its size"
tap_like "$(on "$A" "lsblk -n -o NAME /dev/$SDEV")" "${SDEV}1" "and the image's partitions on it"

# ---- a volume outlives its instance ----
kiln_rc terminate-instances --instance-ids "$A"
kiln_rc wait instance-terminated --instance-ids "$A"
tap_is "$(vol_state "$V")" "available " "an attached volume outlives its instance (DeleteOnTermination false)"
tap_ok $([ -f "$(pool_path local)/$V.qcow2" ]; echo $?) "with its file"
kiln_rc describe-volumes --volume-ids "$ROOTVOL"
tap_is "$RC" 4 "the root volume went with the instance"
kiln_rc describe-volumes --filters Name=attachment.instance-id,Values="$A"
tap_is "$(json 'len(d["Volumes"])')" 0 "and so did the mapping's added volume (DeleteOnTermination)"
kiln_rc delete-volume --volume-id "$V"
tap_is "$RC" 0 "delete-volume"
tap_ok $([ ! -e "$(pool_path local)/$V.$SN2.qcow2" ]; echo $?) "its file (the overlay on its last snapshot) is gone"
tap_ok $([ -e "$(pool_path local)/$V.qcow2" ]; echo $?) "its snapshots' files stay with the snapshots"
kiln_rc delete-volume --volume-id "$S"
kiln_rc fsck
tap_is "$RC" 0 "fsck finds the home consistent"

# ---- crashes: fsck finishes or undoes what a killed create-volume or delete-volume left ----
for p in create-volume.after-reserve:stale-creating-volume:0 \
        create-volume.after-file:stale-creating-volume:1 delete-volume.after-record:orphan-file:0 \
        create-snapshot.after-reserve:stale-pending-snapshot:0 \
        create-snapshot.after-overlay:stale-pending-snapshot:1; do
        point=${p%%:*} rest=${p#*:}
        kind=${rest%%:*} want=${rest#*:}
        case $point in
        delete-*)
                kiln_rc create-volume --size 1
                D=$(json 'd["VolumeId"]')
                KILN_CRASH_AT=$point "$KILN_BIN" --no-progress delete-volume --volume-id "$D" >/dev/null 2>&1
                ;;
        create-snapshot.*)
                kiln_rc create-volume --size 1
                D=$(json 'd["VolumeId"]')
                KILN_CRASH_AT=$point "$KILN_BIN" --no-progress create-snapshot --volume-id "$D" >/dev/null 2>&1
                ;;
        *) KILN_CRASH_AT=$point "$KILN_BIN" --no-progress create-volume --size 1 >/dev/null 2>&1 ;;
        esac
        kiln_rc fsck
        tap_ok $([ "$RC" = 6 ] && printf '%s' "$OUT" | grep -q "$kind"; echo $?) "[$point] killed: fsck reports $kind"
        kiln_rc fsck --repair
        kiln_rc fsck
        tap_is "$RC" 0 "[$point] repaired"
        case $point in
        create-snapshot.*)
                kiln_rc describe-snapshots --filters Name=volume-id,Values="$D"
                tap_is "$(json '" ".join(s["State"] for s in d["Snapshots"])')" \
                        "$([ "$want" = 1 ] && echo completed)" "[$point] rolled $([ "$want" = 1 ] && echo forward || echo back)"
                kiln_rc describe-volumes --volume-ids "$D"
                tap_is "$(json 'd["Volumes"][0]["State"]')" available "[$point] the volume is available"
                kiln_rc describe-snapshots --filters Name=volume-id,Values="$D"
                for sn in $(json '" ".join(s["SnapshotId"] for s in d["Snapshots"])'); do
                        kiln_rc delete-snapshot --snapshot-id "$sn"
                done
                ;;
        *)
                kiln_rc describe-volumes
                tap_is "$(json 'len(d["Volumes"])')" "$want" "[$point] $want volume afterwards"
                ;;
        esac
        kiln_rc describe-volumes
        for v in $(json '" ".join(v["VolumeId"] for v in d["Volumes"])'); do
                kiln_rc delete-volume --volume-id "$v"
        done
done

tap_done
