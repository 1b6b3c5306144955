#!/bin/bash
# Windows instances over RDP, proven with a Linux stand-in: there is no Windows image to boot
# here. The stand-in is the test image itself registered as --platform windows; its first-boot
# unit (tests/images/debian12/files/kiln-standin) does cloudbase-init's job with the config
# drive kiln writes (Administrator, its password from admin_pass, the key pair for OpenSSH)
# and starts xrdp. What is checked is kiln's side: the password kiln makes reaches the guest
# only on the drive and comes back only encrypted (get-password-data, decrypted with the key
# pair's private key), the drive loses it after the first boot, readiness is RDP's connection
# confirm, the connection info and .rdp file, and the Windows domain (q35, Hyper-V).
#
# xrdp has no NLA, so `xfreerdp /auth-only` exits 0 for a wrong password as for a right one
# (it stops before xrdp's PAM check answers): the test runs it, but the proof that the
# password logs in is xrdp's own log, read over SSH with the key pair, for the right password
# and for a wrong one.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"
. "$KILN_TOP/tests/harness/endpoint.sh"

for tool in xfreerdp xvfb-run openssl; do
        if ! command -v "$tool" >/dev/null; then
                echo "1..0 # SKIP needs $tool (make deps)"
                exit 77
        fi
done
endpoint_skip_unless_clients
home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work"
trap 'stop_serve; home_cleanup_instances' EXIT

kiln_rc register-image --name windows-standin --disk "$KILN_TEST_IMAGE" --platform windows
tap_is "$RC" 0 "the stand-in registers as a Windows image (--platform windows)"
AMI=$(json 'd["ImageId"]')

kiln_rc create-key-pair --key-name win-ed --key-type ed25519 --output-file "$work/ed.pem"
kiln_rc run-instances --image-id "$AMI" --key-name win-ed
tap_is "$RC" 3 "an ED25519 key pair is refused for a Windows image"
tap_like "$ERR" "Unsupported.*ED25519 key pairs are not supported with Windows AMIs" \
        "  with EC2's error"
kiln_rc describe-instances
tap_is "$(json 'len(d["Reservations"])')" 0 "  and nothing is launched"

kiln_rc create-key-pair --key-name win --key-type rsa --output-file "$work/win.pem"
start=$(date +%s)
kiln_rc run-instances --image-id "$AMI" --key-name win
tap_is "$RC" 0 "run-instances with an RSA key pair"
ID=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc get-password-data --instance-id "$ID"
tap_is "$RC [$(json 'd["PasswordData"]')]" "0 []" \
        "get-password-data: empty until the first boot has taken the password"
kiln_rc wait instance-ready --instance-ids "$ID"
tap_is "$RC" 0 "the instance becomes ready: its RDP port answers with a connection confirm"
[ "$RC" = 0 ] || tap_diag "$ERR"
tap_diag "launch to ready: $(( $(date +%s) - start )) s"

kiln_rc wait password-data-available --instance-id "$ID"
tap_is "$RC" 0 "kiln wait password-data-available"
kiln_rc get-password-data --instance-id "$ID"
DATA=$(json 'd["PasswordData"]')
tap_like "$DATA" '^[A-Za-z0-9+/]{300,}={0,2}$' "then PasswordData: the password encrypted, in base64"
kiln_rc get-password-data --instance-id "$ID" --priv-launch-key "$work/win.pem"
PW=$(json 'd["PasswordData"]')
tap_like "$PW" '^[A-Za-z][A-Za-z0-9_.:+@-]{31}$' \
        "--priv-launch-key decrypts it: a 32-character password"
tap_is "$(printf '%s' "$DATA" | base64 -d | openssl pkeyutl -decrypt -inkey "$work/win.pem" \
        -pkeyopt rsa_padding_mode:pkcs1)" "$PW" "  which openssl pkeyutl decrypts too"
endpoint_start
aws_a wait password-data-available --instance-id "$ID"
tap_is "$RC" 0 "through the endpoint: aws ec2 wait password-data-available"
aws_a get-password-data --instance-id "$ID"
tap_is "$(json 'd["PasswordData"]')" "$DATA" "  aws ec2 get-password-data: the same PasswordData"
aws_a get-password-data --instance-id "$ID" --priv-launch-key "$work/win.pem"
tap_is "$(json 'd["PasswordData"]')" "$PW" "  which the aws CLI decrypts to the same password"
stop_serve
kiln_rc get-password-data --instance-id "$ID" --priv-launch-key "$work/ed.pem"
tap_is "$RC" 3 "another key's private key does not decrypt it"
tap_like "$ERR" "Unable to decrypt password data using provided private key file" \
        "  with the aws CLI's message"

kiln_rc describe-instances --instance-ids "$ID"
conn() { json "d['Reservations'][0]['Instances'][0]['ConnectionInfo'].get('$1', '')"; }
tap_is "$(conn Protocol) $(conn User) $(conn Host)" "rdp Administrator 127.0.0.1" \
        "ConnectionInfo: RDP as Administrator"
RDP_PORT=$(conn Port)
RDP_CMD=$(conn RdpCommand)
RDP_FILE=$(conn RdpFile)
tap_is "$RDP_CMD" "xfreerdp /v:127.0.0.1:$RDP_PORT /u:Administrator /cert:tofu" \
        "  a ready xfreerdp command"
tap_like "$(cat "$RDP_FILE" 2>&1)" "full address:s:127.0.0.1:$RDP_PORT" \
        "  and an .rdp file in the instance directory"
tap_is "$(stat -c %a "$RDP_FILE")" 600 "  readable by its owner only"
SSH_PORT=$(json "[f['HostPort'] for f in d['Reservations'][0]['Instances'][0]['ConnectionInfo']['Forwards'] if f['GuestPort'] == 22][0]")

# The stand-in's own view, over SSH with the key pair (cloudbase-init's authorized keys).
guest() {
        timeout 60 ssh -i "$work/win.pem" -p "$SSH_PORT" -o BatchMode=yes \
                -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                Administrator@127.0.0.1 "$@" 2>&1
}
# The login as xrdp saw it: the lines its log gains while xfreerdp runs with a password.
sudo_log() { guest "printf '%s\n' '$PW' | sudo -S -p '' cat /var/log/xrdp.log"; }
rdp_login() {
        local before after pid
        before=$(sudo_log | wc -l)
        # shellcheck disable=SC2086 # the printed command is words to run
        timeout 60 xvfb-run -a $RDP_CMD "/p:$1" >"$work/xfreerdp.log" 2>&1 &
        pid=$!
        for _ in $(seq 20); do
                sleep 2
                after=$(sudo_log | tail -n +$((before + 1)))
                case $after in *"login successful"* | *"login failed"*) break ;; esac
        done
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        printf '%s' "$after"
}
tap_like "$(rdp_login "$PW")" "login successful for user Administrator" \
        "xfreerdp with the password from get-password-data logs in (xrdp's log)"
tap_like "$(rdp_login "Wrong-$PW")" "login failed for user Administrator" \
        "and with a wrong one it does not"
# shellcheck disable=SC2086
timeout 30 xvfb-run -a $RDP_CMD "/p:$PW" /auth-only >"$work/auth-only.log" 2>&1
tap_is "$?" 0 "xfreerdp /auth-only with it exits 0 (with xrdp, as for any password: no NLA)"

# The config drive, as the pool holds it now: the clear password is gone.
cp "$(pool_path local)/$ID-seed.iso" "$work/drive.iso"
tap_like "$(blkid -o value -s LABEL "$work/drive.iso")" "^config-2$" "the seed is a config drive (config-2)"
xorriso -osirrox on -indev "$work/drive.iso" -extract /openstack/latest/meta_data.json \
        "$work/meta.json" >/dev/null 2>&1
tap_like "$(cat "$work/meta.json")" '"admin_username": "Administrator"' \
        "  naming Administrator for cloudbase-init"
tap_ok "$(! grep -q admin_pass "$work/meta.json" && ! grep -aqF "$PW" "$work/drive.iso"; echo $?)" \
        "  and no longer holding the password after the first boot"
kiln_rc get-password-data --instance-id "$ID"
tap_is "$(json 'd["PasswordData"]')" "$DATA" "PasswordData stays what it was"

XML=$(virsh -q -c "$HOME_URI" dumpxml "$ID")
tap_like "$XML" "machine='pc-q35" "the Windows domain is q35"
tap_like "$XML" "<relaxed state='on'/>" "  with Hyper-V enlightenments"
tap_like "$XML" "<clock offset='localtime'>" "  and its clock in local time"

# An image without virtio drivers (EnaSupport false) and with its clock in UTC. The stand-in's
# cloud kernel has no AHCI or e1000e driver, so it cannot boot from such devices: this checks
# the domain QEMU runs, not the guest.
kiln_rc register-image --name win-legacy --disk "$KILN_TEST_IMAGE" --platform windows \
        --no-ena-support --clock utc
tap_is "$RC" 0 "register-image --no-ena-support --clock utc"
LEGACY=$(json 'd["ImageId"]')
kiln_rc describe-images --image-ids "$LEGACY"
tap_is "$(json 'd["Images"][0]["EnaSupport"]')" False "  EnaSupport false"
kiln_rc register-image --name win-bad-clock --disk "$KILN_TEST_IMAGE" --platform windows \
        --clock martian
tap_is "$RC" 3 "a clock that is neither utc nor localtime is refused"
tap_like "$ERR" "Invalid clock 'martian'" "  naming it"
kiln_rc run-instances --image-id "$LEGACY" --key-name win
ID2=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc wait instance-running --instance-ids "$ID2"
tap_is "$RC" 0 "an instance of it runs"
tap_is "$(virsh -q -c "$HOME_URI" domstate "$ID2")" running "  QEMU took its devices"
XML=$(virsh -q -c "$HOME_URI" dumpxml "$ID2")
tap_like "$XML" "<target dev='sda' bus='sata'/>" "  its disks on SATA"
tap_like "$XML" "device='cdrom'" "  the config drive a CD-ROM"
tap_like "$XML" "e1000e,netdev=" "  an e1000e NIC"
tap_like "$XML" "<clock offset='utc'>" "  and its clock in UTC"

kiln_rc terminate-instances --instance-ids "$ID" "$ID2"
tap_is "$RC" 0 "both terminate"
tap_ok "$(test ! -e "$(pool_path local)/$ID-seed.iso"; echo $?)" "  and the config drives go with them"
kiln_rc fsck
tap_is "$RC" 0 "fsck finds the region consistent"
tap_done
