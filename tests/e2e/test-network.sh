#!/bin/bash
# run-instances --network NAME: a guest on a libvirt network, reached at the address of its DHCP
# lease. The whole test runs in a network and mount namespace it creates, with a libvirtd and
# virtlogd of its own (private /run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt),
# an isolated bridge network with dnsmasq, and kiln talking to the guest there: no packet leaves
# the namespace, and the host's own libvirt daemon and its definitions are not touched.
set -u
. "$KILN_TOP/tests/harness/tap.sh"

. "$KILN_TOP/tests/harness/netns.sh"
netns_enter "$0" "$@"
. "$KILN_TOP/tests/harness/libvirt.sh"
. "$KILN_TOP/tests/harness/home.sh"

NET=kiln-test-net
SUBNET=192.168.150
netns_setup "$NET" "$SUBNET"

work=$KILN_HOME/test
mkdir -p "$work/home"
chmod 0700 "$work/home"
kiln_rc register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
AMI=$(json 'd["ImageId"]')
kiln_rc create-key-pair --key-name net --key-type ed25519 --output-file "$work/net.pem"

kiln_rc run-instances --image-id "$AMI" --key-name net --network no-such-net
tap_is "$RC" 3 "an unknown network is refused"
tap_like "$ERR" "InvalidParameterValue.*no-such-net" "naming the network"
kiln_rc describe-instances
tap_is "$(json 'sum(len(r["Instances"]) for r in d["Reservations"])')" 0 "and nothing was launched"

kiln_rc run-instances --image-id "$AMI" --key-name net --network "$NET" --wait
tap_is "$RC" 0 "an instance on the libvirt network becomes ready"
[ "$RC" = 0 ] || tap_diag "$ERR"
ID=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc describe-instances --instance-ids "$ID"
ip=$(json 'd["Reservations"][0]["Instances"][0]["PrivateIpAddress"]')
tap_like "$ip" "^$SUBNET\\.[0-9]+\$" "its address is its DHCP lease on the network ($ip)"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Host"]')" "$ip" "ConnectionInfo connects to that address"
tap_is "$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["Port"]')" 22 "on port 22"
tap_like "$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["KnownHostsLine"]')" "^$ip ssh-ed25519 " "with a known_hosts line for it"
lease=$(virsh -q -c qemu:///system net-dhcp-leases "$NET" | awk '{print $5}' | cut -d/ -f1)
tap_is "$lease" "$ip" "the address is the one dnsmasq leased"
SSHCMD=$(json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]')
out=$(HOME=$work/home timeout 60 $SSHCMD -o BatchMode=yes 'hostname; ip -4 -o addr show scope global' 2>&1)
tap_like "$out" "^$ID" "the printed ssh command logs in (strict host key checking)"
tap_like "$out" "inet $ip/" "and the guest has that address"
kiln_rc configure --instance-id "$ID" --run 'echo configured over the network'
tap_is "$OUT" "configured over the network" "configure reaches it too"

# ---- security groups on a libvirt network: an nwfilter on the interface ----
tap_is "$(virsh -q -c qemu:///system nwfilter-list | awk '{print $2}' | grep -c "^kiln-$ID\$")" 1 \
        "the instance's interface has an nwfilter of its own"
HOME=$work/home timeout 60 $SSHCMD -o BatchMode=yes \
        'mkdir -p /var/tmp/www && echo "port 8080 of $(hostname)" >/var/tmp/www/index.html &&
         cd /var/tmp/www && (setsid python3 -m http.server 8080 >/dev/null 2>&1 </dev/null &)' >/dev/null 2>&1
sleep 2
web() { curl -s --max-time 5 "http://$ip:8080/" 2>/dev/null; }
reach() { timeout 8 bash -c "exec 3<>/dev/tcp/$ip/$1" 2>/dev/null && echo open || echo closed; }
tap_is "$(web)" "" "guest port 8080, which no rule of the default group allows, does not answer"
kiln_rc authorize-security-group-ingress --group-name default --protocol tcp --port 8080 --cidr 10.9.9.0/24
tap_is "$RC" 0 "a rule for 8080 from another network"
tap_is "$(web)" "" "  does not let this host's address in"
kiln_rc authorize-security-group-ingress --group-name default --protocol tcp --port 8080 --cidr "$SUBNET.0/24"
tap_is "$RC" 0 "a rule for 8080 from the network's own addresses"
tap_is "$(web)" "port 8080 of $ID" "  lets the request in at once: the guest's web server answers"
kiln_rc revoke-security-group-ingress --group-name default --protocol tcp --port 8080 --cidr "$SUBNET.0/24"
tap_is "$RC" 0 "revoke-security-group-ingress of it"
tap_is "$(web)" "" "  and port 8080 is shut again"
tap_is "$(reach 22)" open "SSH, which the default group allows, still answers"
kiln_rc revoke-security-group-ingress --group-name default --protocol tcp --port 22 --cidr 0.0.0.0/0
tap_is "$(reach 22)" closed "revoking SSH from the default group shuts port 22 too"
kiln_rc authorize-security-group-ingress --group-name default --protocol tcp --port 22 --cidr 0.0.0.0/0
tap_is "$(reach 22)" open "and authorizing it opens it again"
kiln_rc terminate-instances --instance-ids "$ID"
tap_is "$(virsh -q -c qemu:///system list --all --name | grep -c "$ID")" 0 "terminate removes its domain"
tap_is "$(virsh -q -c qemu:///system nwfilter-list | grep -c "kiln-$ID")" 0 "and its nwfilter"

tap_done
