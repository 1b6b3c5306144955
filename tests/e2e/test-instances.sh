#!/bin/bash
# Launch and connect on real guests: an instance from the test image with a kiln key pair and
# user data, ready (pinned SSH, cloud-init done), reached with the ssh command describe-instances
# prints (the system's OpenSSH, strict host key checking, an empty known_hosts of its own),
# then stop, start, reboot, terminate through EC2's states; a second instance launched at the
# same time, on a distinct port; and every bad launch refused with its error, leaving nothing
# behind.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"

domains() { virsh -q -c "$HOME_URI" list --all --name 2>/dev/null | grep '^i-' | sort; }
count_instances() { kiln_rc describe-instances; json 'sum(1 for r in d["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated")'; }
pool_files() { ls "$(pool_path local)" 2>/dev/null | sort; }

kiln_rc register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
tap_is "$RC" 0 "the test image registers"
AMI=$(json 'd["ImageId"]')
kiln_rc create-key-pair --key-name e2e --key-type ed25519 --output-file "$work/e2e.pem"
tap_is "$RC" 0 "create-key-pair writes the private key"
tap_is "$(stat -c %a "$work/e2e.pem")" "600" "with mode 0600"

cat >"$work/user-data.sh" <<'UD'
#!/bin/sh
echo "written by user data on $(hostname)" > /var/tmp/kiln-user-data
UD

# ---- refusals first: each leaves nothing behind ----
before_dom=$(domains)
before_files=$(pool_files)
refused() {
        local rc=$1 code=$2 what=$3; shift 3
        kiln_rc run-instances "$@"
        tap_is "$RC" "$rc" "$what: exit $rc"
        tap_like "$ERR" "^kiln: $code" "$what: $code"
}
refused 4 'InvalidAMIID\.NotFound' "a missing image" --image-id ami-0123456789abcdef0
refused 3 'InvalidAMIID\.Malformed' "a malformed image ID" --image-id ami-nope
kiln_rc --account $ACCT_B run-instances --image-id "$AMI"
tap_is "$RC" 7 "an image the caller may not launch: exit 7"
tap_like "$ERR" "^kiln: AuthFailure: Not authorized for images: \[$AMI\]" "with AuthFailure"
kiln_rc modify-image-attribute --image-id "$AMI" --launch-permission "Add=[{OrganizationArn=$ORG_ARN}]"
kiln_rc --account $ACCT_B run-instances --image-id "$AMI"
tap_like "$ERR" "^kiln: AuthFailure" "an account outside the organization still cannot"
kiln_rc modify-image-attribute --image-id "$AMI" --launch-permission "Remove=[{OrganizationArn=$ORG_ARN}]"
refused 4 'InvalidKeyPair\.NotFound' "an unknown key pair" --image-id "$AMI" --key-name nope
refused 3 'InvalidParameterValue: Invalid value .m9.huge. for InstanceType' "an unknown instance type" --image-id "$AMI" --instance-type m9.huge
head -c 16385 /dev/zero | tr '\0' a >"$work/big-user-data"
refused 8 'InvalidUserData\.Malformed' "user data over 16384 bytes" --image-id "$AMI" --user-data "file://$work/big-user-data"
printf '#cloud-config\nruncmd: [ [ echo, "unterminated ]\n' >"$work/bad-user-data"
refused 3 'InvalidUserData\.Malformed' "malformed cloud-config user data" --image-id "$AMI" --user-data "file://$work/bad-user-data"
refused 9 'Unsupported' "an accelerator the host cannot give" --image-id "$AMI" --accel kvm
refused 3 "InvalidParameterValue: 'image' is not a valid taggable resource type for this operation" \
        "TagSpecifications for an image" --image-id "$AMI" --tag-specifications 'ResourceType=image,Tags=[{Key=a,Value=b}]'
refused 3 'InvalidParameterValue: Tag keys starting with .aws:. are reserved' \
        "a reserved tag key" --image-id "$AMI" --tag-specifications 'ResourceType=instance,Tags=[{Key=aws:x,Value=b}]'
tap_is "$(count_instances)" "0" "no refused launch left an instance"
tap_is "$(domains)" "$before_dom" "no refused launch left a domain"
tap_is "$(pool_files)" "$before_files" "no refused launch left a volume or seed"

# ---- one instance, end to end; a second launched at the same time ----
# The second (checked at the end: distinct ports, both ready) boots beside the first instead of
# after it: two TCG guests at once take less than one after the other.
("$KILN_BIN" --no-progress run-instances --image-id "$AMI" --key-name e2e >"$work/par.json" \
        2>"$work/par.err"; echo $? >"$work/par.rc") &
par=$!
start=$(date +%s%N)
kiln_rc run-instances --image-id "$AMI" --key-name e2e --user-data "file://$work/user-data.sh" \
        --tag-specifications 'ResourceType=instance,Tags=[{Key=Name,Value=web-1},{Key=team,Value=web}]' \
        'ResourceType=volume,Tags=[{Key=team,Value=web}]'
took=$(( ($(date +%s%N) - start) / 1000000 ))
first_rc=$RC
wait "$par"
tap_is "$RC" 0 "run-instances"
tap_is "$(json '[(t["Key"], t["Value"]) for t in d["Instances"][0]["Tags"]]')" "[('Name', 'web-1'), ('team', 'web')]" \
        "with the instance's tags from --tag-specifications"
tap_diag "run-instances returned in $took ms"
ID=$(json 'd["Instances"][0]["InstanceId"]')
tap_like "$ID" '^i-[0-9a-f]{17}$' "an instance ID"
tap_is "$(json 'list(d.keys())')" "['Groups', 'Instances', 'OwnerId', 'ReservationId']" "a Reservation in the aws CLI's order"
tap_is "$(json 'd["Instances"][0]["State"]["Name"]+" "+str(d["Instances"][0]["State"]["Code"])')" "pending 0" "pending, code 0, as EC2 returns it"
kiln_rc wait instance-running --instance-ids "$ID"
tap_is "$RC" 0 "wait instance-running"
kiln_rc describe-instances --instance-ids "$ID"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["State"]["Name"]+" "+str(d["Reservations"][0]["Instances"][0]["State"]["Code"])')" "running 16" "then running, code 16"
start=$(date +%s)
kiln_rc wait instance-ready --instance-ids "$ID"
tap_is "$RC" 0 "wait instance-ready"
[ "$RC" = 0 ] || tap_diag "$ERR"
tap_diag "launch to ready: $(( $(date +%s) - start )) s more"
kiln_rc describe-instances --instance-ids "$ID"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["User"]')" "admin" "connection info names the image's user"
SSHCMD=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
tap_like "$SSHCMD" 'StrictHostKeyChecking=yes' "the ssh command checks the host key strictly"
tap_is "$(json 'len(d["Reservations"][0]["Instances"][0]["BlockDeviceMappings"])')" "1" "one volume per mapping"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["Tags"][0]["Value"]')" "web-1" "describe-instances shows the tags"
VOL=$(json 'd["Reservations"][0]["Instances"][0]["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]')
kiln_rc describe-tags --filters Name=resource-type,Values=volume Name=resource-id,Values="$VOL"
tap_is "$(json '[(t["Key"], t["Value"]) for t in d["Tags"]]')" "[('team', 'web')]" "its volume has the volume tags"
kiln_rc describe-instances --filters Name=tag:Name,Values='web-*'
tap_is "$(json '[i["InstanceId"] for r in d["Reservations"] for i in r["Instances"]]')" "['$ID']" \
        "describe-instances --filters Name=tag:Name,Values=web-*"
kiln_rc create-tags --resources "$ID" "$VOL" --tags Key=stage,Value=e2e
tap_is "$RC" 0 "create-tags on the instance and its volume"
kiln_rc describe-tags --filters Name=key,Values=stage
tap_is "$(json 'sorted(t["ResourceType"] for t in d["Tags"])')" "['instance', 'volume']" "describe-tags shows both"
kiln_rc describe-instances --instance-ids "$ID" # what follows reads this answer
out=$(HOME=$work/home $SSHCMD -o BatchMode=yes cat /var/tmp/kiln-user-data 2>&1)
tap_is "$out" "written by user data on $ID" "the printed ssh command runs and sees the user data's file"
tap_ok $([ ! -s "$work/home/.ssh/known_hosts" ]; echo $?) "with nothing added to the user's own known_hosts"
out=$("$KILN_BIN" ssh "$ID" -- hostname 2>&1)
tap_is "$out" "$ID" "kiln ssh runs a command"
kh=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["KnownHostsFile"]')
port=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Port"]')
ssh-keygen -q -t ed25519 -N '' -f "$work/other-key"
HOME=$work/home ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" \
        -o IdentitiesOnly=yes -i "$work/other-key" -p "$port" admin@127.0.0.1 true 2>/dev/null
tap_ok $(($? == 0)) "another user key is refused"
cp "$kh" "$work/kh.good"
ssh-keygen -q -t ed25519 -N '' -f "$work/other-host"
echo "[127.0.0.1]:$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Port"]') $(cut -d' ' -f1,2 "$work/other-host.pub")" >"$kh"
HOME=$work/home $SSHCMD -o BatchMode=yes true 2>/dev/null
tap_ok $(($? == 0)) "a different host key is refused"
cp "$work/kh.good" "$kh"
kiln_rc get-console-output --instance-id "$ID"
tap_like "$(json 'd["Output"]')" "Cloud-init v" "get-console-output shows the serial console"

kiln_rc reboot-instances --instance-ids "$ID"
tap_is "$RC:$OUT" "0:" "reboot-instances prints nothing"
kiln_rc stop-instances --instance-ids "$ID"
tap_is "$RC" 0 "stop-instances"
tap_is "$(json 'd["StoppingInstances"][0]["PreviousState"]["Name"]+">"+d["StoppingInstances"][0]["CurrentState"]["Name"]')" "running>stopped" "running to stopped"
kiln_rc describe-instances --instance-ids "$ID"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["State"]["Code"]')" "80" "stopped is code 80"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["StateReason"]["Code"]')" "Client.UserInitiatedShutdown" "with EC2's state reason"
kiln_rc stop-instances --instance-ids "$ID"
tap_is "$RC" 0 "stopping a stopped instance is a no-op"
kiln_rc reboot-instances --instance-ids "$ID"
tap_is "$RC" 6 "rebooting a stopped instance: IncorrectInstanceState (exit 6)"
kiln_rc start-instances --instance-ids "$ID"
tap_is "$(json 'd["StartingInstances"][0]["PreviousState"]["Name"]+">"+d["StartingInstances"][0]["CurrentState"]["Name"]')" "stopped>running" "stopped to running"
kiln_rc wait instance-ready --instance-ids "$ID"
tap_is "$RC" 0 "ready again after start"
kiln_rc describe-instances --instance-ids "$ID"
SSHCMD=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
out=$(HOME=$work/home $SSHCMD -o BatchMode=yes cat /var/tmp/kiln-user-data 2>&1)
tap_is "$out" "written by user data on $ID" "the disk kept its data across stop and start"

# ---- the two launched at once ----
tap_is "$first_rc$(cat "$work/par.rc")" "00" "two launches at once both succeed"
OUT=$(cat "$work/par.json")
PAR=$(json 'd["Instances"][0]["InstanceId"]')
ports=$("$KILN_BIN" describe-instances --instance-ids "$ID" "$PAR" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(str(i["ConnectionInfo"]["Port"]) for r in d["Reservations"] for i in r["Instances"]))')
tap_is "$(echo $ports | tr ' ' '\n' | sort -u | wc -l)" "2" "on distinct ports ($ports)"
"$KILN_BIN" wait instance-ready --instance-ids "$PAR" >/dev/null 2>"$work/wait.err"
tap_is "$?" 0 "both become ready"
kiln_rc terminate-instances --instance-ids "$PAR"
tap_is "$(domains | grep -c "^$PAR\$")" 0 "and the second is gone after terminate"

kiln_rc terminate-instances --instance-ids "$ID"
tap_is "$(json 'd["TerminatingInstances"][0]["CurrentState"]["Code"]')" "48" "terminated is code 48"
kiln_rc start-instances --instance-ids "$ID"
tap_is "$RC" 6 "a terminated instance cannot be started"
tap_is "$(domains)" "$before_dom" "after terminate no domain remains"
tap_is "$(pool_files)" "$before_files" "nor any volume or seed"
kiln_rc terminate-instances --instance-ids "$ID"
tap_is "$RC" 0 "terminate is idempotent"
kiln_rc describe-instances --instance-ids i-0123456789abcdef0
tap_is "$RC" 4 "an unknown instance: InvalidInstanceID.NotFound"

tap_done
