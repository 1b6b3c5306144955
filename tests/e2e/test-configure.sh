#!/bin/bash
# configure on a real guest: commands with live stdout/stderr, a script with its own #! line,
# an upload with a mode, the seed's cowsay MOTD as a message full of shell syntax (shown
# literally at login, never run), a MOTD script, a reboot that waits until ready again, and a
# failing step that stops the run with its exit status and stderr.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"

kiln_rc register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
AMI=$(json 'd["ImageId"]')
kiln_rc create-key-pair --key-name cfg --key-type ed25519 --output-file "$work/cfg.pem"
kiln_rc run-instances --image-id "$AMI" --key-name cfg --wait
tap_is "$RC" 0 "an instance to configure is ready"
ID=$(json 'd["Instances"][0]["InstanceId"]')

kiln_rc configure --instance-id "$ID" --run 'echo to-stdout; echo to-stderr >&2; id -un'
tap_is "$RC" 0 "--run succeeds"
tap_is "$OUT" "$(printf 'to-stdout\nadmin')" "its stdout streams to stdout, as the login user"
tap_is "$ERR" "to-stderr" "its stderr to stderr"

printf '#!/bin/bash\nset -euo pipefail\nwords=(one two three)\necho "${#words[@]} words from bash $BASH_VERSION" | cut -c1-16\n' >"$work/script.sh"
kiln_rc configure --instance-id "$ID" --script "$work/script.sh"
tap_is "$OUT" "3 words from bas" "--script runs with its own #! interpreter"

printf 'secret=42\n' >"$work/app.conf"
kiln_rc configure --instance-id "$ID" --upload "$work/app.conf:/etc/app/app.conf:0640" \
        --run 'sudo -n stat -c "%a %U" /etc/app/app.conf; sudo -n cat /etc/app/app.conf'
tap_is "$OUT" "$(printf '640 root\nsecret=42')" "--upload writes the file as root with the mode"

msg=$(printf 'Web tier "blue" \\ $(touch /tmp/kiln-pwned) `id` ${HOME}\nsecond line')
kiln_rc configure --instance-id "$ID" --motd-message "$msg"
tap_is "$RC" 0 "--motd-message installs the message"
printf '#!/bin/sh\necho "motd script on $(hostname)"\n' >"$work/50-host"
kiln_rc configure --instance-id "$ID" --motd-script "$work/50-host"
tap_is "$RC" 0 "--motd-script installs a script"
kiln_rc describe-instances --instance-ids "$ID"
SSHCMD=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
# A login session shows the MOTD (pam_motd runs /etc/update-motd.d at login).
login=$(echo exit | HOME=$work/home timeout 60 $SSHCMD -o BatchMode=yes -tt 2>/dev/null | tr -d '\r')
tap_like "$login" 'Web tier "blue" \\ \$\(touch /tmp/kiln-pwned\) `id` \$\{HOME\}' "the message shows at login, literally"
tap_like "$login" 'second line' "with its second line"
tap_like "$login" '\\   \^__\^' "through cowsay"
tap_like "$login" "motd script on $ID" "and the MOTD script runs at login"
out=$(HOME=$work/home $SSHCMD -o BatchMode=yes 'ls /tmp/kiln-pwned 2>&1; echo done')
tap_like "$out" 'No such file' "nothing in the message was executed"

kiln_rc configure --instance-id "$ID" --run 'cat /proc/sys/kernel/random/boot_id' 
boot1=$OUT
kiln_rc configure --instance-id "$ID" --reboot --run 'cat /proc/sys/kernel/random/boot_id'
tap_is "$RC" 0 "--reboot waits until the instance is ready again"
tap_ok $([ -n "$OUT" ] && [ "$OUT" != "$boot1" ]; echo $?) "and the next step runs in the new boot"

kiln_rc configure --instance-id "$ID" --run 'echo before' --run 'echo broken >&2; exit 7' --run 'echo never'
tap_is "$RC" 7 "a failing step's exit status is kiln's"
tap_like "$ERR" 'step 2 of 3: --run failed with exit status 7: broken' "the error names the step and carries its stderr"
tap_ok $(echo "$OUT" | grep -q never; echo $((! $?))) "the steps after it do not run"

kiln_rc configure --instance-id "$ID" --script "$work/missing.sh"
tap_is "$RC" 3 "a missing local script is refused before anything runs"
kiln_rc configure --instance-id "$ID" --upload "$work/app.conf:relative/path"
tap_is "$RC" 3 "an upload to a relative path is refused"
kiln_rc configure --instance-id i-0123456789abcdef0 --run true
tap_is "$RC" 4 "an unknown instance: InvalidInstanceID.NotFound"
kiln_rc stop-instances --instance-ids "$ID"
kiln_rc configure --instance-id "$ID" --run true
tap_is "$RC" 6 "a stopped instance: IncorrectInstanceState"

tap_done
