#!/bin/bash
# What the host can refuse, said with its cause, before or instead of a misleading later error:
# a kiln home below a directory QEMU's user cannot traverse is refused before anything is
# stored (and `kiln doctor` says the same); a domain that cannot start keeps libvirt's message
# in StateReason and in the error of every wait; a deleted home's pool is listed by `kiln gc`
# and undefined with --stale-pools, while a pool kiln did not make is never touched. No guest
# boots: the start fails in QEMU before any code of the guest runs.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

closed=$(mktemp -d /var/tmp/kiln-e2e-closed.XXXXXX) # mode 0700, as mktemp makes it
gone=$(mktemp -d /var/tmp/kiln-e2e-gone.XXXXXX)
chmod 0755 "$gone"
foreign=kiln-e2e-foreign-$$
extra_cleanup() {
        local h p
        for h in "$closed/home" "$gone/home"; do
                [ -f "$h/config.json" ] || continue
                for p in $(python3 -c 'import json,sys; print(" ".join(r["Pool"] for r in json.load(open(sys.argv[1]))["Regions"]))' "$h/config.json"); do
                        virsh -q -c "$HOME_URI" pool-destroy "$p" >/dev/null 2>&1
                        virsh -q -c "$HOME_URI" pool-undefine "$p" >/dev/null 2>&1
                done
        done
        virsh -q -c "$HOME_URI" pool-undefine "$foreign" >/dev/null 2>&1
        rm -rf "$closed" "$gone"
}
home_setup_instances
trap 'extra_cleanup; home_cleanup_instances' EXIT
trap 'extra_cleanup; home_cleanup_instances; exit 143' TERM
trap 'extra_cleanup; home_cleanup_instances; exit 130' INT
work=$KILN_HOME/test
mkdir -p "$work"
qemu-img create -q -f qcow2 "$work/small.qcow2" 64M
pools() { virsh -q -c "$HOME_URI" pool-list --all --name 2>/dev/null | sed '/^$/d' | sort; }
pool_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Regions"][0]["Pool"])' "$1/config.json"; }

# ---- a home QEMU cannot reach ----
pools_before=$(pools)
KILN_HOME=$closed/home kiln_rc register-image --name unreachable --disk "$work/small.qcow2" \
        --default-user admin --platform linux
tap_is "$RC" 10 "register-image in a home below a 0700 directory is refused (exit 10)"
tap_like "$ERR" "cannot traverse '$closed'" "the error names the directory QEMU cannot traverse"
tap_like "$ERR" "QEMU runs as user '[a-z-]+'" "and the user QEMU runs as"
tap_like "$ERR" "chmod o\+x $closed.*KILN_HOME" "and both fixes"
tap_is "$(pools)" "$pools_before" "no pool was defined for it"
KILN_HOME=$closed/home kiln_rc describe-images --owners self
tap_is "$(json 'len(d["Images"])')" 0 "nothing was registered"
KILN_HOME=$closed/home kiln_rc doctor
tap_is "$RC" 10 "kiln doctor fails on that home too"
tap_is "$(json 'd["Regions"][0]["QemuCanReachPool"]')" "False" "and reports QemuCanReachPool false"
tap_like "$(json 'd["Regions"][0]["Error"]')" "cannot traverse '$closed'" "with the same reason"
chmod o+x "$closed"
KILN_HOME=$closed/home kiln_rc register-image --name reachable --disk "$work/small.qcow2" \
        --default-user admin --platform linux
tap_is "$RC" 0 "after the fix the error names ('chmod o+x'), the same home registers"
KILN_HOME=$closed/home kiln_rc doctor
tap_is "$(json 'd["Regions"][0]["QemuCanReachPool"]')" "True" "and doctor reports it reachable"

# ---- a domain that cannot start ----
kiln_rc register-image --name small --disk "$work/small.qcow2" --default-user admin --platform linux
AMI=$(json 'd["ImageId"]')
snap=$(pool_path local)/$(kiln_rc describe-images --image-ids "$AMI" &&
        json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]').qcow2
tap_ok $([ -f "$snap" ]; echo $?) "the image's snapshot file is in the pool"
chmod 0000 "$snap"
kiln_rc run-instances --image-id "$AMI" --wait
tap_is "$RC" 12 "run-instances --wait on a disk QEMU cannot open fails as a hypervisor error (12)"
tap_like "$ERR" "^kiln: Server.InternalError: The instance 'i-[0-9a-f]{17}' could not start: " \
        "the error says that the instance could not start"
tap_like "$ERR" "Could not open '$snap': Permission denied" "with libvirt's message"
kiln_rc describe-instances
ID=$(json 'd["Reservations"][0]["Instances"][0]["InstanceId"]')
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["State"]["Name"]')" "stopped" "the instance is stopped"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["StateReason"]["Code"]')" \
        "Server.InternalError" "StateReason.Code is Server.InternalError"
tap_like "$(json 'd["Reservations"][0]["Instances"][0]["StateReason"]["Message"]')" \
        "^Server.InternalError: .*Permission denied" "StateReason.Message carries libvirt's message"
tap_like "$(json 'd["Reservations"][0]["Instances"][0]["StateTransitionReason"]')" \
        "^Server.InternalError" "StateTransitionReason says so too"
kiln_rc wait instance-ready --instance-ids "$ID"
tap_is "$RC" 12 "wait instance-ready fails at once with the hypervisor's exit status"
tap_like "$ERR" "could not start: .*Permission denied" "and the same message"
kiln_rc run-instances --image-id "$AMI"
tap_is "$RC" 0 "run-instances without --wait returns the instance pending"
ID2=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc wait instance-running --instance-ids "$ID2"
tap_is "$RC" 12 "wait instance-running on it fails once the detached start has failed"
tap_like "$ERR" "could not start: .*Permission denied" "with libvirt's message"
chmod 0444 "$snap"
kiln_rc terminate-instances --instance-ids "$ID" "$ID2"
tap_is "$RC" 0 "both terminate"
tap_is "$(virsh -q -c "$HOME_URI" list --all --name | grep -c -e "^$ID$" -e "^$ID2$" || true)" 0 "neither domain is left"

# ---- pools of deleted homes ----
KILN_HOME=$gone/home kiln_rc register-image --name doomed --disk "$work/small.qcow2" \
        --default-user admin --platform linux
tap_is "$RC" 0 "a second home registers an image"
gone_pool=$(pool_of "$gone/home")
rm -rf "$gone/home"
virsh -q -c "$HOME_URI" pool-define-as "$foreign" dir --target "$gone/foreign/pools/local" >/dev/null
kiln_rc gc
tap_is "$RC" 0 "kiln gc runs"
tap_is "$(json "[p['Removed'] for p in d['StalePools'] if p['Name'] == '$gone_pool']")" "[False]" \
        "it lists the deleted home's pool without --stale-pools, and leaves it"
tap_is "$(json "[p for p in d['StalePools'] if p['Name'] == '$foreign']")" "[]" \
        "a pool kiln did not make is not listed"
tap_like "$(pools)" "$gone_pool" "the pool is still defined"
kiln_rc gc --stale-pools
tap_is "$(json "[p['Removed'] for p in d['StalePools'] if p['Name'] == '$gone_pool']")" "[True]" \
        "gc --stale-pools undefines it"
tap_is "$(pools | grep -c "^$gone_pool\$" || true)" 0 "and it is gone from libvirt"
tap_is "$(pools | grep -c "^$foreign\$" || true)" 1 "the foreign pool is untouched"
kiln_rc describe-images --owners self
tap_ok $([ "$(json 'len(d["Images"])')" -ge 1 ]; echo $?) "the live home's own records are untouched"

tap_done
