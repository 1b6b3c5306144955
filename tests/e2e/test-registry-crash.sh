#!/bin/bash
# Crash safety: kiln is killed with SIGKILL at named points inside register-image, copy-image,
# deregister-image, delete-snapshot, fsck --repair and gc (KILN_CRASH_AT). After each crash,
# `kiln fsck --repair` must leave registry and pools consistent (a plain fsck then reports
# nothing), every image registered before the crash must still be whole (record, snapshot,
# file), and the interrupted operation must either have happened entirely or not at all.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup
work=$KILN_HOME/test
mkdir -p "$work"
qemu-img create -q -f raw "$work/disk.raw" 32M
head -c 524288 /dev/urandom | dd of="$work/disk.raw" bs=1M seek=2 conv=notrunc status=none

kiln_as $ACCT_A register-image --name keeper --disk "$work/disk.raw"
KEEP=$(json 'd["ImageId"]')
kiln_as $ACCT_A modify-image-attribute --image-id "$KEEP" --launch-permission "Add=[{Group=all}]"
n=0

# Every available image in both regions has its snapshot record and its file.
all_whole() {
        local region ids sid missing=0
        for region in local west; do
                kiln_rc --region "$region" describe-images --owners self
                for sid in $(json '" ".join(m["Ebs"]["SnapshotId"] for i in d["Images"] for m in i["BlockDeviceMappings"] if i["State"]=="available")'); do
                        [ -f "$(pool_path "$region")/$sid.qcow2" ] || missing=$((missing + 1))
                        kiln_rc --region "$region" describe-snapshots --snapshot-ids "$sid"
                        [ "$RC" = 0 ] || missing=$((missing + 1))
                done
        done
        return $missing
}

# crash_case POINT DESCRIPTION -- kiln arguments
crash_case() {
        local point=$1 what=$2; shift 3
        n=$((n + 1))
        local rc
        # (The shell's own "Killed" notice goes to /dev/null with the output.)
        rc=$( { (KILN_CRASH_AT=$point exec "$KILN_BIN" --no-progress "$@" >/dev/null 2>&1); echo $?; } 2>/dev/null)
        tap_is "$rc" 137 "[$point] $what: killed at the crash point"
        kiln_rc fsck --repair
        local repaired=$RC
        kiln_rc fsck
        tap_is "$RC:$(json 'd["Consistent"]')" "0:True" "[$point] consistent after fsck --repair (repair exit $repaired)"
        [ "$RC" = 0 ] || tap_diag "$OUT"
        tap_is "$(ls "$KILN_HOME/tmp" 2>/dev/null | wc -l)" "0" "[$point] no temporary files left"
        kiln_as $ACCT_A describe-images --image-ids "$KEEP"
        tap_is "$(json 'd["Images"][0]["State"]')" "available" "[$point] the image registered earlier is still there"
        all_whole
        tap_ok $? "[$point] every available image has its snapshot and file"
}

# image_state NAME REGION: available, or none
image_state() {
        kiln_rc --region "$2" describe-images --owners self --filters "Name=name,Values=$1"
        json 'd["Images"][0]["State"] if d["Images"] else "none"'
}

for p in register.after-validate register.after-reserve register.after-convert \
         volume-upload.mid-stream register.after-upload register.commit-between; do
        crash_case $p "register-image" -- --account $ACCT_A register-image --name "r-$p" --disk "$work/disk.raw"
        tap_is "$(image_state "r-$p" local)" "none" "[$p] the register did not happen"
done
crash_case register.after-commit "register-image" -- --account $ACCT_A register-image --name r-done --disk "$work/disk.raw"
tap_is "$(image_state r-done local)" "available" "[register.after-commit] the register happened"

for p in copy.after-reserve copy.reserve-before-commit volume-download.mid-stream \
         copy.after-download copy.after-upload copy.between-layers copy.before-commit; do
        crash_case $p "copy-image" -- --region west --account $ACCT_A copy-image --source-region local --source-image-id "$KEEP" --name "c-$p"
        tap_is "$(image_state "c-$p" west)" "none" "[$p] the copy did not happen"
done
crash_case copy.after-commit "copy-image" -- --region west --account $ACCT_A copy-image --source-region local --source-image-id "$KEEP" --name c-done
tap_is "$(image_state c-done west)" "available" "[copy.after-commit] the copy happened"

kiln_as $ACCT_A register-image --name dr1 --disk "$work/disk.raw"; D1=$(json 'd["ImageId"]')
crash_case deregister.before-commit "deregister-image" -- --account $ACCT_A deregister-image --image-id "$D1"
tap_is "$(image_state dr1 local)" "available" "[deregister.before-commit] the deregister did not happen"
crash_case deregister.after-commit "deregister-image" -- --account $ACCT_A deregister-image --image-id "$D1"
tap_is "$(image_state dr1 local)" "none" "[deregister.after-commit] the deregister happened"

kiln_as $ACCT_A register-image --name sn1 --disk "$work/disk.raw"; S1I=$(json 'd["ImageId"]')
kiln_as $ACCT_A describe-images --image-ids "$S1I"; S1=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
kiln_as $ACCT_A deregister-image --image-id "$S1I"
crash_case delete-snapshot.before-commit "delete-snapshot" -- --account $ACCT_A delete-snapshot --snapshot-id "$S1"
kiln_as $ACCT_A describe-snapshots --snapshot-ids "$S1"
tap_is "$RC" 0 "[delete-snapshot.before-commit] the snapshot is still there"
crash_case delete-snapshot.after-commit "delete-snapshot" -- --account $ACCT_A delete-snapshot --snapshot-id "$S1"
kiln_as $ACCT_A describe-snapshots --snapshot-ids "$S1"
tap_is "$RC" 4 "[delete-snapshot.after-commit] the snapshot is gone"
tap_ok $([ ! -e "$(pool_path local)/$S1.qcow2" ]; echo $?) "[delete-snapshot.after-commit] and fsck removed its file"

# A layer with layers above it: the first copy into west (c-done) holds the data; later copies
# of the same image are overlays on it.
kiln_rc --region west describe-images --owners self --filters Name=name,Values=c-done
CD=$(json 'd["Images"][0]["ImageId"]'); CDS=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
kiln_rc --region west copy-image --source-region local --source-image-id "$KEEP" --name over-1
O1=$(json 'd["ImageId"]')
kiln_rc --region west copy-image --source-region local --source-image-id "$KEEP" --name over-2
O2=$(json 'd["ImageId"]')
kiln_rc --region west describe-images --image-ids "$O1"; O1S=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
kiln_rc --region west describe-images --image-ids "$O2"; O2S=$(json 'd["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]')
tap_is "$(qemu-img info --output=json "$(pool_path west)/$O1S.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename",""))')" \
        "$(pool_path west)/$CDS.qcow2" "later copies are overlays on the first copy's layer"
kiln_rc --region west deregister-image --image-id "$CD"
kiln_rc --region west deregister-image --image-id "$O1"
kiln_rc --region west deregister-image --image-id "$O2"
crash_case delete-snapshot.after-mark "delete-snapshot of a layer with dependents" -- --region west delete-snapshot --snapshot-id "$CDS"
kiln_rc --region west describe-snapshots --snapshot-ids "$CDS"
tap_is "$RC" 0 "[delete-snapshot.after-mark] the snapshot is still listed (the mark was rolled back)"
kiln_rc --region west delete-snapshot --snapshot-id "$CDS"
tap_is "$RC" 0 "the delete completes when run again"
tap_ok $([ -f "$(pool_path west)/$CDS.qcow2" ]; echo $?) "the layer's data stays for the overlays"
kiln_rc --region west delete-snapshot --snapshot-id "$O1S"
tap_ok $([ -f "$(pool_path west)/$CDS.qcow2" ] && [ ! -e "$(pool_path west)/$O1S.qcow2" ]; echo $?) \
        "deleting one overlay keeps the layer the other needs"
crash_case delete-snapshot.between-files "delete-snapshot removing a chain" -- --region west delete-snapshot --snapshot-id "$O2S"
tap_ok $([ ! -e "$(pool_path west)/$O2S.qcow2" ] && [ ! -e "$(pool_path west)/$CDS.qcow2" ]; echo $?) \
        "[delete-snapshot.between-files] both layers' files are gone after repair"

# fsck itself crashing in the middle of a repair.
{ (KILN_CRASH_AT=register.after-upload exec "$KILN_BIN" --no-progress register-image --name stale --disk "$work/disk.raw" >/dev/null 2>&1); } 2>/dev/null
crash_case fsck.repair-after-commit "fsck --repair" -- fsck --repair

kiln_as $ACCT_A register-image --name gc1 --disk "$work/disk.raw"; G1=$(json 'd["ImageId"]')
kiln_as $ACCT_A deregister-image --image-id "$G1"
crash_case gc.after-commit "gc" -- gc

tap_ok $([ "$n" -ge 20 ]; echo $?) "$n distinct crash points exercised"
tap_done
