#!/bin/bash
# UEFI and TPM on real guests: the test image's UEFI disk (GPT, an EFI system partition, GRUB
# for EFI) registered with --boot-mode uefi --tpm-support v2.0 boots under OVMF in TCG; the
# guest sees /sys/firmware/efi and /dev/tpm0; an EFI variable it writes is captured by
# create-image (UefiData) and is there again in an instance of the new image, whose TPM is new.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

if [ -z "${KILN_TEST_IMAGE_UEFI:-}" ] || [ ! -r /usr/share/OVMF/OVMF_CODE_4M.fd ]; then
        echo "1..0 # SKIP needs the test image's UEFI disk and OVMF (make deps)"
        exit 77
fi
home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"
# The variable's GUID is kiln's test vendor; attributes 7: non-volatile, boot and runtime.
VAR=KilnTest-4b696c6e-7465-4000-8000-000000000001
efivars=/sys/firmware/efi/efivars

kiln_rc register-image --name debian-12-uefi --disk "$KILN_TEST_IMAGE_UEFI" --default-user admin \
        --boot-mode uefi --tpm-support v2.0
tap_is "$RC" 0 "the UEFI disk registers with --boot-mode uefi --tpm-support v2.0"
AMI=$(json 'd["ImageId"]')
kiln_rc describe-images --image-ids "$AMI"
tap_is "$(json 'd["Images"][0]["BootMode"] + " " + d["Images"][0]["TpmSupport"]')" "uefi v2.0" \
        "describe-images shows BootMode and TpmSupport"
kiln_rc register-image --name bad-tpm --disk "$KILN_TEST_IMAGE_UEFI" --tpm-support v2.0
tap_is "$RC" 3 "TPM support without UEFI is refused"
tap_like "$ERR" "InvalidParameterCombination" "  with InvalidParameterCombination"
kiln_rc create-key-pair --key-name uefi --key-type ed25519 --output-file "$work/uefi.pem"

start=$(date +%s)
kiln_rc run-instances --image-id "$AMI" --key-name uefi --wait
tap_is "$RC" 0 "an instance of it becomes ready under OVMF"
[ "$RC" = 0 ] || tap_diag "$ERR"
tap_diag "launch to ready: $(( $(date +%s) - start )) s"
ID=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc describe-instances --instance-ids "$ID"
tap_is "$(json 'd["Reservations"][0]["Instances"][0].get("BootMode", "") + " " + d["Reservations"][0]["Instances"][0].get("TpmSupport", "")')" \
        "uefi v2.0" "the instance is UEFI with a TPM"
tap_like "$(virsh -q -c "$HOME_URI" dumpxml "$ID")" "<nvram[^>]*>[^<]*$ID-nvram.fd</nvram>" \
        "its variables are in a volume of its own in the region's pool"
tap_is "$(on "$ID" "test -d /sys/firmware/efi && echo efi")" efi "the guest sees /sys/firmware/efi"
tap_like "$(on "$ID" 'ls /dev/tpm0 /dev/tpmrm0')" "/dev/tpm0" "and a TPM, /dev/tpm0"
on "$ID" "sudo python3 -c 'open(\"$efivars/$VAR\", \"wb\").write(b\"\\x07\\x00\\x00\\x00kiln-uefi-$ID\")'" >/dev/null
tap_like "$(on "$ID" "cat $efivars/$VAR | tail -c +5")" "kiln-uefi-$ID" "the guest writes an EFI variable"

# Live (--no-reboot, so not generalized): the variable store is read as the running guest has it.
kiln_rc create-image --instance-id "$ID" --name uefi-baked --no-reboot --no-generalize
tap_is "$RC" 0 "create-image of the running UEFI instance"
[ "$RC" = 0 ] || tap_diag "$ERR"
BAKED=$(json 'd["ImageId"]')
kiln_rc describe-images --image-ids "$BAKED"
tap_is "$(json 'd["Images"][0]["BootMode"] + " " + d["Images"][0]["TpmSupport"]')" "uefi v2.0" \
        "the new image is UEFI with TPM support"
kiln_rc describe-image-attribute --image-id "$BAKED" --attribute uefiData
tap_like "$(json 'd["UefiData"]["Value"]')" '^[A-Za-z0-9+/=]{100,}$' "and carries the variables (UefiData)"

kiln_rc run-instances --image-id "$BAKED" --key-name uefi --wait
tap_is "$RC" 0 "an instance of the new image becomes ready"
[ "$RC" = 0 ] || tap_diag "$ERR"
ID2=$(json 'd["Instances"][0]["InstanceId"]')
tap_like "$(on "$ID2" "cat $efivars/$VAR | tail -c +5")" "kiln-uefi-$ID" "the EFI variable is there again"
tap_like "$(on "$ID2" 'ls /dev/tpm0')" "/dev/tpm0" "with a TPM of its own"
uuid1=$(virsh -q -c "$HOME_URI" domuuid "$ID")
uuid2=$(virsh -q -c "$HOME_URI" domuuid "$ID2")
p1=/var/lib/libvirt/swtpm/$uuid1/tpm2/tpm2-00.permall
p2=/var/lib/libvirt/swtpm/$uuid2/tpm2/tpm2-00.permall
tap_ok "$([ -r "$p1" ] && [ -r "$p2" ] && ! cmp -s "$p1" "$p2"; echo $?)" \
        "whose state is its own, not the first instance's (a TPM is never baked)"

kiln_rc terminate-instances --instance-ids "$ID" "$ID2"
tap_is "$RC" 0 "both terminate"
tap_is "$(ls "$(pool_path local)" | grep -c nvram)" 0 "and their NVRAM volumes go with them"
kiln_rc fsck
tap_is "$RC" 0 "fsck finds the region consistent"
tap_done
