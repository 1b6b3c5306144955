#!/bin/bash
# Packer's amazon-ebs builder (Debian's packer 1.6.6), unchanged, bakes the seed's cowsay MOTD
# through kiln's EC2 endpoint with examples/packer/cowsay-motd.json: it finds the source image by
# name and owner, makes a temporary key pair and security group, launches, connects to port 22
# of the instance's private address, provisions, stops, creates the image, shares and tags it,
# and cleans up. Packer connects to the guest's own address, so the test runs in a network
# namespace it creates, with its own libvirtd, network and kiln server (tests/harness/netns.sh):
# no packet leaves it. Then a fresh launch of the new image shows the MOTD at login.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/netns.sh"
netns_enter "$0" "$@"
. "$KILN_TOP/tests/harness/libvirt.sh"
. "$KILN_TOP/tests/harness/home.sh"
. "$KILN_TOP/tests/harness/endpoint.sh"

if ! command -v packer >/dev/null; then
        echo "1..0 # SKIP packer is needed: make deps"
        exit 77
fi
endpoint_skip_unless_clients

NET=kiln-packer-net
SUBNET=192.168.151
netns_setup "$NET" "$SUBNET"
trap 'stop_serve; netns_cleanup' EXIT
trap 'stop_serve; netns_cleanup; exit 143' TERM
trap 'stop_serve; netns_cleanup; exit 130' INT

# The region's instances go on the namespace's network: their own address, SSH on port 22.
python3 - "$KILN_HOME/config.json" "$NET" <<'PY'
import json, sys
path, net = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["Regions"][0]["Network"] = net
json.dump(c, open(path, "w"), indent=2)
PY
work=$KILN_HOME/test
mkdir -p "$work/home" "$work/packer-home" "$work/packer-cache" "$work/tmp"
chmod 0700 "$work/home"
MSG="Baked by Packer on kiln"

kiln_as $ACCT_A register-image --name debian-12-base --disk "$KILN_TEST_IMAGE" --default-user admin
tap_is "$RC" 0 "the source image is registered"
SRC=$(json 'd["ImageId"]')
endpoint_start

start=$(date +%s)
HOME=$work/packer-home PACKER_CACHE_DIR=$work/packer-cache TMPDIR=$work/tmp CHECKPOINT_DISABLE=1 \
        PACKER_LOG=1 PACKER_LOG_PATH=$work/packer.log \
        AWS_ACCESS_KEY_ID=$KEY_A AWS_SECRET_ACCESS_KEY=$SECRET_A AWS_EC2_METADATA_DISABLED=true \
        AWS_POLL_DELAY_SECONDS=2 AWS_MAX_ATTEMPTS=600 \
        timeout 1500 packer build -color=false -var "endpoint=$URL" -var "source_owner=$ACCT_A" \
        -var "share_with=$ACCT_B" -var "message=$MSG" "$KILN_TOP/examples/packer/cowsay-motd.json" \
        </dev/null >"$work/packer.out" 2>&1
rc=$?
tap_is "$rc" 0 "packer build with the amazon-ebs builder finishes"
tap_diag "packer build: $(( $(date +%s) - start )) s"
if [ "$rc" != 0 ]; then
        tap_diag "$(tail -40 "$work/packer.out")" "serve.log:" "$(tail -20 "$work/serve.log")"
fi
AMI=$(grep -o 'ami-[0-9a-f]\{17\}' "$work/packer.out" | grep -v "$SRC" | tail -1)
tap_like "$AMI" '^ami-[0-9a-f]{17}$' "Packer names the image it made ($AMI)"
tap_like "$(grep -c "$SRC" "$work/packer.out")" '^[1-9]' "it found the source image by name and owner"

aws_a describe-images --image-ids "$AMI"
tap_is "$(json 'd["Images"][0]["State"]')" available "the image is available"
tap_like "$(json 'd["Images"][0]["Name"]')" '^packer-cowsay-motd-[0-9]+$' "under the template's ami_name"
tap_is "$(json 'sorted((t["Key"], t["Value"]) for t in d["Images"][0]["Tags"])')" \
        "[('Name', 'packer-cowsay-motd'), ('builder', 'packer-amazon-ebs')]" "with the template's tags"
SNAP=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
aws_a describe-snapshots --snapshot-ids "$SNAP"
tap_is "$(json '[t["Value"] for t in d["Snapshots"][0].get("Tags", []) if t["Key"] == "builder"]')" \
        "['packer-amazon-ebs']" "its snapshot has the snapshot_tags"
aws_a describe-image-attribute --image-id "$AMI" --attribute launchPermission
tap_is "$(json '[p.get("UserId") for p in d["LaunchPermissions"]]')" "['$ACCT_B']" \
        "it is shared with the account in ami_users"
aws_b describe-images --image-ids "$AMI"
tap_is "$(json 'len(d["Images"])')" 1 "which sees it"

# Packer's temporary resources are gone.
aws_a describe-key-pairs
tap_is "$(json '[k["KeyName"] for k in d["KeyPairs"]]')" "[]" "Packer's temporary key pair is deleted"
aws_a describe-security-groups
tap_is "$(json '[g["GroupName"] for g in d["SecurityGroups"]]')" "['default']" \
        "its temporary security group too"
aws_a describe-instances
tap_is "$(json 'sorted(set(i["State"]["Name"] for r in d["Reservations"] for i in r["Instances"]))')" \
        "['terminated']" "and its instance is terminated"

# A fresh launch of the new image shows the MOTD at login.
kiln_as $ACCT_A create-key-pair --key-name fresh --key-type ed25519 --output-file "$work/fresh.pem"
kiln_as $ACCT_A run-instances --image-id "$AMI" --key-name fresh --wait
tap_is "$RC" 0 "a fresh instance of Packer's image becomes ready"
[ "$RC" = 0 ] || tap_diag "$ERR"
ID=$(json 'd["Instances"][0]["InstanceId"]')
SSHCMD=$(sshcmd "$ID")
login=$(echo exit | HOME=$work/home timeout 60 $SSHCMD -o BatchMode=yes -tt 2>/dev/null | tr -d '\r')
tap_like "$login" "$MSG" "its login shows the MOTD Packer's provisioner installed"
tap_like "$login" '\\   \^__\^' "through cowsay"
kiln_as $ACCT_A terminate-instances --instance-ids "$ID"
tap_is "$RC" 0 "and it is terminated"

tap_done
