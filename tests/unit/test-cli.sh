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
unset KILN_HOME

tap_done
