#!/bin/bash
# The seed's lifecycle through the EC2 endpoint only, with Debian's aws CLI on real guests: a key
# pair made by the endpoint, run-instances with user data and a ClientToken (a retry gets the
# same instance), wait instance-running, SSH with the key and the pinned host key, the console,
# stop, create-image, run-instances of the new image, terminate. describe-instances prints the
# same JSON through the endpoint as `kiln describe-instances` for the same state. Refusals:
# another account's key, a bad image, bad counts, bad user data, a dry run.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"
. "$KILN_TOP/tests/harness/endpoint.sh"

endpoint_skip_unless_clients
home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"
trap 'stop_serve; home_cleanup_instances' EXIT

kiln_as $ACCT_A register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
AMI=$(json 'd["ImageId"]')
endpoint_start

ids_of() { json '" ".join(i["InstanceId"] for r in d.get("Reservations", [d]) for i in r["Instances"])'; }
state_of() { kiln_as $ACCT_A describe-instances --instance-ids "$1"; json 'd["Reservations"][0]["Instances"][0]["State"]["Name"]'; }

aws_a describe-instance-types --instance-types m9.huge
tap_like "$ERR" "InvalidInstanceType" "an unknown instance type: InvalidInstanceType"
aws_a run-instances --image-id "$AMI" --count 1 --subnet-id subnet-0123456789abcdef0
tap_like "$ERR" "InvalidSubnetID.NotFound" "a subnet that is not the region's: InvalidSubnetID.NotFound"

# ---- refusals: nothing is launched ----
aws_a run-instances --image-id ami-0123456789abcdef0 --count 1
tap_like "$ERR" "InvalidAMIID.NotFound" "run-instances of an unknown image: InvalidAMIID.NotFound"
aws_b run-instances --image-id "$AMI" --count 1
tap_like "$ERR" "InvalidAMIID.NotFound|AuthFailure" "another account's key cannot launch A's private image"
aws_a run-instances --image-id "$AMI" --count 3:2
tap_like "$ERR" "InvalidParameterValue" "MinCount above MaxCount: InvalidParameterValue"
aws_a run-instances --image-id "$AMI" --count 1 --dry-run
tap_like "$ERR" "DryRunOperation" "run-instances --dry-run: DryRunOperation"
/usr/bin/python3 - "$URL" "$KEY_A" "$SECRET_A" "$AMI" >"$work/raw.txt" 2>&1 <<'PY'
import sys, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, key, secret, ami = sys.argv[1:5]
body = f"Action=RunInstances&Version=2016-11-15&ImageId={ami}&MinCount=1&MaxCount=1&UserData=%21%21notbase64"
r = AWSRequest(method="POST", url=url + "/", data=body,
               headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
SigV4Auth(Credentials(key, secret), "ec2", "local").add_auth(r)
req = urllib.request.Request(url + "/", data=body.encode(), headers=dict(r.headers), method="POST")
try:
    urllib.request.urlopen(req)
    print("200")
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
tap_like "$(cat "$work/raw.txt")" "^400 .*InvalidParameterValue.*BASE64" "user data that is not base64: 400 InvalidParameterValue"
kiln_as $ACCT_A describe-instances
tap_is "$(ids_of)" "" "no refused request launched an instance"

# ---- a key pair from the endpoint, a launch with user data and a ClientToken ----
aws_a create-key-pair --key-name ep --key-type ed25519 --query KeyMaterial --output text
printf '%s\n' "$OUT" >"$work/ep.pem"
chmod 0600 "$work/ep.pem"
tap_like "$(head -1 "$work/ep.pem")" "BEGIN OPENSSH PRIVATE KEY" "create-key-pair through the endpoint"
cat >"$work/user-data.sh" <<'UD'
#!/bin/sh
echo "user data through the endpoint on $(hostname)" > /var/tmp/kiln-user-data
UD
start=$(date +%s)
aws_a run-instances --image-id "$AMI" --count 1 --instance-type t3.micro --key-name ep \
        --user-data "file://$work/user-data.sh" --client-token launch-1 \
        --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=ep-1}]'
tap_is "$RC" 0 "run-instances with user data, a key pair, a ClientToken and tags"
ID=$(ids_of)
tap_like "$ID" '^i-[0-9a-f]{17}$' "one instance"
tap_is "$(json 'd["Instances"][0]["ClientToken"] + " " + d["Instances"][0]["Tags"][0]["Value"]')" "launch-1 ep-1" \
        "with its ClientToken and tags"
SUBNET=$(json 'd["Instances"][0]["SubnetId"]')
aws_a describe-subnets --subnet-ids "$SUBNET"
tap_is "$(json 'd["Subnets"][0]["VpcId"]')" "$(kiln_as $ACCT_A describe-vpcs; json 'd["Vpcs"][0]["VpcId"]')" \
        "the instance is in the region's subnet, in its VPC"
aws_a run-instances --image-id "$AMI" --count 1 --instance-type t3.micro --key-name ep \
        --user-data "file://$work/user-data.sh" --client-token launch-1 \
        --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=ep-1}]'
tap_is "$(ids_of)" "$ID" "a retry with the same ClientToken gets the same instance"
aws_a run-instances --image-id "$AMI" --count 2 --client-token launch-1
tap_like "$ERR" "IdempotentParameterMismatch" "the token with another request: IdempotentParameterMismatch"
same DescribeInstancesResult "describe-instances" describe-instances --instance-ids "$ID" -- \
        describe-instances --instance-ids "$ID"
aws_b describe-instances
tap_is "$(json 'len(d["Reservations"])')" 0 "another account's key sees no instance"
aws_b terminate-instances --instance-ids "$ID"
tap_is "$RC" 254 "nor can it terminate A's"
tap_is "$(pgrep -c -f "serve --listen 127.0.0.1:$PORT")" 1 \
        "the server starts and watches the instance itself: no detached process"
aws_a wait instance-running --instance-ids "$ID"
tap_is "$RC" 0 "aws ec2 wait instance-running"
aws_a wait instance-status-ok --instance-ids "$ID"
tap_is "$RC" 0 "aws ec2 wait instance-status-ok: the server saw SSH and cloud-init answer"
tap_diag "launch to status ok: $(( $(date +%s) - start )) s"
aws_a get-password-data --instance-id "$ID"
tap_is "$RC $(json 'd["InstanceId"] + " [" + d["PasswordData"] + "]"')" "0 $ID []" \
        "get-password-data of a Linux instance: an empty PasswordData, as EC2 gives"
kiln_as $ACCT_A wait password-data-available --instance-id "$ID"
tap_is "$RC" 6 "kiln wait password-data-available refuses a Linux instance at once (exit 6)"
tap_like "$ERR" "IncorrectInstanceState.*is not a Windows instance" "  saying why"
aws_a describe-instance-status --instance-ids "$ID"
tap_is "$(json '[(s["InstanceStatus"]["Status"], s["InstanceStatus"]["Details"][0]["Status"], s["SystemStatus"]["Status"]) for s in d["InstanceStatuses"]]')" \
        "[('ok', 'passed', 'ok')]" "describe-instance-status: the instance and system checks pass"
same DescribeInstanceStatusResult "describe-instance-status" describe-instance-status --instance-ids "$ID" -- \
        describe-instance-status --instance-ids "$ID"
aws_a describe-instance-status --filters Name=instance-status.status,Values=impaired
tap_is "$(json 'len(d["InstanceStatuses"])')" 0 "a filter on the status: no impaired instance"
kiln_as $ACCT_A wait instance-ready --instance-ids "$ID"
kiln_as $ACCT_A describe-instances --instance-ids "$ID"
# The printed command names the key pair (-i ep) where kiln does not hold its private key: the
# parts of ConnectionInfo give the same command with the file the aws CLI's answer was saved in.
ci() { json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["'"$1"'"]'; }
out=$(HOME=$work/home ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$(ci KnownHostsFile)" \
        -o IdentitiesOnly=yes -i "$work/ep.pem" -p "$(ci Port)" "$(ci User)@$(ci Host)" cat /var/tmp/kiln-user-data 2>&1)
tap_is "$out" "user data through the endpoint on $ID" "SSH with the endpoint's key pair sees the user data's file"
same DescribeInstancesResult "describe-instances of the running instance" describe-instances --filters Name=tag:Name,Values=ep-1 -- \
        describe-instances --filters Name=tag:Name,Values=ep-1
aws_a get-console-output --instance-id "$ID"
tap_like "$(json 'd["Output"]')" "Linux version|login:|cloud-init" "get-console-output: the guest's console, decoded"

# ---- security groups on user networking: the rules choose the forwards ----
# A web server on guest port 8080, which no rule of the default group allows yet. ConnectionInfo
# is kiln's own member, which the aws CLI does not print: kiln's describe-instances shows it.
kiln_as $ACCT_A describe-instances --instance-ids "$ID"
HOME=$work/home ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$(ci KnownHostsFile)" \
        -o IdentitiesOnly=yes -i "$work/ep.pem" -p "$(ci Port)" "$(ci User)@$(ci Host)" \
        'mkdir -p /var/tmp/www && echo "port 8080 of $(hostname)" >/var/tmp/www/index.html &&
         cd /var/tmp/www && (setsid python3 -m http.server 8080 >/dev/null 2>&1 </dev/null &)' >/dev/null 2>&1
tap_is "$(json '[g["GroupName"] for g in d["Reservations"][0]["Instances"][0]["SecurityGroups"]]')" "['default']" \
        "an instance launched without a group is in the default group"
fwd_of() { # guest port -> host port of the instance's forward, or nothing
        kiln_as $ACCT_A describe-instances --instance-ids "$ID"
        json '" ".join(str(f["HostPort"]) for f in d["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Forwards"] if f["GuestPort"] == '"$1"')'
}
usernet() { virsh -q -c "$HOME_URI" qemu-monitor-command "$ID" --hmp 'info usernet' 2>&1; }
SSH_PORT=$(ci Port)
tap_like "$SSH_PORT" '^[0-9]+$' "the instance's SSH port"
tap_is "$(fwd_of 22)" "$SSH_PORT" "ConnectionInfo.Forwards lists the SSH forward the default group opens"
tap_is "$(fwd_of 8080)" "" "no forward for guest port 8080, which no rule allows"
tap_ok "$(usernet | grep -qE 'HOST_FORWARD.* 8080 ' && echo 1 || echo 0)" \
        "nor has QEMU one: port 8080 of the guest cannot be reached ($(usernet | grep -c HOST_FORWARD) forwards)"
aws_a authorize-security-group-ingress --group-name default --protocol tcp --port 8080 --cidr 0.0.0.0/0
tap_is "$RC" 0 "authorize-security-group-ingress tcp 8080 on the default group"
WEB=$(fwd_of 8080)
tap_like "$WEB" '^[0-9]+$' "the running instance has a forward for 8080 at once"
tap_is "$(curl -s --max-time 10 "http://127.0.0.1:$WEB/")" "port 8080 of $ID" \
        "the guest's web server answers through it"
aws_a revoke-security-group-ingress --group-name default --protocol tcp --port 8080 --cidr 0.0.0.0/0
tap_is "$RC" 0 "revoke-security-group-ingress of that rule"
tap_is "$(fwd_of 8080)" "" "the forward is gone from ConnectionInfo"
curl -s --max-time 5 "http://127.0.0.1:$WEB/" >/dev/null 2>&1
tap_ok "$([ $? != 0 ] && echo 0 || echo 1)" "and the guest's port 8080 no longer answers on the host"
tap_is "$(fwd_of 22)" "$SSH_PORT" "SSH keeps its forward"

# ---- instance attributes: protections that hold, user data of a stopped instance ----
aws_a modify-instance-attribute --instance-id "$ID" --disable-api-termination
tap_is "$RC" 0 "modify-instance-attribute --disable-api-termination"
same InstanceAttribute "describe-instance-attribute disableApiTermination" describe-instance-attribute \
        --instance-id "$ID" --attribute disableApiTermination -- describe-instance-attribute --instance-id "$ID" \
        --attribute disableApiTermination
tap_is "$(json 'd["DisableApiTermination"]["Value"]')" True "it says so"
aws_a terminate-instances --instance-ids "$ID"
tap_like "$ERR" "OperationNotPermitted" "terminate-instances of the protected instance: OperationNotPermitted"
aws_a modify-instance-attribute --instance-id "$ID" --no-disable-api-termination
aws_a modify-instance-attribute --instance-id "$ID" --disable-api-stop
aws_a stop-instances --instance-ids "$ID"
tap_like "$ERR" "OperationNotPermitted" "stop-instances of an instance with disableApiStop: OperationNotPermitted"
tap_is "$(state_of "$ID")" running "the protected instance still runs"
aws_a modify-instance-attribute --instance-id "$ID" --no-disable-api-stop
aws_a modify-instance-attribute --instance-id "$ID" --attribute userData --value "$(printf 'echo later' | base64)"
tap_like "$ERR" "IncorrectInstanceState" "new user data for a running instance: IncorrectInstanceState"
aws_a modify-instance-attribute --instance-id "$ID" --instance-type Value=t3.small
tap_like "$ERR" "IncorrectInstanceState" "another instance type for a running instance: IncorrectInstanceState"
aws_a describe-instance-attribute --instance-id "$ID" --attribute kernel
tap_like "$ERR" "InvalidParameterValue" "an attribute kiln does not have: InvalidParameterValue"

# ---- dry runs: checked, and nothing moves ----
aws_a stop-instances --instance-ids "$ID" --dry-run
tap_like "$ERR" "DryRunOperation" "stop-instances --dry-run: DryRunOperation"
aws_a reboot-instances --instance-ids "$ID" --dry-run
tap_like "$ERR" "DryRunOperation" "reboot-instances --dry-run: DryRunOperation"
aws_a create-image --instance-id "$ID" --name dry --dry-run
tap_like "$ERR" "DryRunOperation" "create-image --dry-run: DryRunOperation"
aws_a terminate-instances --instance-ids i-0123456789abcdef0 --dry-run
tap_like "$ERR" "InvalidInstanceID.NotFound" "terminate-instances --dry-run of an unknown instance: InvalidInstanceID.NotFound"
tap_is "$(state_of "$ID")" running "the instance still runs"
aws_a describe-images --filters Name=name,Values=dry
tap_is "$(json 'len(d["Images"])')" 0 "and no image was made"

# ---- stop, create-image, launch the image, terminate ----
aws_a stop-instances --instance-ids "$ID"
tap_is "$(json 'd["StoppingInstances"][0]["PreviousState"]["Name"]')" running "stop-instances: from running"
aws_a wait instance-stopped --instance-ids "$ID"
tap_is "$RC" 0 "aws ec2 wait instance-stopped"
printf '#!/bin/sh\necho second user data\n' >"$work/user-data-2.sh"
aws_a modify-instance-attribute --instance-id "$ID" --attribute userData --value "$(base64 -w0 "$work/user-data-2.sh")"
tap_is "$RC" 0 "new user data for the stopped instance"
aws_a describe-instance-attribute --instance-id "$ID" --attribute userData
tap_is "$(json 'd["UserData"]["Value"]' | base64 -d)" "$(cat "$work/user-data-2.sh")" "describe-instance-attribute userData gives it back"
same InstanceAttribute "describe-instance-attribute userData" describe-instance-attribute --instance-id "$ID" \
        --attribute userData -- describe-instance-attribute --instance-id "$ID" --attribute userData
kiln_as $ACCT_A fsck
tap_is "$RC" 0 "fsck finds the rewritten seed the one recorded"
aws_a modify-instance-attribute --instance-id "$ID" --instance-type Value=m9.huge
tap_like "$ERR" "InvalidParameterValue" "an unknown instance type is refused"
aws_a modify-instance-attribute --instance-id "$ID" --instance-type Value=t3.small
tap_is "$RC" 0 "the stopped instance takes another instance type"
aws_a describe-instance-attribute --instance-id "$ID" --attribute instanceType
tap_is "$(json 'd["InstanceType"]["Value"]')" t3.small "describe-instance-attribute says t3.small"
tap_like "$(virsh -q -c "$HOME_URI" dumpxml "$ID" | grep -m1 '<memory')" "2097152" \
        "and its domain has t3.small's 2 GiB (create-image below boots it)"
aws_a create-image --instance-id "$ID" --name ep-baked --description "through the endpoint" --cli-read-timeout 0 \
        --tag-specifications 'ResourceType=image,Tags=[{Key=stage,Value=baked}]'
tap_is "$RC" 0 "create-image of the stopped instance"
[ "$RC" = 0 ] || tap_diag "$ERR"
BAKED=$(json 'd["ImageId"]')
aws_a wait image-available --image-ids "$BAKED"
tap_is "$RC" 0 "aws ec2 wait image-available"
aws_a describe-images --image-ids "$BAKED"
tap_is "$(json 'd["Images"][0]["Name"] + " " + d["Images"][0]["Tags"][0]["Value"]')" "ep-baked baked" "the image, with its tags"
aws_a run-instances --image-id "$BAKED" --count 1 --key-name ep --subnet-id "$SUBNET" \
        --placement AvailabilityZone=locala --instance-initiated-shutdown-behavior stop
tap_is "$RC" 0 "run-instances of the new image, in the region's subnet and zone"
ID2=$(ids_of)
aws_a wait instance-running --instance-ids "$ID2"
tap_is "$RC" 0 "it runs"
aws_a terminate-instances --instance-ids "$ID" "$ID2"
tap_is "$(json 'sorted(c["CurrentState"]["Name"] for c in d["TerminatingInstances"])')" \
        "['terminated', 'terminated']" "terminate-instances of both"
aws_a wait instance-terminated --instance-ids "$ID" "$ID2"
tap_is "$RC" 0 "aws ec2 wait instance-terminated"
tap_is "$(state_of "$ID2")" terminated "kiln sees them terminated"
stop_serve
tap_done
