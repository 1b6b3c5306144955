#!/bin/bash
# run-instances --network NAME: a guest on a libvirt network, reached at the address of its DHCP
# lease. The whole test runs in a network and mount namespace it creates, with a libvirtd and
# virtlogd of its own (private /run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt),
# an isolated bridge network with dnsmasq, and kiln talking to the guest there: no packet leaves
# the namespace, and the host's own libvirt daemon and its definitions are not touched.
set -u
. "$KILN_TOP/tests/harness/tap.sh"

if [ -z "${KILN_NETNS_INNER:-}" ]; then
        if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
                echo "1..0 # SKIP needs root and unshare for a network namespace"
                exit 77
        fi
        exec unshare --net --mount --propagation private env KILN_NETNS_INNER=1 bash "$0" "$@"
fi

. "$KILN_TOP/tests/harness/libvirt.sh"
. "$KILN_TOP/tests/harness/home.sh"

NET=kiln-test-net
SUBNET=192.168.150
state=$(mktemp -d /var/tmp/kiln-netns.XXXXXX)
chmod 0755 "$state"

ns_cleanup() {
        if [ -n "${KILN_HOME:-}" ]; then home_cleanup_instances; fi
        virsh -q -c qemu:///system net-destroy "$NET" >/dev/null 2>&1 || true
        harness_libvirt_down >/dev/null # exactly the daemons this test started
        rm -rf "$state"
}

trap 'ns_cleanup' EXIT
trap 'ns_cleanup; exit 143' TERM
trap 'ns_cleanup; exit 130' INT

# The namespace's own libvirt: copies of the configuration without the host's definitions.
ip link set lo up
mkdir -p "$state/etc" "$state/run" "$state/lib" "$state/cache"
cp -a /etc/libvirt/. "$state/etc/"
rm -f "$state"/etc/qemu/*.xml "$state"/etc/qemu/autostart/*.xml "$state"/etc/storage/*.xml \
        "$state"/etc/storage/autostart/*.xml "$state"/etc/qemu/networks/*.xml \
        "$state"/etc/qemu/networks/autostart/*.xml
cp -a /var/lib/libvirt/. "$state/lib/"
rm -rf "$state"/lib/qemu/domain-* "$state"/lib/dnsmasq/*
mount --bind "$state/etc" /etc/libvirt
mount --bind "$state/lib" /var/lib/libvirt
mount --bind "$state/cache" /var/cache/libvirt
mount -t tmpfs -o mode=0755 tmpfs /run/libvirt
if harness_kvm_broken; then mount --bind /dev/null /dev/kvm; fi
virtlogd -d -p /run/libvirt/kiln-virtlogd.pid
libvirtd -d -p /run/libvirt/kiln-libvirtd.pid
for f in kiln-virtlogd kiln-libvirtd; do
        for _ in $(seq 1 50); do [ -s "/run/libvirt/$f.pid" ] && break; sleep 0.1; done
        HARNESS_STARTED_PIDS+=("$(cat "/run/libvirt/$f.pid")")
done
home_setup_instances
trap 'ns_cleanup' EXIT
trap 'ns_cleanup; exit 143' TERM
trap 'ns_cleanup; exit 130' INT
for _ in $(seq 1 100); do harness_libvirt_answers && break; sleep 0.2; done
tap_ok $(harness_libvirt_answers; echo $?) "a libvirt daemon of the test's own answers in its network namespace"

cat >"$state/net.xml" <<XML
<network>
  <name>$NET</name>
  <bridge name='kilntbr0'/>
  <ip address='$SUBNET.1' netmask='255.255.255.0'>
    <dhcp><range start='$SUBNET.10' end='$SUBNET.99'/></dhcp>
  </ip>
</network>
XML
virsh -q -c qemu:///system net-create "$state/net.xml" >"$state/net.log" 2>&1
tap_is "$?" 0 "an isolated network with DHCP inside the namespace ($(tr '\n' ' ' <"$state/net.log"))"

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
