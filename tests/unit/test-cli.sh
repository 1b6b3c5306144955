#!/bin/bash
# The kiln command's shell: version and data directory, help, unknown verbs and options (exit
# 2, named), global options wherever they stand, output formats, and `doctor` against libvirt's
# test driver.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
k=$KILN_BIN

out=$("$k" --version)
tap_like "$(head -n 1 <<<"$out")" '^kiln [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version first"
tap_like "$(sed -n 2p <<<"$out")" '^data: /.* \((source tree|installed|KILN_DATA_DIR)\)$' \
        "then where kiln's data comes from"
out=$("$k" help); tap_ok $? "help exits 0"
tap_like "$out" 'doctor' "help lists the verbs"
out=$("$k" help doctor); tap_like "$out" '--uri URI' "help VERB shows the verb's options"
out=$("$k" doctor --help); tap_like "$out" '^usage: kiln doctor' "VERB --help is the same"
out=$("$k" help --man); tap_like "$out" $'\n.TH KILN 1 ' "help --man prints kiln(1) in roff"
out=$("$k" help --completion bash); tap_like "$out" $'\ncomplete -F _kiln kiln\n?$' \
        "help --completion bash prints the completion script"
err=$("$k" help --completion zsh 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "a shell without completion exits 2"
tap_like "$err" "no completion for 'zsh'" "and is named"
err=$("$k" help --man doctor 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "help --man with a verb exits 2"

err=$("$k" frobnicate 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "an unknown verb exits 2"
tap_like "$err" "unknown verb 'frobnicate'" "and is named"
err=$("$k" help frobnicate 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "help for an unknown verb exits 2"
err=$("$k" doctor --frobnicate 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "an unknown option exits 2"
tap_like "$err" "unknown option '--frobnicate' for 'doctor'" "and is named with its verb"
err=$("$k" --frobnicate 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "an unknown global option exits 2"
err=$("$k" doctor --uri 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "a missing option value exits 2"
tap_like "$err" "'--uri' needs a value" "and says which option"
err=$("$k" --output yaml doctor 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "a bad --output exits 2"
tap_like "$err" "invalid --output 'yaml'" "and names the value"
err=$("$k" --account 12 doctor 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "a malformed --account exits 2"
err=$("$k" doctor extra 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "a stray argument exits 2"
err=$("$k" --quiet=yes doctor 2>&1 >/dev/null); rc=$?
tap_is "$rc" 2 "a flag given a value exits 2"
"$k" >/dev/null 2>&1; rc=$?
tap_is "$rc" 2 "no verb exits 2"

json=$("$k" doctor --uri test:///default); rc=$?
tap_is "$rc" 0 "doctor against the test driver succeeds"
tap_is "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["Hypervisor"]["Driver"], d["Hypervisor"]["Reachable"])')" \
        "TEST True" "doctor prints JSON with the hypervisor"
tap_like "$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Accelerator"]["Chosen"])')" \
        '^(kvm|tcg)$' "doctor names the accelerator"
json2=$("$k" --output json doctor --uri=test:///default)
tap_is "$json2" "$json" "global options before the verb, --opt=value forms"
text=$("$k" doctor --uri test:///default --output text)
tap_like "$text" $'HYPERVISOR\ttest:///default\tTrue\tTEST' "--output text is tab-separated as the aws CLI's"
table=$("$k" doctor --uri test:///default --output table)
tap_like "$table" 'Driver +\| TEST' "--output table"

out=$("$k" doctor --uri test:///nonexistent/x.xml 2>/tmp/kiln-cli-err.$$); rc=$?
tap_is "$rc" 12 "an unreachable hypervisor exits 12"
tap_like "$(cat /tmp/kiln-cli-err.$$)" "cannot connect to the hypervisor at 'test:///nonexistent/x.xml'" \
        "and says which URI on stderr"
rm -f /tmp/kiln-cli-err.$$
tap_like "$out" '"Reachable": false' "the report still goes to stdout"

err=$("$k" doctor --uri test:///default --accel warp 2>&1 >/dev/null); rc=$?
tap_is "$rc" 3 "a bad --accel is an input error (exit 3)"
tap_like "$err" "Invalid accelerator 'warp'" "naming the value"
"$k" doctor --uri test:///default --accel tcg >/dev/null; rc=$?
tap_is "$rc" 0 "--accel tcg is always possible"

# Structured options are read before anything else (no kiln home is needed to refuse them).
export KILN_HOME=/nonexistent/kiln-cli-home
cli_refuses() {
        local want=$1 what=$2; shift 2
        err=$("$k" "$@" 2>&1 >/dev/null); rc=$?
        tap_is "$rc" 3 "$what: exit 3"
        tap_like "$err" "$want" "$what: says why"
}
cli_refuses "block-device-mappings: kiln does not take Ebs member Iops" "an Ebs member kiln has no use for" \
        run-instances --image-id ami-0123456789abcdef0 --block-device-mappings 'DeviceName=/dev/sdf,Ebs={VolumeSize=1,Iops=3000}'
cli_refuses "expected a whole number for Ebs.VolumeSize" "a size that is not a number" \
        run-instances --image-id ami-0123456789abcdef0 --block-device-mappings 'DeviceName=/dev/sdf,Ebs={VolumeSize=big}'
cli_refuses "each mapping needs a DeviceName" "a mapping without a device" \
        run-instances --image-id ami-0123456789abcdef0 --block-device-mappings '[{"Ebs": {"VolumeSize": 1}}]'
cli_refuses "block-device-mappings" "shorthand that does not parse" \
        run-instances --image-id ami-0123456789abcdef0 --block-device-mappings 'DeviceName=/dev/sdf,Ebs={'
cli_refuses "tag-specifications: unknown member 'Tagz'" "a misspelt TagSpecifications member" \
        run-instances --image-id ami-0123456789abcdef0 --tag-specifications 'ResourceType=instance,Tagz=[{Key=a,Value=b}]'
cli_refuses "tags: each tag needs a Value" "create-tags with a key alone" \
        create-tags --resources ami-0123456789abcdef0 --tags Key=a

# Security groups: a rule is --ip-permissions (shorthand or JSON; malformed: exit 3, as the
# structured options above) or --protocol/--port/--cidr (the aws CLI's simple form; a bad value
# or the two forms mixed is a usage error, exit 2, as a missing group or rule is).
cli_usage() {
        local want=$1 what=$2; shift 2
        err=$("$k" "$@" 2>&1 >/dev/null); rc=$?
        tap_is "$rc" 2 "$what: exit 2"
        tap_like "$err" "$want" "$what: says why"
}
sg=sg-0123456789abcdef0
cli_usage "create-security-group needs --group-name and --description" "a group without a description" \
        create-security-group --group-name web
cli_usage "authorize-security-group-ingress needs --group-id or --group-name" "a rule without a group" \
        authorize-security-group-ingress --protocol tcp --port 22 --cidr 0.0.0.0/0
cli_usage "takes --group-id or --group-name, not both" "a group by ID and by name" \
        authorize-security-group-ingress --group-id $sg --group-name web --protocol tcp --port 22 --cidr 0.0.0.0/0
cli_usage "needs --ip-permissions, or --protocol with --port and --cidr" "authorize without a rule" \
        authorize-security-group-ingress --group-id $sg
cli_usage "invalid --protocol 'tcpx': tcp, udp, icmp, all, or a protocol number" "an unknown --protocol" \
        authorize-security-group-ingress --group-id $sg --protocol tcpx --port 22 --cidr 0.0.0.0/0
cli_usage "invalid --protocol '256'" "a protocol number over 255" \
        authorize-security-group-ingress --group-id $sg --protocol 256 --cidr 0.0.0.0/0
cli_usage "invalid --port '22-'" "a port range without its end" \
        authorize-security-group-ingress --group-id $sg --protocol tcp --port 22- --cidr 0.0.0.0/0
cli_usage "invalid --port 'ssh'" "a port that is not a number" \
        revoke-security-group-ingress --group-name web --protocol tcp --port ssh --cidr 0.0.0.0/0
cli_usage "--port needs --protocol" "a port without its protocol" \
        authorize-security-group-ingress --group-id $sg --port 22 --cidr 0.0.0.0/0
cli_usage "--cidr cannot be combined with --ip-permissions" "the two forms mixed" \
        authorize-security-group-ingress --group-id $sg --cidr 0.0.0.0/0 \
        --ip-permissions 'IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0}]'
cli_usage "needs --ip-permissions, --protocol with --port and --cidr, or --security-group-rule-ids" \
        "revoke without a rule" revoke-security-group-ingress --group-name web
cli_usage "delete-security-group needs --group-id or --group-name" "delete without a group" \
        delete-security-group
cli_usage "unknown option '--source-group'" "a source group (kiln's sources are CIDRs)" \
        authorize-security-group-ingress --group-id $sg --protocol tcp --port 22 --source-group sg-1
cli_refuses "ip-permissions: expected a whole number for FromPort" "a port that is not a number" \
        authorize-security-group-ingress --group-id $sg --ip-permissions 'IpProtocol=tcp,FromPort=ssh,ToPort=22'
cli_refuses "ip-permissions: each permission needs an IpProtocol" "a permission without its protocol" \
        authorize-security-group-ingress --group-id $sg --ip-permissions '[{"FromPort": 22, "ToPort": 22}]'
cli_refuses "ip-permissions: unknown member Protocol" "a misspelt IpPermissions member" \
        authorize-security-group-ingress --group-id $sg --ip-permissions 'IpProtocol=tcp,Protocol=tcp'
cli_refuses "ip-permissions: unknown IpRanges member CidrIpv6" "an IPv6 source in IpRanges" \
        authorize-security-group-ingress --group-id $sg --ip-permissions 'IpProtocol=tcp,IpRanges=[{CidrIpv6=::/0}]'
cli_refuses "ip-permissions: kiln takes IPv4 sources only \(IpRanges\), not UserIdGroupPairs" \
        "a source group" revoke-security-group-ingress --group-id $sg \
        --ip-permissions '[{"IpProtocol": "tcp", "UserIdGroupPairs": [{"GroupId": "sg-1"}]}]'
cli_refuses "ip-permissions: IpRanges must be a list" "IpRanges not a list" \
        authorize-security-group-ingress --group-id $sg --ip-permissions 'IpProtocol=tcp,IpRanges={CidrIp=0.0.0.0/0}'
cli_refuses "ip-permissions: .*character" "shorthand that does not parse" \
        authorize-security-group-ingress --group-id $sg --ip-permissions 'IpProtocol=tcp,IpRanges=[{CidrIp=0.0.0.0/0'
cli_refuses "tag-specifications: unknown member 'Tagz'" "create-security-group's tags" \
        create-security-group --group-name web --description d --tag-specifications 'ResourceType=security-group,Tagz=[]'
cli_refuses "block-device-mappings" "run-instances knows --security-group-ids and --security-groups" \
        run-instances --image-id ami-0123456789abcdef0 --security-group-ids $sg sg-0123456789abcdef1 \
        --security-groups web db --block-device-mappings 'DeviceName=/dev/sdf,Ebs={'
err=$("$k" --dry-run describe-security-groups 2>&1 >/dev/null); rc=$?
tap_is "$rc" 7 "describe-security-groups --dry-run: DryRunOperation (exit 7)"
for v in create-security-group authorize-security-group-ingress revoke-security-group-ingress \
        delete-security-group; do
        err=$("$k" --dry-run "$v" 2>&1 >/dev/null)
        tap_like "$err" "^kiln: $v needs" "$v takes --dry-run (and makes its own checks)"
done
unset KILN_HOME

tap_done
