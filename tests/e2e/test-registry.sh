#!/bin/bash
# The image registry on the real libvirt daemon (no guest): register, describe with owners,
# executable users and filters, permissions for owner, other account, organization member and
# public, attributes, deregister, snapshots and their deletion rules, copy between regions with
# layer reuse, describe-storage against qemu-img, fsck and gc. Every refusal is checked for its
# EC2 code, its exit status, and for leaving nothing behind.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup
work=$KILN_HOME/test
mkdir -p "$work"

# Two small disks: raw with known bytes, and the same as qcow2.
head -c 1048576 /dev/urandom >"$work/data.bin"
qemu-img create -q -f raw "$work/disk.raw" 64M
dd if="$work/data.bin" of="$work/disk.raw" bs=1M seek=3 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
qemu-img create -q -f qcow2 -F qcow2 -b "$work/disk.qcow2" "$work/overlay.qcow2"
: >"$work/empty.raw"

count_images() { kiln_as "$1" describe-images; json 'len(d["Images"])'; }
pool_files() { ls "$(pool_path "${1:-local}")" 2>/dev/null | sort; }

# ---- regions ----
kiln_rc describe-regions
tap_is "$RC" 0 "describe-regions succeeds"
tap_is "$(json '",".join(r["RegionName"] for r in d["Regions"])')" "local,west" "both regions listed"
tap_is "$(json 'list(d["Regions"][0].keys())[:3]')" "['Endpoint', 'RegionName', 'OptInStatus']" \
        "region members in the aws CLI's order"

# ---- register ----
kiln_as $ACCT_A register-image --name web-base --disk "$work/disk.raw" --default-user admin \
        --description "base for web"
tap_is "$RC" 0 "register-image from a raw disk"
AMI1=$(json 'd["ImageId"]')
tap_like "$AMI1" '^ami-[0-9a-f]{17}$' "the new image ID is ami- and 17 hex digits"
kiln_as $ACCT_A describe-images --image-ids "$AMI1"
tap_is "$(json 'list(d["Images"][0].keys())')" \
        "['Architecture', 'CreationDate', 'ImageId', 'ImageLocation', 'ImageType', 'Public', 'OwnerId', 'PlatformDetails', 'UsageOperation', 'ProductCodes', 'State', 'BlockDeviceMappings', 'Description', 'EnaSupport', 'Hypervisor', 'Name', 'RootDeviceName', 'RootDeviceType', 'VirtualizationType', 'BootMode', 'DefaultUser']" \
        "Image members in the aws CLI 2.9.19 order"
tap_is "$(json 'd["Images"][0]["State"]+" "+d["Images"][0]["OwnerId"]+" "+d["Images"][0]["ImageLocation"]')" \
        "available $ACCT_A $ACCT_A/web-base" "state, owner and location"
SNAP1=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
tap_like "$SNAP1" '^snap-[0-9a-f]{17}$' "the mapping names a snapshot"
tap_is "$(json 'd["Images"][0]["BlockDeviceMappings"][0]["DeviceName"]+" "+str(d["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"])')" \
        "/dev/vda 1" "device /dev/vda, 1 GiB"
f=$(pool_path local)/$SNAP1.qcow2
tap_is "$(qemu-img info --output=json "$f" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["format"], d["virtual-size"], "backing-filename" in d)')" \
        "qcow2 67108864 False" "the snapshot is a standalone qcow2 volume of the disk's size"
tap_is "$(stat -c %a "$f")" "400" "the snapshot file is read-only, and kiln's user's alone"
qemu-img compare -q -f raw -F qcow2 "$work/disk.raw" "$f"
tap_ok $? "the snapshot holds the disk's bytes"

kiln_as $ACCT_A register-image --name web-q --disk "$work/disk.qcow2"
tap_is "$RC" 0 "register-image from a qcow2 disk"
AMI2=$(json 'd["ImageId"]')

# ---- bad input: refused, nothing registered, no file left ----
before_files=$(pool_files)
before_n=$(count_images $ACCT_A)
bad() {
        local want_rc=$1 want_code=$2 what=$3; shift 3
        kiln_as $ACCT_A "$@"
        tap_is "$RC" "$want_rc" "$what: exit $want_rc"
        tap_like "$ERR" "^kiln: $want_code: " "$what: $want_code"
}
bad 3 'InvalidAMIName\.Malformed' "a 2-character name" register-image --name ab --disk "$work/disk.raw"
bad 3 'InvalidAMIName\.Malformed' "a name with '!'" register-image --name 'web!' --disk "$work/disk.raw"
bad 5 'InvalidAMIName\.Duplicate' "a name in use" register-image --name web-base --disk "$work/disk.raw"
tap_like "$ERR" "AMI name web-base is already in use by AMI $AMI1" "the duplicate message names the image"
bad 3 'InvalidParameterValue' "a disk with a backing file" register-image --name web-b --disk "$work/overlay.qcow2"
bad 3 'InvalidParameterValue' "an empty disk" register-image --name web-e --disk "$work/empty.raw"
bad 3 '[A-Za-z.]+' "a missing disk" register-image --name web-m --disk "$work/nope.raw"
bad 3 'InvalidParameterValue' "an unknown platform" register-image --name web-p --disk "$work/disk.raw" --platform beos
bad 3 'InvalidParameterValue' "a description over 255 characters" register-image --name web-d --disk "$work/disk.raw" --description "$(head -c 256 /dev/zero | tr '\0' x)"
kiln_as $ACCT_A register-image --disk "$work/disk.raw"
tap_is "$RC" 2 "register-image without --name is a usage error"
tap_is "$(count_images $ACCT_A)" "$before_n" "no refused register left an image"
tap_is "$(pool_files)" "$before_files" "no refused register left a file in the pool"
kiln_rc --account 999999999999 describe-images
tap_is "$RC" 7 "an unconfigured account is refused"
kiln_rc --region mars describe-images
tap_like "$ERR" "InvalidRegion" "an unknown region is refused"

# ---- describe-images ----
kiln_as $ACCT_A describe-images --filters Name=name,Values=web-*
tap_is "$(json 'sorted(i["Name"] for i in d["Images"])')" "['web-base', 'web-q']" "name filter with *"
kiln_as $ACCT_A describe-images --filters Name=name,Values=web-?
tap_is "$(json 'sorted(i["Name"] for i in d["Images"])')" "['web-q']" "? matches one character"
kiln_as $ACCT_A describe-images --filters 'Name=name,Values=web-base,web-q' Name=state,Values=available
tap_is "$(json 'len(d["Images"])')" "2" "values OR, filters AND"
kiln_as $ACCT_A describe-images --filters '[{"Name":"description","Values":["base*"]}]'
tap_is "$(json '[i["ImageId"] for i in d["Images"]]')" "['$AMI1']" "JSON filters"
kiln_as $ACCT_A describe-images --filters Name=is-public,Values=true
tap_is "$(json 'len(d["Images"])')" "0" "is-public filter"
kiln_as $ACCT_A describe-images --filters Name=owner-id,Values=$ACCT_A --owners self
tap_is "$(json 'len(d["Images"])')" "2" "owner-id filter and --owners self"
bad 3 'InvalidFilter' "an unknown filter" describe-images --filters Name=colour,Values=red
tap_like "$ERR" "The filter 'colour' is invalid" "InvalidFilter names the filter"
bad 3 'InvalidAMIID\.Malformed' "a malformed image ID" describe-images --image-ids ami-xyz
tap_like "$ERR" 'Invalid id: "ami-xyz" \(expecting "ami-..."\)' "Malformed wording"
bad 4 'InvalidAMIID\.NotFound' "an unknown image ID" describe-images --image-ids ami-0123456789abcdef0
tap_like "$ERR" "The image id '\[ami-0123456789abcdef0\]' does not exist" "NotFound wording"
bad 3 'InvalidUserID\.Malformed' "a bad owner" describe-images --owners nobody

# ---- permissions: other account, explicit share, organization, public ----
tap_is "$(count_images $ACCT_B)" "0" "another account sees no private image"
kiln_as $ACCT_B describe-images --image-ids "$AMI1"
tap_is "$RC" 4 "another account gets NotFound for a private image"
kiln_as $ACCT_B deregister-image --image-id "$AMI1"
tap_is "$RC" 4 "another account cannot even find it to deregister"

kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{UserId=$ACCT_B}]"
tap_is "$RC" 0 "the owner shares with an account"
tap_is "$OUT" "" "modify-image-attribute prints nothing"
kiln_as $ACCT_B describe-images
tap_is "$(json '[i["ImageId"] for i in d["Images"]]')" "['$AMI1']" "the account now sees the shared image"
kiln_as $ACCT_B describe-images --executable-users self
tap_is "$(json 'len(d["Images"])')" "1" "--executable-users self lists images shared with the caller"
kiln_as $ACCT_A describe-images --executable-users self
tap_is "$(json 'len(d["Images"])')" "0" "--executable-users self excludes the caller's own"
kiln_as $ACCT_A describe-images --executable-users $ACCT_B
tap_is "$(json '[i["ImageId"] for i in d["Images"]]')" "['$AMI1']" "--executable-users ACCOUNT"
tap_is "$(count_images $ACCT_C)" "0" "a third account still sees nothing"
kiln_as $ACCT_B modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{Group=all}]"
tap_is "$RC" 7 "a grantee cannot re-share (exit 7)"
tap_like "$ERR" "^kiln: AuthFailure: Not authorized for images: \[$AMI1\]" "AuthFailure wording"
kiln_as $ACCT_B deregister-image --image-id "$AMI1"
tap_is "$RC" 7 "a grantee cannot deregister"
kiln_as $ACCT_B describe-image-attribute --image-id "$AMI1" --attribute launchPermission
tap_is "$RC" 7 "a grantee cannot read the launch permissions"
kiln_as $ACCT_A describe-image-attribute --image-id "$AMI1" --attribute launchPermission
tap_is "$OUT" "$(printf '{\n    "ImageId": "%s",\n    "LaunchPermissions": [\n        {\n            "UserId": "%s"\n        }\n    ]\n}' "$AMI1" "$ACCT_B")" \
        "describe-image-attribute launchPermission as the aws CLI prints it"
kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Remove=[{UserId=$ACCT_B}]"
tap_is "$(count_images $ACCT_B)" "0" "after removal the account sees nothing"
kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{UserId=12345}]"
tap_is "$RC" 3 "a malformed account in a permission is refused"
tap_like "$ERR" "InvalidAMIAttributeItemValue" "with InvalidAMIAttributeItemValue"

kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{OrganizationArn=$ORG_ARN}]"
tap_is "$RC" 0 "the owner shares with an organization"
tap_is "$(count_images $ACCT_C)" "1" "an organization member sees it"
tap_is "$(count_images $ACCT_B)" "0" "an account outside the organization does not"
kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{OrganizationArn=o-doesnotexist1}]"
tap_is "$RC" 3 "an unknown organization is refused"
kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --attribute launchPermission --operation-type remove --organization-arns "$ORG_ARN"
tap_is "$(count_images $ACCT_C)" "0" "flat form removes the organization"

kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission '{"Add":[{"Group":"all"}]}'
tap_is "$RC" 0 "the owner makes the image public (JSON form)"
kiln_as $ACCT_B describe-images --image-ids "$AMI1"
tap_is "$(json 'd["Images"][0]["Public"]')" "True" "another account sees it, Public true"
kiln_as $ACCT_C describe-images --executable-users all
tap_is "$(json '[i["ImageId"] for i in d["Images"]]')" "['$AMI1']" "--executable-users all lists public images"
kiln_as $ACCT_B describe-images --filters Name=is-public,Values=true
tap_is "$(json 'len(d["Images"])')" "1" "is-public filter finds it"
kiln_as $ACCT_A reset-image-attribute --image-id "$AMI1" --attribute launchPermission
tap_is "$RC" 0 "reset-image-attribute"
tap_is "$(count_images $ACCT_B)" "0" "after reset the image is private again"
kiln_as $ACCT_A reset-image-attribute --image-id "$AMI1" --attribute description
tap_is "$RC" 3 "only launchPermission can be reset"

kiln_as $ACCT_A register-image --name 'odd (chars) [1]' --disk "$work/disk.raw" --description "$(printf 'say "hi"\\ back \u00e9')"
ODD=$(json 'd["ImageId"]')
kiln_as $ACCT_A describe-images --image-ids "$ODD"
tap_is "$(json 'd["Images"][0]["Description"]')" "$(printf 'say "hi"\\ back \u00e9')" \
        "quotes, backslashes and UTF-8 survive the JSON output"
tap_is "$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; s=sys.stdin.read(); print(json.dumps(json.loads(s), indent=4, ensure_ascii=False) + "\n" == s)')" \
        "True" "describe-images prints exactly as the aws CLI would (json.dumps, indent 4)"
kiln_as $ACCT_A deregister-image --image-id "$ODD"

kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --description "Value=new words"
kiln_as $ACCT_A describe-image-attribute --image-id "$AMI1" --attribute description
tap_is "$(json 'd["Description"]["Value"]')" "new words" "description changed and shown"

# ---- snapshots and createVolumePermission ----
kiln_as $ACCT_A describe-snapshots --owner-ids self
tap_is "$(json 'len(d["Snapshots"])')" "3" "the owner's snapshots (deregistering kept one)"
kiln_as $ACCT_A describe-snapshots --snapshot-ids "$SNAP1"
tap_is "$(json 'list(d["Snapshots"][0].keys())[:9]')" \
        "['Description', 'Encrypted', 'OwnerId', 'Progress', 'SnapshotId', 'StartTime', 'State', 'VolumeId', 'VolumeSize']" \
        "Snapshot members in the aws CLI order"
tap_is "$(json 'd["Snapshots"][0]["State"]+" "+d["Snapshots"][0]["Progress"]')" "completed 100%" "completed, 100%"
kiln_as $ACCT_B describe-snapshots --snapshot-ids "$SNAP1"
tap_is "$RC" 4 "another account cannot see a private snapshot"
tap_like "$ERR" "InvalidSnapshot.NotFound: The snapshot '$SNAP1' does not exist." "snapshot NotFound wording"
kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{UserId=$ACCT_B}]" --with-snapshots
kiln_as $ACCT_B describe-snapshots --restorable-by-user-ids self
tap_is "$(json '[s["SnapshotId"] for s in d["Snapshots"]]')" "['$SNAP1']" "--with-snapshots grants createVolumePermission"
kiln_as $ACCT_A describe-snapshot-attribute --snapshot-id "$SNAP1" --attribute createVolumePermission
tap_is "$(json 'd["CreateVolumePermissions"]')" "[{'UserId': '$ACCT_B'}]" "describe-snapshot-attribute"
kiln_as $ACCT_A modify-snapshot-attribute --snapshot-id "$SNAP1" --create-volume-permission "Add=[{UserId=$ACCT_C}],Remove=[{UserId=$ACCT_B}]"
tap_is "$RC" 3 "add and remove at once is refused"
kiln_as $ACCT_A modify-snapshot-attribute --snapshot-id "$SNAP1" --attribute createVolumePermission --operation-type remove --user-ids $ACCT_B
kiln_as $ACCT_B describe-snapshots
tap_is "$(json 'len(d["Snapshots"])')" "0" "createVolumePermission removed (flat form)"
kiln_as $ACCT_B modify-snapshot-attribute --snapshot-id "$SNAP1" --create-volume-permission "Add=[{Group=all}]"
tap_is "$RC" 4 "another account cannot change a snapshot it cannot see"
kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Remove=[{UserId=$ACCT_B}]"

kiln_as $ACCT_A delete-snapshot --snapshot-id "$SNAP1"
tap_is "$RC" 6 "a snapshot used by a registered image cannot be deleted (exit 6)"
tap_like "$ERR" "^kiln: InvalidSnapshot.InUse: The snapshot $SNAP1 is currently in use by $AMI1" "InUse wording"
tap_ok $([ -f "$(pool_path local)/$SNAP1.qcow2" ]; echo $?) "and its file stays"
bad 3 'InvalidSnapshotID\.Malformed' "a malformed snapshot ID" delete-snapshot --snapshot-id snap-1
bad 4 'InvalidSnapshot\.NotFound' "an unknown snapshot" delete-snapshot --snapshot-id snap-0123456789abcdef0

# ---- deregister ----
kiln_as $ACCT_A deregister-image --image-id "$AMI2"
tap_is "$RC" 0 "deregister-image"
tap_is "$OUT" "" "deregister-image prints nothing"
kiln_as $ACCT_A describe-images --image-ids "$AMI2"
tap_is "$RC" 4 "a deregistered image is not found"
kiln_as $ACCT_A deregister-image --image-id "$AMI2"
tap_is "$RC" 6 "deregistering twice: exit 6"
tap_like "$ERR" "InvalidAMIID.Unavailable: The image id '\[$AMI2\]' is no longer available" "Unavailable wording"
kiln_as $ACCT_A describe-snapshots --owner-ids self
tap_is "$(json 'len(d["Snapshots"])')" "3" "its snapshot stays after deregistering"
kiln_as $ACCT_A register-image --name web-q --disk "$work/disk.raw"
tap_is "$RC" 0 "the name of a deregistered image can be used again"
AMI3=$(json 'd["ImageId"]')

# ---- tags on images and snapshots ----
kiln_as $ACCT_A create-tags --resources "$AMI1" "$SNAP1" --tags Key=role,Value=web Key=tier,Value=
tap_is "$RC" 0 "create-tags on an image and its snapshot"
kiln_as $ACCT_A describe-images --image-ids "$AMI1"
tap_is "$(json '[(t["Key"], t["Value"]) for t in d["Images"][0]["Tags"]]')" "[('role', 'web'), ('tier', '')]" \
        "describe-images shows the image's tags"
kiln_as $ACCT_A describe-snapshots --snapshot-ids "$SNAP1"
tap_is "$(json 'd["Snapshots"][0]["Tags"][0]["Key"]')" "role" "describe-snapshots shows the snapshot's"
kiln_as $ACCT_A describe-images --owners self --filters Name=tag:role,Values=w?b
tap_is "$(json '[i["ImageId"] for i in d["Images"]]')" "['$AMI1']" "describe-images --filters Name=tag:role,Values=w?b"
kiln_as $ACCT_A describe-snapshots --owner-ids self --filters Name=tag-key,Values=tier
tap_is "$(json '[s["SnapshotId"] for s in d["Snapshots"]]')" "['$SNAP1']" "describe-snapshots --filters Name=tag-key,Values=tier"
kiln_as $ACCT_A describe-tags --filters Name=resource-type,Values=image,snapshot
tap_is "$(json 'sorted((t["ResourceType"], t["Key"]) for t in d["Tags"])')" \
        "[('image', 'role'), ('image', 'tier'), ('snapshot', 'role'), ('snapshot', 'tier')]" "describe-tags by resource type"
kiln_as $ACCT_B create-tags --resources "$AMI1" --tags Key=role,Value=mine
tap_is "$RC" 4 "another account cannot tag an image it cannot see: exit 4"

# ---- copy-image ----
kiln_rc --region west --account $ACCT_A copy-image --source-region local --source-image-id "$AMI1" --name web-west
tap_is "$RC" 0 "copy-image into another region"
W1=$(json 'd["ImageId"]')
tap_ok $([ "$W1" != "$AMI1" ]; echo $?) "the copy has a new image ID"
kiln_rc --region west --account $ACCT_A describe-images --image-ids "$W1"
WS1=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
tap_ok $([ "$WS1" != "$SNAP1" ] && [ -n "$WS1" ]; echo $?) "and a new snapshot ID"
tap_is "$(json 'd["Images"][0]["SourceImageId"]+" "+d["Images"][0]["SourceImageRegion"]+" "+d["Images"][0]["Description"]')" \
        "$AMI1 local new words" "the copy records its source"
qemu-img compare -q "$(pool_path local)/$SNAP1.qcow2" "$(pool_path west)/$WS1.qcow2"
tap_ok $? "the copied layer holds the same data"
kiln_as $ACCT_A describe-images --image-ids "$W1"
tap_is "$RC" 4 "the copy is regional: not found in the source region"
kiln_as $ACCT_A modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{Group=all}]"
kiln_rc --region west --account $ACCT_A copy-image --source-region local --source-image-id "$AMI1" --name web-west2
W2=$(json 'd["ImageId"]')
kiln_rc --region west --account $ACCT_A describe-images --image-ids "$W2"
WS2=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
tap_is "$(json 'd["Images"][0]["Public"]')" "False" "launch permissions are not copied"
tap_is "$(qemu-img info --output=json "$(pool_path west)/$WS2.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename",""))')" \
        "$(pool_path west)/$WS1.qcow2" "a second copy reuses the layer already there (its snapshot is an overlay on it)"
tap_ok $([ "$(stat -c %s "$(pool_path west)/$WS2.qcow2")" -lt 1048576 ]; echo $?) "so the second copy sent no data"
kiln_rc --region west --account $ACCT_A describe-images --image-ids "$W1"
tap_is "$(json '"Tags" in d["Images"][0]')" "False" "a copy has no tags unless asked"
kiln_rc --region west --account $ACCT_A copy-image --source-region local --source-image-id "$AMI1" --name web-west-tags \
        --copy-image-tags
W3=$(json 'd["ImageId"]')
kiln_rc --region west --account $ACCT_A describe-images --image-ids "$W3"
tap_is "$(json '[(t["Key"], t["Value"]) for t in d["Images"][0]["Tags"]]')" "[('role', 'web'), ('tier', '')]" \
        "copy-image --copy-image-tags carries the image's tags"
kiln_rc --region west --account $ACCT_A copy-image --source-region local --source-image-id "$AMI1" --name web-west
tap_is "$RC" 5 "copy to a name in use is refused"
kiln_rc --region west --account $ACCT_B copy-image --source-region local --source-image-id "$AMI3" --name stolen
tap_is "$RC" 4 "an account that may not launch the source cannot copy it"
kiln_rc --region west --account $ACCT_B copy-image --source-region local --source-image-id "$AMI1" --name bobs-copy
tap_is "$RC" 7 "launch permission alone does not let another account copy an image (exit 7)"
tap_like "$ERR" "AuthFailure: You do not have permission to access the storage of this ami" \
        "as EC2 says it: the snapshots must be readable too"
kiln_rc --region west --account $ACCT_B describe-images --owners self
tap_is "$(json 'len(d["Images"])')" 0 "and nothing was registered"
kiln_as $ACCT_A modify-snapshot-attribute --snapshot-id "$SNAP1" --create-volume-permission "Add=[{UserId=$ACCT_B}]"
kiln_rc --region west --account $ACCT_B copy-image --source-region local --source-image-id "$AMI1" --name bobs-copy
tap_is "$RC" 0 "with createVolumePermission on its snapshot, another account may copy a public image"
kiln_rc --region west copy-image --source-region mars --source-image-id "$AMI1" --name x-mars
tap_like "$ERR" "InvalidRegion" "an unknown source region is refused"

# ---- deleting a layer that others build on ----
kiln_rc --region west deregister-image --image-id "$W1"
kiln_rc --region west delete-snapshot --snapshot-id "$WS1"
tap_is "$RC" 0 "a snapshot other layers build on can be deleted"
kiln_rc --region west describe-snapshots --snapshot-ids "$WS1"
tap_is "$RC" 4 "it is gone from describe-snapshots"
tap_ok $([ -f "$(pool_path west)/$WS1.qcow2" ]; echo $?) "but its data stays for the layer above"
qemu-img check -q "$(pool_path west)/$WS2.qcow2"
tap_ok $? "the image built on it is intact"

# ---- describe-storage ----
kiln_as $ACCT_A describe-storage
tap_is "$RC" 0 "describe-storage"
alloc=$(( $(stat -c %b "$(pool_path local)/$SNAP1.qcow2") * $(stat -c %B "$(pool_path local)/$SNAP1.qcow2") ))
tap_is "$(json '[s["BytesUsed"] for s in d["Snapshots"] if s["SnapshotId"]=="'$SNAP1'"][0]')" \
        "$(qemu-img info --output=json "$(pool_path local)/$SNAP1.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["actual-size"])')" \
        "a snapshot's bytes are what qemu-img reports as its disk size"
tap_ok $([ "$alloc" -lt 67108864 ]; echo $?) "bytes used are far below the virtual size (64 MiB)"
tap_is "$(json 'round(sum(s["BytesUsed"] for s in d["Snapshots"]) - [a["BytesUsed"] for a in d["Accounts"] if a["AccountId"]=="'$ACCT_A'"][0])')" \
        "0" "the account total is the sum of its snapshots"
tap_is "$(json 'abs([a["MonthlyCost"] for a in d["Accounts"] if a["AccountId"]=="'$ACCT_A'"][0] - [a["BytesUsed"] for a in d["Accounts"] if a["AccountId"]=="'$ACCT_A'"][0] / 2**30 * 0.05) < 1e-9')" \
        "True" "monthly cost at 0.05 per GiB-month"
kiln_rc --region west --account $ACCT_A describe-storage
tap_is "$(json '[i["UniqueBytes"] + i["SharedBytes"] == i["BytesUsed"] and len(i["Snapshots"]) for i in d["Images"] if i["ImageId"]=="'$W2'"][0]')" \
        "2" "an image's chain holds its overlay and the reused layer"
tap_is "$(json '[i["SharedBytes"] for i in d["Images"] if i["ImageId"]=="'$W2'"][0] > 0')" \
        "True" "the layer shared with another account's copy counts as shared"

# ---- images of several devices: disk files, snapshots, empty volumes ----
qemu-img create -q -f qcow2 "$work/data.qcow2" 2G
before_files=$(pool_files)
before_n=$(count_images $ACCT_A)
bad 3 'InvalidBlockDeviceMapping' "a root device with no disk and no snapshot" \
        register-image --name multi-x --disk /dev/vdb="$work/data.qcow2"
bad 3 'InvalidBlockDeviceMapping' "an empty root volume" \
        register-image --name multi-x --block-device-mappings 'DeviceName=/dev/vda,Ebs={VolumeSize=2}'
bad 3 'InvalidBlockDeviceMapping' "a device with a disk and a mapping" \
        register-image --name multi-x --disk "$work/disk.raw" /dev/vdb="$work/data.qcow2" \
        --block-device-mappings "DeviceName=/dev/vdb,Ebs={SnapshotId=$SNAP1}"
bad 3 'InvalidBlockDeviceMapping' "a device with two disks" \
        register-image --name multi-x --disk "$work/disk.raw" /dev/vdb="$work/data.qcow2" /dev/vdb="$work/disk.raw"
bad 3 'InvalidBlockDeviceMapping' "NoDevice" \
        register-image --name multi-x --disk "$work/disk.raw" --block-device-mappings DeviceName=/dev/vdc,NoDevice=
bad 4 'InvalidSnapshot\.NotFound' "an unknown snapshot" \
        register-image --name multi-x --block-device-mappings 'DeviceName=/dev/vda,Ebs={SnapshotId=snap-0123456789abcdef0}'
bad 3 'InvalidBlockDeviceMapping' "a volume over 16384 GiB" \
        register-image --name multi-x --root-device-name /dev/xvda \
        --block-device-mappings "DeviceName=/dev/xvda,Ebs={SnapshotId=$SNAP1}" "DeviceName=/dev/xvdc,Ebs={VolumeSize=20000}"
bad 3 'InvalidParameterValue' "a data disk with a backing file" \
        register-image --name multi-x --disk "$work/disk.raw" /dev/vdb="$work/overlay.qcow2"
kiln_as $ACCT_A register-image --name multi-x --disk "$work/disk.raw" "$work/disk.qcow2"
tap_is "$RC" 2 "two root files: a usage error"
tap_is "$(count_images $ACCT_A)" "$before_n" "no refused register left an image"
tap_is "$(pool_files)" "$before_files" "nor a file in the pool"

kiln_as $ACCT_A register-image --name multi-disk --disk /dev/vdb="$work/data.qcow2" "$work/disk.raw" --default-user admin
tap_is "$RC" 0 "register-image of a root file and a data file"
MULTI=$(json 'd["ImageId"]')
kiln_as $ACCT_A describe-images --image-ids "$MULTI"
tap_is "$(json '[(m["DeviceName"], m["Ebs"]["VolumeSize"]) for m in d["Images"][0]["BlockDeviceMappings"]]')" \
        "[('/dev/vda', 1), ('/dev/vdb', 2)]" "maps both devices, the root first, with their sizes"
MSNAP2=$(json 'd["Images"][0]["BlockDeviceMappings"][1]["Ebs"]["SnapshotId"]')
qemu-img compare -q -f qcow2 -F qcow2 "$work/data.qcow2" "$(pool_path local)/$MSNAP2.qcow2"
tap_ok $? "the data device's snapshot holds the data file's bytes"

bad 3 'InvalidBlockDeviceMapping' "a volume smaller than its snapshot" \
        register-image --name multi-x --root-device-name /dev/xvda \
        --block-device-mappings "DeviceName=/dev/xvda,Ebs={SnapshotId=$SNAP1}" "DeviceName=/dev/xvdb,Ebs={SnapshotId=$MSNAP2,VolumeSize=1}"
kiln_as $ACCT_A register-image --name from-snaps --root-device-name /dev/xvda --block-device-mappings \
        "DeviceName=/dev/xvda,Ebs={SnapshotId=$SNAP1,VolumeSize=3}" \
        "DeviceName=/dev/xvdb,Ebs={SnapshotId=$MSNAP2,DeleteOnTermination=false}" 'DeviceName=/dev/xvdc,Ebs={VolumeSize=4}'
tap_is "$RC" 0 "register-image from snapshots, as RegisterImage"
FROMS=$(json 'd["ImageId"]')
kiln_as $ACCT_A describe-images --image-ids "$FROMS"
tap_is "$(json 'd["Images"][0]["RootDeviceName"] + " " + d["Images"][0]["DefaultUser"]')" "/dev/xvda admin" \
        "its root device, and the login user of the image booting from that snapshot"
tap_is "$(json '[(m["DeviceName"], m["Ebs"].get("SnapshotId"), m["Ebs"]["VolumeSize"], m["Ebs"]["DeleteOnTermination"]) for m in d["Images"][0]["BlockDeviceMappings"]]')" \
        "[('/dev/xvda', '$SNAP1', 3, True), ('/dev/xvdb', '$MSNAP2', 2, False), ('/dev/xvdc', None, 4, True)]" \
        "maps the snapshots themselves (no copy) and an empty volume"
tap_is "$(pool_files | wc -l)" "$(( $(printf '%s\n' "$before_files" | wc -l) + 2 ))" "only the two uploaded disks added files"

kiln_rc --region west --account $ACCT_A copy-image --source-region local --source-image-id "$MULTI" --name multi-west
tap_is "$RC" 0 "copy-image of an image of two devices"
WM=$(json 'd["ImageId"]')
kiln_rc --region west --account $ACCT_A describe-images --image-ids "$WM"
tap_is "$(json '[(m["DeviceName"], m["Ebs"]["VolumeSize"]) for m in d["Images"][0]["BlockDeviceMappings"]]')" \
        "[('/dev/vda', 1), ('/dev/vdb', 2)]" "the copy maps both devices"
WMS2=$(json 'd["Images"][0]["BlockDeviceMappings"][1]["Ebs"]["SnapshotId"]')
tap_ok $([ "$WMS2" != "$MSNAP2" ] && [ -n "$WMS2" ]; echo $?) "with snapshots of its own"
qemu-img compare -q "$(pool_path local)/$MSNAP2.qcow2" "$(pool_path west)/$WMS2.qcow2"
tap_ok $? "the data device's snapshot came across with its bytes"

# ---- fsck and gc ----
kiln_rc fsck
tap_is "$RC" 0 "fsck on a consistent home"
tap_is "$(json 'd["Consistent"]')" "True" "reports consistent"
virsh -q -c "$HOME_URI" vol-create-as "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Regions"][0]["Pool"])' "$KILN_HOME/config.json")" \
        snap-00000000000000000.qcow2 1M --format qcow2 >/dev/null
kiln_rc fsck
tap_is "$RC" 6 "fsck finds an orphan file (exit 6)"
tap_is "$(json '[i["Kind"] for i in d["Issues"]]')" "['orphan-file']" "reported as orphan-file"
kiln_rc fsck --repair
tap_is "$(json 'd["Issues"][0]["Repaired"]')" "True" "--repair removes it"
tap_ok $([ ! -e "$(pool_path local)/snap-00000000000000000.qcow2" ]; echo $?) "the orphan is gone"
kiln_rc fsck
tap_is "$RC" 0 "consistent again"

kiln_as $ACCT_A deregister-image --image-id "$AMI3"
kiln_rc gc
tap_is "$RC" 0 "gc"
tap_ok $([ "$(json 'd["ImagesRemoved"]')" -ge 2 ]; echo $?) "gc drops the deregistered images' records"
kiln_as $ACCT_A deregister-image --image-id "$AMI3"
tap_is "$RC" 4 "after gc a deregistered image is simply not found"

tap_done
