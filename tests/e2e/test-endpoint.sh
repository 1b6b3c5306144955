#!/bin/bash
# kiln serve driven by real EC2 clients: Debian's aws CLI (2.9.19) and boto3, against a kiln
# home on the real libvirt daemon (no guest). Each verb both front ends have prints the same
# JSON through the endpoint as `kiln VERB` for the same state (compared as parsed JSON, less
# kiln's own members, which the aws CLI drops). Paging, filters, tags, another account's key,
# deregister and delete; security groups (create, describe, authorize, revoke, delete, and what
# kiln refuses); every authentication failure (wrong secret, tampered body, expired
# or future timestamp, unknown or deleted key, no signature, a region that is not kiln's),
# a presigned GET, protocol errors, DryRun, and a clean stop on SIGTERM with one log line per
# request.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"
. "$KILN_TOP/tests/harness/endpoint.sh"

endpoint_skip_unless_clients
home_setup
work=$KILN_HOME/test
mkdir -p "$work/aws"
trap 'stop_serve; home_cleanup' EXIT

# Images to look at: a small raw disk registered seven times (paging needs more than five).
qemu-img create -q -f raw "$work/disk.raw" 64M
head -c 1048576 /dev/urandom | dd of="$work/disk.raw" bs=1M seek=2 conv=notrunc status=none
for i in 1 2 3 4 5 6 7; do
        kiln_as $ACCT_A register-image --name "web-$i" --disk "$work/disk.raw" --default-user admin \
                --description "web image $i"
done
kiln_as $ACCT_A describe-images --filters Name=name,Values=web-1
AMI1=$(json 'd["Images"][0]["ImageId"]')
SNAP1=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')

endpoint_start
tap_like "$(head -1 "$work/serve.log")" "serving the EC2 API on $URL" "kiln serve listens on 127.0.0.1:$PORT"

# ---- the same answers through both front ends ----
same DescribeRegionsResult "describe-regions" describe-regions -- describe-regions
aws_a describe-availability-zones
tap_is "$(json '[(z["ZoneName"], z["RegionName"], z["State"]) for z in d["AvailabilityZones"]]')" \
        "[('locala', 'local', 'available')]" "describe-availability-zones: one zone per region"
same DescribeImagesResult "describe-images --owners self" describe-images --owners self -- describe-images --owners self
same DescribeImagesResult "describe-images with a filter" describe-images --filters 'Name=name,Values=web-1,web-?2' -- \
        describe-images --filters 'Name=name,Values=web-1,web-?2'
same DescribeImagesResult "describe-images --image-ids" describe-images --image-ids "$AMI1" -- describe-images --image-ids "$AMI1"
same DescribeSnapshotsResult "describe-snapshots --owner-ids self" describe-snapshots --owner-ids self -- \
        describe-snapshots --owner-ids self
same DescribeVolumesResult "describe-volumes" describe-volumes -- describe-volumes
same DescribeKeyPairsResult "describe-key-pairs" describe-key-pairs -- describe-key-pairs

same DescribeVpcsResult "describe-vpcs" describe-vpcs -- describe-vpcs
same DescribeSubnetsResult "describe-subnets" describe-subnets --filters Name=default-for-az,Values=true -- \
        describe-subnets --filters Name=default-for-az,Values=true
aws_a describe-vpcs --vpc-ids vpc-0123456789abcdef0
tap_like "$ERR" "InvalidVpcID.NotFound" "describe-vpcs of another VPC: InvalidVpcID.NotFound"
same DescribeInstanceTypesResult "describe-instance-types" describe-instance-types -- describe-instance-types

# ---- paging: the aws CLI follows NextToken ----
before=$(grep -c " DescribeImages 200 " "$work/serve.log")
aws_a describe-images --owners self --page-size 5
tap_is "$(json 'len(d["Images"])')" 7 "describe-images --page-size 5 gets all seven images"
tap_is "$(( $(grep -c " DescribeImages 200 " "$work/serve.log") - before ))" 2 "in two pages (MaxResults 5, then NextToken)"
aws_a describe-images --owners self --max-items 3
tap_is "$(json 'len(d["Images"])')" 3 "--max-items 3 stops after three"
aws_a describe-images --image-ids "$AMI1" --page-size 5
tap_is "$RC" 254 "MaxResults with ImageIds is refused, as EC2 does"
tap_like "$ERR" "InvalidParameterCombination" "InvalidParameterCombination"

# ---- tags ----
aws_a create-tags --resources "$AMI1" "$SNAP1" --tags Key=team,Value=web Key=tier
tap_is "$RC" 0 "create-tags on an image and its snapshot"
same DescribeTagsResult "describe-tags" describe-tags -- describe-tags
kiln_as $ACCT_A describe-images --filters Name=tag:team,Values=web
tap_is "$(json '[i["ImageId"] for i in d["Images"]]')" "['$AMI1']" "kiln sees the tags the aws CLI made"
aws_a describe-images --filters Name=tag-key,Values=tier
tap_is "$(json '[i["ImageId"] for i in d["Images"]]')" "['$AMI1']" "tag-key filter through the endpoint"
aws_a delete-tags --resources "$AMI1" --tags Key=tier
aws_a describe-tags --filters Name=resource-id,Values="$AMI1"
tap_is "$(json '[t["Key"] for t in d["Tags"]]')" "['team']" "delete-tags removed one key"

# ---- another account's key ----
aws_b describe-images --owners self
tap_is "$(json 'len(d["Images"])')" 0 "another account's key sees none of A's private images"
aws_b describe-images --image-ids "$AMI1"
tap_like "$ERR" "InvalidAMIID.NotFound" "nor one by its ID"
aws_b create-tags --resources "$AMI1" --tags Key=x,Value=y
tap_is "$RC" 254 "nor can it tag it"
aws_b deregister-image --image-id "$AMI1"
tap_is "$RC" 254 "nor deregister it"
kiln_as $ACCT_A describe-images --image-ids "$AMI1"
tap_is "$(json 'd["Images"][0]["State"]')" available "A's image is untouched"

# ---- protocol errors, DryRun ----
aws_a deregister-image --image-id "$AMI1" --dry-run
tap_like "$ERR" "DryRunOperation" "--dry-run answers DryRunOperation"
kiln_as $ACCT_A describe-images --image-ids "$AMI1"
tap_is "$(json 'd["Images"][0]["State"]')" available "and changes nothing"
# A dry run makes every check the change would make, and changes nothing.
aws_a describe-images --filters Name=name,Values=web-2
AMI2=$(json 'd["Images"][0]["ImageId"]')
aws_a modify-image-attribute --image-id "$AMI2" --launch-permission "Add=[{UserId=$ACCT_B}]"
aws_b deregister-image --image-id "$AMI2" --dry-run
tap_like "$ERR" "UnauthorizedOperation" "--dry-run of B's deregister-image of A's shared image: UnauthorizedOperation"
aws_b modify-image-attribute --image-id "$AMI2" --description Value=mine --dry-run
tap_like "$ERR" "UnauthorizedOperation" "and of B's modify-image-attribute"
aws_b deregister-image --image-id "$AMI2"
tap_like "$ERR" "AuthFailure" "without --dry-run, the same deregister-image is an AuthFailure"
aws_a modify-image-attribute --image-id "$AMI2" --description Value=dry --dry-run
tap_like "$ERR" "DryRunOperation" "A's own modify-image-attribute --dry-run: DryRunOperation"
kiln_as $ACCT_A describe-images --image-ids "$AMI2"
tap_is "$(json 'd["Images"][0]["Description"]')" "web image 2" "and the description is unchanged"
aws_a deregister-image --image-id ami-0123456789abcdef0 --dry-run
tap_like "$ERR" "InvalidAMIID.NotFound" "a dry run of an unknown image: InvalidAMIID.NotFound"
aws_a create-tags --resources "$AMI2" --tags Key=dry,Value=run --dry-run
tap_like "$ERR" "DryRunOperation" "create-tags --dry-run: DryRunOperation"
aws_a create-volume --availability-zone locala --size 1 --dry-run
tap_like "$ERR" "DryRunOperation" "create-volume --dry-run: DryRunOperation"
aws_a create-key-pair --key-name dry --dry-run
tap_like "$ERR" "DryRunOperation" "create-key-pair --dry-run: DryRunOperation"
aws_b copy-image --source-region local --source-image-id "$AMI1" --name stolen --dry-run
tap_like "$ERR" "InvalidAMIID.NotFound|UnauthorizedOperation" "copy-image --dry-run of an image B may not see is refused"
kiln_as $ACCT_A describe-tags --filters Name=key,Values=dry
tap_is "$(json 'len(d["Tags"])')" 0 "no tag was made"
kiln_as $ACCT_A describe-volumes
tap_is "$(json 'len(d["Volumes"])')" 0 "no volume was made"
kiln_as $ACCT_A describe-key-pairs
tap_is "$(json '[k["KeyName"] for k in d["KeyPairs"] if k["KeyName"] == "dry"]')" "[]" "no key pair was made"
aws_a modify-image-attribute --image-id "$AMI2" --launch-permission "Remove=[{UserId=$ACCT_B}]"
aws_a describe-images --filters Name=colour,Values=red
tap_like "$ERR" "InvalidFilter|InvalidParameterValue" "an unknown filter is refused"

# ---- raw requests signed by botocore: authentication failures, a presigned GET ----
cat >"$work/raw.py" <<'PY'
import datetime, json, sys, urllib.request, urllib.error
from unittest import mock
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import botocore.auth

url, key, secret, case = sys.argv[1:5]
body = "Action=DescribeRegions&Version=2016-11-15"
region, skew, method = "local", 0, "POST"
if case == "wrong-secret": secret = secret[::-1]
if case == "unknown-key": key = "AKIAAAAAAAAAAAAAAAAA"
if case == "expired": skew = -20 * 60
if case == "future": skew = 20 * 60
if case == "other-region": region = "mars"
if case == "unknown-action": body = "Action=RunAway&Version=2016-11-15"
if case == "unknown-param": body += "&Colour=red"
now = datetime.datetime.utcnow() + datetime.timedelta(seconds=skew)
class At(datetime.datetime):
    @classmethod
    def utcnow(cls): return now
creds = Credentials(key, secret)
with mock.patch.object(botocore.auth.datetime, "datetime", At):
    if case == "presigned":
        r = AWSRequest(method="GET", url=url + "/?" + body, headers={})
        SigV4QueryAuth(creds, "ec2", region, expires=60).add_auth(r)
        method = "GET"
    else:
        r = AWSRequest(method="POST", url=url + "/", data=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        if case != "unsigned":
            SigV4Auth(creds, "ec2", region).add_auth(r)
data = r.body if method == "POST" else None
if case == "tampered": data = body.replace("DescribeRegions", "DescribeImages").encode()
if isinstance(data, str): data = data.encode()
req = urllib.request.Request(r.url, data=data, method=method, headers=dict(r.headers.items()))
try:
    resp = urllib.request.urlopen(req, timeout=10)
    status, text = resp.status, resp.read().decode()
except urllib.error.HTTPError as e:
    status, text = e.code, e.read().decode()
code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else "-"
print(status, code)
PY
raw() { /usr/bin/python3 "$work/raw.py" "$URL" "$KEY_A" "$SECRET_A" "$1"; }
tap_is "$(raw good)" "200 -" "a request botocore signs is answered"
tap_is "$(raw presigned)" "200 -" "a presigned GET is answered"
tap_is "$(raw wrong-secret)" "403 SignatureDoesNotMatch" "a wrong secret: 403 SignatureDoesNotMatch"
tap_is "$(raw tampered)" "403 SignatureDoesNotMatch" "a body changed after signing: 403 SignatureDoesNotMatch"
tap_is "$(raw expired)" "400 RequestExpired" "a timestamp 20 minutes old: RequestExpired"
tap_is "$(raw future)" "400 RequestExpired" "a timestamp 20 minutes ahead: RequestExpired"
tap_is "$(raw unknown-key)" "401 AuthFailure" "an unknown key: 401 AuthFailure"
tap_is "$(raw other-region)" "401 AuthFailure" "a credential scope of a region kiln lacks: AuthFailure"
tap_is "$(raw unsigned)" "400 MissingAuthenticationToken" "no signature: MissingAuthenticationToken"
tap_is "$(raw unknown-action)" "400 InvalidAction" "an unknown action: InvalidAction"
tap_is "$(raw unknown-param)" "400 UnknownParameter" "an unknown parameter: UnknownParameter"

# ---- boto3 ----
cat >"$work/boto.py" <<'PY'
import sys, boto3
url, key, secret = sys.argv[1:4]
ec2 = boto3.client("ec2", endpoint_url=url, region_name="local", aws_access_key_id=key,
                   aws_secret_access_key=secret)
pages, token = [], None
while True:
    page = ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5, **({"NextToken": token} if token else {}))
    pages.append(page)
    token = page.get("NextToken")
    if not token:
        break
print(len(ec2.describe_images(Owners=["self"])["Images"]), len(pages), sum(len(p["Snapshots"]) for p in pages),
      sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"]))
PY
tap_is "$(/usr/bin/python3 "$work/boto.py" "$URL" "$KEY_A" "$SECRET_A" 2>&1)" "7 2 7 ['local', 'west']" \
        "boto3: describe_images, describe_snapshots in two pages of five, describe_regions"

# ---- register from a snapshot, share and unshare, copy to another region ----
aws_a register-image --name from-snap --root-device-name /dev/vda --architecture x86_64 \
        --block-device-mappings "DeviceName=/dev/vda,Ebs={SnapshotId=$SNAP1}" 'DeviceName=/dev/vdb,Ebs={VolumeSize=2}'
tap_is "$RC" 0 "register-image from a snapshot and an empty volume"
FROM=$(json 'd["ImageId"]')
same DescribeImagesResult "the registered image" describe-images --image-ids "$FROM" -- describe-images --image-ids "$FROM"
aws_a register-image --name no-virtio --root-device-name /dev/vda --no-ena-support \
        --block-device-mappings "DeviceName=/dev/vda,Ebs={SnapshotId=$SNAP1}"
tap_is "$RC" 0 "register-image --no-ena-support: an image without virtio drivers"
NOVIRTIO=$(json 'd["ImageId"]')
aws_a describe-images --image-ids "$NOVIRTIO"
tap_is "$(json 'd["Images"][0]["EnaSupport"]')" False "  EnaSupport false"
aws_a deregister-image --image-id "$NOVIRTIO"
kiln_as $ACCT_A describe-images --image-ids "$FROM"
tap_is "$(json '[(m["DeviceName"], m["Ebs"].get("SnapshotId")) for m in d["Images"][0]["BlockDeviceMappings"]]')" \
        "[('/dev/vda', '$SNAP1'), ('/dev/vdb', None)]" "it maps the snapshot itself and an empty volume"
aws_a register-image --name no-root --root-device-name /dev/vda --block-device-mappings 'DeviceName=/dev/vda,Ebs={VolumeSize=2}'
tap_like "$ERR" "InvalidBlockDeviceMapping" "a root without a snapshot is refused"

aws_a modify-image-attribute --image-id "$AMI1" --launch-permission "Add=[{UserId=$ACCT_B}]"
tap_is "$RC" 0 "modify-image-attribute shares the image with B"
same ImageAttribute "describe-image-attribute launchPermission" describe-image-attribute --image-id "$AMI1" \
        --attribute launchPermission -- describe-image-attribute --image-id "$AMI1" --attribute launchPermission
aws_b describe-images --image-ids "$AMI1"
tap_is "$(json 'd["Images"][0]["ImageId"]')" "$AMI1" "B's key sees the shared image"
aws_a modify-image-attribute --image-id "$AMI1" --attribute launchPermission --operation-type remove --user-ids "$ACCT_B"
tap_is "$RC" 0 "and unshares it (the flat form)"
aws_b describe-images --image-ids "$AMI1"
tap_like "$ERR" "InvalidAMIID.NotFound" "B's key no longer sees it"
aws_a modify-image-attribute --image-id "$AMI1" --description "Value=front end"
same ImageAttribute "describe-image-attribute description" describe-image-attribute --image-id "$AMI1" \
        --attribute description -- describe-image-attribute --image-id "$AMI1" --attribute description
tap_is "$(json 'd["Description"]["Value"]')" "front end" "the description was changed"
aws_a reset-image-attribute --image-id "$AMI1" --attribute launchPermission
tap_is "$RC" 0 "reset-image-attribute"

aws_as "$KEY_A" "$SECRET_A" --region west copy-image --source-region local --source-image-id "$AMI1" --name web-west --copy-image-tags
tap_is "$RC" 0 "copy-image to the other region (the key's scope says west)"
WEST=$(json 'd["ImageId"]')
kiln_rc --region west --account $ACCT_A describe-images --image-ids "$WEST"
tap_is "$(json 'd["Images"][0]["Name"] + " " + d["Images"][0]["SourceImageId"] + " " + d["Images"][0]["Tags"][0]["Key"]')" \
        "web-west $AMI1 team" "kiln sees the copy in west, with its source and tags"

# ---- snapshots, volumes, key pairs ----
aws_a modify-snapshot-attribute --snapshot-id "$SNAP1" --create-volume-permission "Add=[{UserId=$ACCT_B}]"
tap_is "$RC" 0 "modify-snapshot-attribute"
same DescribeSnapshotAttributeResult "describe-snapshot-attribute" describe-snapshot-attribute --snapshot-id "$SNAP1" \
        --attribute createVolumePermission -- describe-snapshot-attribute --snapshot-id "$SNAP1" --attribute createVolumePermission
aws_a reset-snapshot-attribute --snapshot-id "$SNAP1" --attribute createVolumePermission
kiln_as $ACCT_A describe-snapshot-attribute --snapshot-id "$SNAP1" --attribute createVolumePermission
tap_is "$(json 'd["CreateVolumePermissions"]')" "[]" "reset-snapshot-attribute removed the grant"
aws_a create-volume --availability-zone locala --snapshot-id "$SNAP1" --volume-type gp3 \
        --tag-specifications 'ResourceType=volume,Tags=[{Key=use,Value=data}]'
tap_is "$RC" 0 "create-volume from a snapshot"
VOL=$(json 'd["VolumeId"]')
tap_is "$(json 'd["State"] + " " + d["VolumeType"] + " " + d["Tags"][0]["Value"]')" "available gp3 data" "available, gp3, tagged"
same DescribeVolumesResult "describe-volumes" describe-volumes -- describe-volumes
aws_a create-snapshot --volume-id "$VOL" --description "from the endpoint"
tap_is "$RC" 0 "create-snapshot of the volume"
tap_is "$(json 'd["State"] + " " + d["VolumeId"] + " " + d["Description"]')" "completed $VOL from the endpoint" \
        "completed, of the volume"
aws_a create-key-pair --key-name ep --key-type ed25519
tap_like "$(json 'd["KeyMaterial"]')" "BEGIN OPENSSH PRIVATE KEY" "create-key-pair returns the private key"
ssh-keygen -q -t ed25519 -N '' -C imported -f "$work/imported"
aws_a import-key-pair --key-name imported --public-key-material "fileb://$work/imported.pub"
tap_is "$RC" 0 "import-key-pair"
same DescribeKeyPairsResult "describe-key-pairs" describe-key-pairs -- describe-key-pairs
aws_a create-volume --availability-zone locala --size 1 --client-token retry-1
T1=$(json 'd["VolumeId"]')
aws_a create-volume --availability-zone locala --size 1 --client-token retry-1
tap_is "$(json 'd["VolumeId"]')" "$T1" "create-volume retried with its ClientToken gets the same volume"
aws_a create-volume --availability-zone locala --size 2 --client-token retry-1
tap_like "$ERR" "IdempotentParameterMismatch" "the token with another size: IdempotentParameterMismatch"
aws_a delete-volume --volume-id "$T1"
aws_a delete-volume --volume-id "$VOL"
tap_is "$RC" 0 "delete-volume"
aws_a delete-key-pair --key-name ep
tap_is "$RC" 0 "delete-key-pair"

# ---- security groups ----
aws_a describe-vpcs
VPC=$(json 'd["Vpcs"][0]["VpcId"]')
aws_a describe-security-groups --group-names default
tap_is "$RC" 0 "describe-security-groups --group-names default: the region's default group is there"
DEF=$(json 'd["SecurityGroups"][0]["GroupId"]')
tap_is "$(json '(d["SecurityGroups"][0]["OwnerId"], d["SecurityGroups"][0]["VpcId"])')" "('$ACCT_A', '$VPC')" \
        "it is A's, in the region's VPC"
tap_is "$(json 'sorted((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), [r["CidrIp"] for r in p["IpRanges"]])
                 for p in d["SecurityGroups"][0]["IpPermissions"])')" \
        "[('tcp', 22, 22, ['0.0.0.0/0']), ('tcp', 3389, 3389, ['0.0.0.0/0'])]" \
        "it allows SSH (tcp 22) and RDP (tcp 3389) from 0.0.0.0/0"
tap_is "$(json '[(p["IpProtocol"], [r["CidrIp"] for r in p["IpRanges"]]) for p in d["SecurityGroups"][0]["IpPermissionsEgress"]]')" \
        "[('-1', ['0.0.0.0/0'])]" "and all traffic out (EC2's default outbound rule)"

aws_a create-security-group --group-name web --description "web servers" --dry-run
tap_like "$ERR" "DryRunOperation" "create-security-group --dry-run: DryRunOperation"
aws_a describe-security-groups --filters Name=group-name,Values=web
tap_is "$(json 'len(d["SecurityGroups"])')" 0 "and no group was made"
aws_a create-security-group --group-name web --description "web servers" \
        --tag-specifications 'ResourceType=security-group,Tags=[{Key=team,Value=web}]'
tap_is "$RC" 0 "create-security-group with a tag"
SG=$(json 'd["GroupId"]')
tap_like "$SG" '^sg-[0-9a-f]{17}$' "its ID is sg- and 17 hex digits"
tap_is "$(json 'd["Tags"]')" "[{'Key': 'team', 'Value': 'web'}]" "the answer has its tags"
aws_a create-security-group --group-name web --description again
tap_like "$ERR" "InvalidGroup.Duplicate" "a second group named web: InvalidGroup.Duplicate"
aws_a create-security-group --group-name in-vpc --description "in the VPC" --vpc-id "$VPC"
tap_is "$RC" 0 "create-security-group --vpc-id of the region's VPC"
INVPC=$(json 'd["GroupId"]')
aws_a create-security-group --group-name elsewhere --description x --vpc-id vpc-0123456789abcdef0
tap_like "$ERR" "InvalidVpcID.NotFound" "another VPC: InvalidVpcID.NotFound"
aws_a create-security-group --group-name sg-web --description x
tap_like "$ERR" "InvalidParameterValue" "a name starting with sg- is refused"

same DescribeSecurityGroupsResult "describe-security-groups" describe-security-groups -- describe-security-groups
same DescribeSecurityGroupsResult "describe-security-groups --group-ids" describe-security-groups --group-ids "$SG" -- \
        describe-security-groups --group-ids "$SG"
aws_a describe-security-groups --group-names web
tap_is "$(json '[g["GroupId"] for g in d["SecurityGroups"]]')" "['$SG']" "describe-security-groups --group-names"
aws_a describe-security-groups --filters 'Name=description,Values=web servers'
tap_is "$(json '[g["GroupId"] for g in d["SecurityGroups"]]')" "['$SG']" "a description filter"
aws_a describe-security-groups --filters Name=tag:team,Values=web
tap_is "$(json '[g["GroupId"] for g in d["SecurityGroups"]]')" "['$SG']" "a tag filter"
aws_a describe-security-groups --filters Name=ip-permission.from-port,Values=3389
tap_is "$(json '[g["GroupId"] for g in d["SecurityGroups"]]')" "['$DEF']" "an ip-permission.from-port filter"
aws_a describe-security-groups --group-ids nothing-like-an-id
tap_like "$ERR" "InvalidGroupId.Malformed" "a malformed group ID: InvalidGroupId.Malformed"
aws_a describe-security-groups --group-ids sg-0123456789abcdef0
tap_like "$ERR" "InvalidGroup.NotFound" "an unknown group ID: InvalidGroup.NotFound"
aws_a describe-security-groups --group-names nosuch
tap_like "$ERR" "InvalidGroup.NotFound" "an unknown group name: InvalidGroup.NotFound"

# Paging: seven groups (default, web, in-vpc and four more) in pages of five.
for i in 1 2 3 4; do aws_a create-security-group --group-name "page-$i" --description "page $i"; done
before=$(grep -c " DescribeSecurityGroups 200 " "$work/serve.log")
aws_a describe-security-groups --page-size 5
tap_is "$(json 'len(d["SecurityGroups"])')" 7 "describe-security-groups --page-size 5 gets all seven groups"
tap_is "$(( $(grep -c " DescribeSecurityGroups 200 " "$work/serve.log") - before ))" 2 "in two pages (MaxResults 5, then NextToken)"
aws_a describe-security-groups --max-items 3
tap_is "$(json 'len(d["SecurityGroups"])')" 3 "--max-items 3 stops after three"
aws_a describe-security-groups --group-ids "$SG" --page-size 5
tap_like "$ERR" "InvalidParameterCombination" "MaxResults with GroupIds: InvalidParameterCombination"
for i in 1 2 3 4; do aws_a delete-security-group --group-name "page-$i"; done
aws_a delete-security-group --group-id "$INVPC"

# Inbound rules: one per CIDR, grouped by protocol and ports when described.
aws_a authorize-security-group-ingress --group-id "$SG" --ip-permissions \
        'IpProtocol=tcp,FromPort=80,ToPort=80,IpRanges=[{CidrIp=0.0.0.0/0,Description=http},{CidrIp=10.0.0.0/8}]' \
        'IpProtocol=tcp,FromPort=8000,ToPort=8010,IpRanges=[{CidrIp=192.168.0.0/16}]'
tap_is "$RC" 0 "authorize-security-group-ingress: two permissions, three CIDRs"
tap_is "$(json '(d["Return"], [(r["GroupId"], r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIpv4"], r.get("Description"))
                 for r in d["SecurityGroupRules"]])')" \
        "(True, [('$SG', False, 'tcp', 80, 80, '0.0.0.0/0', 'http'), ('$SG', False, 'tcp', 80, 80, '10.0.0.0/8', None), ('$SG', False, 'tcp', 8000, 8010, '192.168.0.0/16', None)])" \
        "Return, and one SecurityGroupRule for each CIDR"
RULE=$(json 'd["SecurityGroupRules"][2]["SecurityGroupRuleId"]')
tap_like "$RULE" '^sgr-[0-9a-f]{17}$' "a rule's ID is sgr- and 17 hex digits"
aws_a authorize-security-group-ingress --group-name web --protocol icmp --port all --cidr 10.9.0.0/16
tap_is "$(json '[(r["GroupId"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in d["SecurityGroupRules"]]')" \
        "[('$SG', 'icmp', -1, -1)]" "authorize by --group-name (--protocol --port --cidr): the answer names the group's ID"
same DescribeSecurityGroupsResult "describe-security-groups of the group with rules" describe-security-groups --group-ids "$SG" -- \
        describe-security-groups --group-ids "$SG"
tap_is "$(json '[(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), [r["CidrIp"] for r in p["IpRanges"]]) for p in d["SecurityGroups"][0]["IpPermissions"]]')" \
        "[('tcp', 80, 80, ['0.0.0.0/0', '10.0.0.0/8']), ('tcp', 8000, 8010, ['192.168.0.0/16']), ('icmp', -1, -1, ['10.9.0.0/16'])]" \
        "described as EC2 does: one IpPermission per protocol and ports, with its CIDRs"
aws_a authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 80 --cidr 10.0.0.0/8
tap_is "$RC" 254 "authorizing a rule the group has fails (the aws CLI's exit status 254)"
tap_like "$ERR" "InvalidPermission.Duplicate" "with InvalidPermission.Duplicate"
aws_a authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 443 --cidr 0.0.0.0/0 --dry-run
tap_like "$ERR" "DryRunOperation" "authorize-security-group-ingress --dry-run: DryRunOperation"
aws_a describe-security-groups --group-ids "$SG" --filters Name=ip-permission.from-port,Values=443
tap_is "$(json 'len(d["SecurityGroups"])')" 0 "and no rule was added"

# What kiln does not do is refused, not ignored.
aws_a authorize-security-group-ingress --group-id "$SG" \
        --ip-permissions '[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]'
tap_is "$RC" 254 "an IPv6 range is refused"
tap_like "$ERR" "InvalidParameterValue.*IPv4 CIDR sources only" "with InvalidParameterValue: IPv4 CIDR sources only"
aws_a authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 443 --source-group default
tap_like "$ERR" "InvalidParameterValue.*IPv4 CIDR sources only" "a group as the source (UserIdGroupPairs) is refused"
aws_a authorize-security-group-ingress --group-id "$SG" \
        --ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443,PrefixListIds=[{PrefixListId=pl-12345678}]'
tap_like "$ERR" "InvalidParameterValue.*IPv4 CIDR sources only" "a prefix list as the source is refused"
aws_a authorize-security-group-ingress --group-id "$SG" --ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443'
tap_like "$ERR" "MissingParameter.*IpRanges" "a permission without IpRanges: MissingParameter"
aws_a authorize-security-group-ingress --group-id "$SG" \
        --ip-permissions 'IpProtocol=tcp,FromPort=70000,ToPort=70000,IpRanges=[{CidrIp=0.0.0.0/0}]'
tap_like "$ERR" "InvalidParameterValue" "a port past 65535 is refused"
aws_a authorize-security-group-ingress --protocol tcp --port 443 --cidr 0.0.0.0/0
tap_like "$ERR" "MissingParameter" "no group: MissingParameter"
aws_a describe-security-groups --group-ids "$SG"
tap_is "$(json 'sum(len(p["IpRanges"]) for p in d["SecurityGroups"][0]["IpPermissions"])')" 4 "the group still has its four rules"

aws_a revoke-security-group-ingress --group-id "$SG" --protocol tcp --port 80 --cidr 10.0.0.0/8
tap_is "$RC" 0 "revoke-security-group-ingress of a permission"
aws_a revoke-security-group-ingress --group-id "$SG" --security-group-rule-ids "$RULE"
tap_is "$RC" 0 "revoke-security-group-ingress --security-group-rule-ids"
aws_a revoke-security-group-ingress --group-id "$SG" --protocol tcp --port 80 --cidr 10.0.0.0/8
tap_is "$RC" 254 "revoking a rule the group does not have fails"
tap_like "$ERR" "InvalidPermission.NotFound" "with InvalidPermission.NotFound"
aws_a revoke-security-group-ingress --group-id "$SG" --protocol tcp --port 80 --cidr 0.0.0.0/0 --dry-run
tap_like "$ERR" "DryRunOperation" "revoke-security-group-ingress --dry-run: DryRunOperation"
aws_a describe-security-groups --group-ids "$SG"
tap_is "$(json '[(p["IpProtocol"], p.get("FromPort"), [r["CidrIp"] for r in p["IpRanges"]]) for p in d["SecurityGroups"][0]["IpPermissions"]]')" \
        "[('tcp', 80, ['0.0.0.0/0']), ('icmp', -1, ['10.9.0.0/16'])]" "the other rules are left"

# Packer's and the SDKs' forms: an empty VpcId, the flat IpProtocol/FromPort/ToPort/CidrIp.
cat >"$work/sg.py" <<'PY'
import sys, boto3
url, key, secret = sys.argv[1:4]
ec2 = boto3.client("ec2", endpoint_url=url, region_name="local", aws_access_key_id=key,
                   aws_secret_access_key=secret)
gid = ec2.create_security_group(GroupName="packer_0001", Description="Temporary group for Packer", VpcId="")["GroupId"]
flat = dict(IpProtocol="udp", FromPort=53, ToPort=53, CidrIp="10.1.0.0/16")
a = ec2.authorize_security_group_ingress(GroupName="packer_0001", **flat)
rules = [(r["GroupId"] == gid, r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIpv4"]) for r in a["SecurityGroupRules"]]
r = ec2.revoke_security_group_ingress(GroupId=gid, **flat)
ec2.delete_security_group(GroupId=gid)
left = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["packer_0001"]}])["SecurityGroups"]
print(gid[:3], a["Return"], rules, r["Return"], len(left))
PY
tap_is "$(/usr/bin/python3 "$work/sg.py" "$URL" "$KEY_A" "$SECRET_A" 2>&1)" "sg- True [(True, 'udp', 53, 53, '10.1.0.0/16')] True 0" \
        "boto3: create with VpcId='', authorize and revoke in the flat form, delete"

# RunInstances takes SecurityGroupId.N and SecurityGroup.N (a dry run boots nothing).
aws_a run-instances --image-id "$AMI1" --count 1 --security-group-ids sg-0123456789abcdef0 --dry-run
tap_like "$ERR" "InvalidGroup.NotFound" "run-instances --security-group-ids of an unknown group: InvalidGroup.NotFound"
aws_a run-instances --image-id "$AMI1" --count 1 --security-groups nosuch --dry-run
tap_like "$ERR" "InvalidGroup.NotFound" "run-instances --security-groups of an unknown name: InvalidGroup.NotFound"
aws_a run-instances --image-id "$AMI1" --count 1 --security-group-ids "$SG" --security-groups default --dry-run
tap_like "$ERR" "DryRunOperation" "run-instances --security-group-ids --security-groups --dry-run: DryRunOperation"

# Another account's key, and deleting.
aws_b describe-security-groups --group-ids "$SG"
tap_like "$ERR" "InvalidGroup.NotFound" "another account's key does not see A's group"
aws_b delete-security-group --group-id "$SG"
tap_like "$ERR" "InvalidGroup.NotFound" "nor can it delete it"
aws_b describe-security-groups --group-names default
tap_is "$(json '[(g["GroupId"] == "'"$DEF"'", g["OwnerId"]) for g in d["SecurityGroups"]]')" "[(False, '$ACCT_B')]" \
        "B has a default group of its own"
aws_a delete-security-group --group-id "$DEF"
tap_is "$RC" 254 "the default group cannot be deleted"
tap_like "$ERR" "CannotDelete" "CannotDelete"
aws_a delete-security-group --group-name default
tap_like "$ERR" "CannotDelete" "nor by its name"
aws_a delete-security-group --group-id "$SG" --dry-run
tap_like "$ERR" "DryRunOperation" "delete-security-group --dry-run: DryRunOperation"
aws_a describe-security-groups --group-ids "$SG"
tap_is "$RC" 0 "and the group is still there"
aws_a delete-security-group --group-id "$SG"
tap_is "$RC" 0 "delete-security-group"
aws_a describe-security-groups --group-ids "$SG"
tap_like "$ERR" "InvalidGroup.NotFound" "the group is gone"
aws_a delete-security-group --group-id "$SG"
tap_like "$ERR" "InvalidGroup.NotFound" "deleting it again: InvalidGroup.NotFound"
kiln_as $ACCT_A describe-security-groups
tap_is "$(json '[g["GroupName"] for g in d["SecurityGroups"]]')" "['default']" "kiln lists only the default group now"

# ---- deregister, delete, a deleted key ----
aws_a describe-images --filters Name=name,Values=web-7
AMI7=$(json 'd["Images"][0]["ImageId"]')
SNAP7=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
aws_a deregister-image --image-id "$AMI7"
tap_is "$RC" 0 "deregister-image"
kiln_as $ACCT_A describe-images --owners self
tap_is "$(json '"'$AMI7'" in [i["ImageId"] for i in d["Images"]]')" False "kiln no longer lists it"
aws_a delete-snapshot --snapshot-id "$SNAP7"
tap_is "$RC" 0 "delete-snapshot of its snapshot"
kiln_as $ACCT_B delete-access-key --access-key-id "$KEY_B"
aws_b describe-regions
tap_like "$ERR" "AuthFailure" "a deleted key is refused at once"

# ---- HTTPS and the limits, on a second server: 2 threads, 3 connections, 4 KiB bodies, 2 s idle ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tls.key" -out "$work/tls.crt" -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$KILN_BIN" serve --listen "127.0.0.1:$PORT2" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
        --threads 2 --max-connections 3 --max-body 4096 --idle-timeout 2 2>"$work/serve2.log" &
SERVE2_PID=$!
for _ in $(seq 50); do grep -q "serving the EC2 API" "$work/serve2.log" && break; sleep 0.1; done
tap_like "$(head -1 "$work/serve2.log")" "on https://127.0.0.1:$PORT2" "kiln serve --tls-cert --tls-key serves HTTPS"
OUT=$(AWS_ACCESS_KEY_ID=$KEY_A AWS_SECRET_ACCESS_KEY=$SECRET_A "$AWS" --endpoint-url "https://127.0.0.1:$PORT2" \
        --ca-bundle "$work/tls.crt" --region local --output json ec2 describe-regions 2>&1)
tap_is "$(json 'len(d["Regions"])' 2>/dev/null)" 2 "the aws CLI over HTTPS, checking the certificate"
cat >"$work/limits.py" <<'PY'
import socket, ssl, sys, time
port, case = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=sys.argv[3])
def connect():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=3), server_hostname="127.0.0.1")
if case == "idle":
    s = connect()
    t0 = time.time()
    try:
        data = s.recv(1)
    except (ConnectionError, ssl.SSLError):
        data = b""
    print("closed" if data == b"" else "open", round(time.time() - t0))
elif case == "big":
    s = connect()
    body = b"Action=DescribeRegions&Version=2016-11-15&Pad=" + b"x" * 8192
    s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    code = reply.split(b"<Code>")[1].split(b"</Code>")[0].decode() if b"<Code>" in reply else "-"
    print(reply.split(b" ")[1].decode(), code)
elif case == "count":
    # Three connections, each answered and kept open, then a fourth against --max-connections
    # 3: it is not served (its TLS handshake gets no answer), all within the idle timeout.
    served, socks = 0, []
    for _ in range(3):
        s = connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        served += s.recv(12).startswith(b"HTTP/1.1")
        socks.append(s)
    try:
        extra = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=1),
                                server_hostname="127.0.0.1")
        fourth = "served"
    except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
        fourth = "not served"
    print(served, fourth)
PY
tap_is "$(python3 "$work/limits.py" "$PORT2" idle "$work/tls.crt")" "closed 2" "a connection idle for 2 s is closed"
tap_is "$(python3 "$work/limits.py" "$PORT2" big "$work/tls.crt")" "413 RequestEntityTooLarge" \
        "a body over --max-body: 413 RequestEntityTooLarge"
tap_is "$(python3 "$work/limits.py" "$PORT2" count "$work/tls.crt")" "3 not served" \
        "--max-connections 3: three connections served, a fourth at once is not"
python3 - "$PORT2" "$work/tls.crt" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="127.0.0.1")
s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nAction=")
time.sleep(1.5)
PY
SLOW_PID=$!
sleep 0.3
t0=$(date +%s%N)
OUT=$(AWS_ACCESS_KEY_ID=$KEY_A AWS_SECRET_ACCESS_KEY=$SECRET_A "$AWS" --endpoint-url "https://127.0.0.1:$PORT2" \
        --ca-bundle "$work/tls.crt" --region local --output json ec2 describe-regions 2>&1)
slow_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
tap_is "$(json 'len(d["Regions"])' 2>/dev/null)" 2 "a slow client (a body that never ends) holds no request thread ($slow_ms ms)"
wait "$SLOW_PID"
kill -TERM "$SERVE2_PID"
wait "$SERVE2_PID"

# ---- the log and SIGTERM ----
bad_lines=$(awk 'NR > 1 && !(length($1) == 36 && $1 ~ /^[0-9a-f-]+$/ && NF == 5 && $5 ~ /^[0-9]+$/)' "$work/serve.log")
tap_is "$bad_lines" "" "one log line per request: request ID, account, action, status, milliseconds"
tap_like "$(grep " DescribeRegions 401 " "$work/serve.log" | head -1)" " - DescribeRegions 401 " \
        "an unauthenticated request is logged without an account"
kill -TERM "$SERVE_PID"
rc=0
for _ in $(seq 50); do
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
done
wait "$SERVE_PID"
rc=$?
SERVE_PID=
tap_is "$rc" 0 "SIGTERM stops kiln serve, with exit status 0"
tap_like "$(tail -1 "$work/serve.log")" "SIGTERM: finishing the requests in flight" "after saying so"
tap_done
