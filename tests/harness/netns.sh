# Sourced by tests that run in a network and mount namespace of their own, with a libvirtd and
# virtlogd of their own (private /run/libvirt, /etc/libvirt, /var/lib/libvirt,
# /var/cache/libvirt) and an isolated bridge network with dnsmasq: no packet leaves the
# namespace, and the host's own libvirt daemon and its definitions are not touched.
#   netns_enter "$0" "$@"    re-runs the test in a new namespace (skips, 77, without root)
#   netns_setup NET SUBNET   the daemons, a kiln home (home.sh) and the network NET with DHCP
#                            on SUBNET.0/24; state in $NETNS_STATE; cleaned up on exit
#   netns_cleanup            what netns_setup made (the trap calls it)

netns_enter() {
        if [ -n "${KILN_NETNS_INNER:-}" ]; then return 0; fi
        if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
                echo "1..0 # SKIP needs root and unshare for a network namespace"
                exit 77
        fi
        exec unshare --net --mount --propagation private env KILN_NETNS_INNER=1 bash "$@"
}

netns_cleanup() {
        if [ -n "${KILN_HOME:-}" ]; then home_cleanup_instances; fi
        if [ -n "${NETNS_NET:-}" ]; then
                virsh -q -c qemu:///system net-destroy "$NETNS_NET" >/dev/null 2>&1 || true
        fi
        harness_libvirt_down >/dev/null # exactly the daemons this test started
        if [ -n "${NETNS_STATE:-}" ]; then rm -rf "$NETNS_STATE"; fi
}

netns_setup() {
        local net=$1 subnet=$2 f
        NETNS_NET=$net
        NETNS_STATE=$(mktemp -d /var/tmp/kiln-netns.XXXXXX)
        chmod 0755 "$NETNS_STATE"
        trap 'netns_cleanup' EXIT
        trap 'netns_cleanup; exit 143' TERM
        trap 'netns_cleanup; exit 130' INT
        # The namespace's own libvirt: copies of the configuration without the host's definitions.
        ip link set lo up
        mkdir -p "$NETNS_STATE/etc" "$NETNS_STATE/run" "$NETNS_STATE/lib" "$NETNS_STATE/cache"
        cp -a /etc/libvirt/. "$NETNS_STATE/etc/"
        rm -f "$NETNS_STATE"/etc/qemu/*.xml "$NETNS_STATE"/etc/qemu/autostart/*.xml \
                "$NETNS_STATE"/etc/storage/*.xml "$NETNS_STATE"/etc/storage/autostart/*.xml \
                "$NETNS_STATE"/etc/qemu/networks/*.xml "$NETNS_STATE"/etc/qemu/networks/autostart/*.xml \
                "$NETNS_STATE"/etc/nwfilter/kiln-*.xml
        cp -a /var/lib/libvirt/. "$NETNS_STATE/lib/"
        rm -rf "$NETNS_STATE"/lib/qemu/domain-* "$NETNS_STATE"/lib/dnsmasq/*
        mount --bind "$NETNS_STATE/etc" /etc/libvirt
        mount --bind "$NETNS_STATE/lib" /var/lib/libvirt
        mount --bind "$NETNS_STATE/cache" /var/cache/libvirt
        mount -t tmpfs -o mode=0755 tmpfs /run/libvirt
        if harness_kvm_broken; then mount --bind /dev/null /dev/kvm; fi
        virtlogd -d -p /run/libvirt/kiln-virtlogd.pid
        libvirtd -d -p /run/libvirt/kiln-libvirtd.pid
        for f in kiln-virtlogd kiln-libvirtd; do
                for _ in $(seq 1 50); do [ -s "/run/libvirt/$f.pid" ] && break; sleep 0.1; done
                HARNESS_STARTED_PIDS+=("$(cat "/run/libvirt/$f.pid")")
        done
        home_setup_instances
        trap 'netns_cleanup' EXIT
        trap 'netns_cleanup; exit 143' TERM
        trap 'netns_cleanup; exit 130' INT
        for _ in $(seq 1 100); do harness_libvirt_answers && break; sleep 0.2; done
        tap_ok $(harness_libvirt_answers; echo $?) "a libvirt daemon of the test's own answers in its network namespace"
        cat >"$NETNS_STATE/net.xml" <<XML
<network>
  <name>$net</name>
  <bridge name='kilntbr0'/>
  <ip address='$subnet.1' netmask='255.255.255.0'>
    <dhcp><range start='$subnet.10' end='$subnet.99'/></dhcp>
  </ip>
</network>
XML
        virsh -q -c qemu:///system net-create "$NETNS_STATE/net.xml" >"$NETNS_STATE/net.log" 2>&1
        tap_is "$?" 0 "an isolated network with DHCP inside the namespace ($(tr '\n' ' ' <"$NETNS_STATE/net.log"))"
}
