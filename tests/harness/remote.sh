# Sourced by tests that drive a second libvirt host (after libvirt.sh and home.sh): a network
# namespace the test creates, joined to this one by a veth pair, with a mount namespace of its
# own in which virtlogd and a libvirtd run that listen on TCP at the namespace's address only
# (qemu+tcp://ADDRESS/system, without authentication: nothing but this namespace and the veth
# pair's other end can reach it). Its /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and
# /run/libvirt are its own, and its pool directory is a tmpfs that this side cannot see: kiln
# can reach the pool's files only through libvirt, as on another machine.
#   remote_up N          host N (1-250): REMOTE_URI, REMOTE_ADDR (10.251.N.2; this side is
#                        10.251.N.1), REMOTE_POOL_PATH; cleaned up by remote_down
#   remote_region NAME   adds region NAME on that host to the kiln home's configuration, its
#                        instances reached at REMOTE_ADDR (ListenAddress)
#   remote_kill          stops its libvirtd (QEMU processes keep running), remote_start again
#   remote_down          stops what remote_up started (also its guests) and removes it all

REMOTE_PIDS=()

remote_run() { nsenter --net="/run/netns/$REMOTE_NS" --mount="$REMOTE_STATE/ns/mnt" -- "$@"; }

remote_start() {
        remote_run libvirtd -d -l -f "$REMOTE_STATE/libvirtd.conf" -p /run/libvirt/kiln-libvirtd.pid
        for _ in $(seq 1 50); do
                remote_run test -s /run/libvirt/kiln-libvirtd.pid && break
                sleep 0.1
        done
        REMOTE_LIBVIRTD=$(remote_run cat /run/libvirt/kiln-libvirtd.pid)
        for _ in $(seq 1 100); do
                timeout 10 virsh -q -c "$REMOTE_URI" version >/dev/null 2>&1 && return 0
                sleep 0.2
        done
        return 1
}

remote_kill() {
        [ -n "${REMOTE_LIBVIRTD:-}" ] && kill -KILL "$REMOTE_LIBVIRTD" 2>/dev/null
        REMOTE_LIBVIRTD=
}

remote_up() {
        local n=$1
        REMOTE_NS=kiln-remote-$$-$n
        REMOTE_ADDR=10.251.$n.2
        REMOTE_URI=qemu+tcp://$REMOTE_ADDR/system
        REMOTE_STATE=$(mktemp -d /var/tmp/kiln-remote.XXXXXX)
        REMOTE_POOL_PATH=$REMOTE_STATE/pool
        chmod 0755 "$REMOTE_STATE"
        mkdir -p "$REMOTE_STATE"/{etc,lib,cache,run,pool}
        ip netns add "$REMOTE_NS" || return 1
        ip link add "krm$$h$n" type veth peer name "krm$$r$n" || return 1
        ip link set "krm$$r$n" netns "$REMOTE_NS"
        ip addr add "10.251.$n.1/30" dev "krm$$h$n"
        ip link set "krm$$h$n" up
        ip netns exec "$REMOTE_NS" ip link set lo up
        ip netns exec "$REMOTE_NS" ip addr add "$REMOTE_ADDR/30" dev "krm$$r$n"
        ip netns exec "$REMOTE_NS" ip link set "krm$$r$n" up
        # The other host's libvirt: this host's configuration without its definitions.
        cp -a /etc/libvirt/. "$REMOTE_STATE/etc/"
        rm -f "$REMOTE_STATE"/etc/qemu/*.xml "$REMOTE_STATE"/etc/qemu/autostart/*.xml \
                "$REMOTE_STATE"/etc/storage/*.xml "$REMOTE_STATE"/etc/storage/autostart/*.xml \
                "$REMOTE_STATE"/etc/qemu/networks/*.xml \
                "$REMOTE_STATE"/etc/qemu/networks/autostart/*.xml "$REMOTE_STATE"/etc/nwfilter/kiln-*.xml
        cp -a /var/lib/libvirt/. "$REMOTE_STATE/lib/"
        rm -rf "$REMOTE_STATE"/lib/qemu/domain-* "$REMOTE_STATE"/lib/dnsmasq/* \
                "$REMOTE_STATE"/lib/swtpm/*
        cat >"$REMOTE_STATE/libvirtd.conf" <<CONF
listen_tls = 0
listen_tcp = 1
listen_addr = "$REMOTE_ADDR"
auth_tcp = "none"
CONF
        # A mount namespace kept by a file in a private mount, so that the daemons and later
        # commands (remote_run) share it.
        mkdir -p "$REMOTE_STATE/ns"
        mount --bind "$REMOTE_STATE/ns" "$REMOTE_STATE/ns"
        mount --make-private "$REMOTE_STATE/ns"
        touch "$REMOTE_STATE/ns/mnt"
        unshare --mount="$REMOTE_STATE/ns/mnt" --propagation private sh -c "
                mount --bind '$REMOTE_STATE/etc' /etc/libvirt &&
                mount --bind '$REMOTE_STATE/lib' /var/lib/libvirt &&
                mount --bind '$REMOTE_STATE/cache' /var/cache/libvirt &&
                mount -t tmpfs -o mode=0755 tmpfs /run/libvirt &&
                mount -t tmpfs -o mode=0711 tmpfs '$REMOTE_POOL_PATH' &&
                { [ ! -e /dev/kvm ] || mount --bind /dev/null /dev/kvm; }" || return 1
        remote_run virtlogd -d -p /run/libvirt/kiln-virtlogd.pid
        for _ in $(seq 1 50); do
                remote_run test -s /run/libvirt/kiln-virtlogd.pid && break
                sleep 0.1
        done
        REMOTE_PIDS+=("$(remote_run cat /run/libvirt/kiln-virtlogd.pid)")
        remote_start
}

remote_region() {
        python3 - "$KILN_HOME/config.json" "$1" "$REMOTE_URI" "$REMOTE_POOL_PATH" "$REMOTE_ADDR" <<'PY'
import json, sys
path, name, uri, pool_path, addr = sys.argv[1:]
c = json.load(open(path))
tag = "".join(ch for ch in c["Regions"][0]["Pool"] if ch.isalnum() or ch == "-")
c["Regions"].append({"Name": name, "Uri": uri, "Pool": f"{tag}-{name}", "PoolPath": pool_path,
                     "ListenAddress": addr})
json.dump(c, open(path, "w"), indent=2)
PY
}

remote_down() {
        local pid dom
        [ -n "${REMOTE_NS:-}" ] || return 0
        if [ -n "${REMOTE_LIBVIRTD:-}" ]; then
                for dom in $(virsh -q -c "$REMOTE_URI" list --name 2>/dev/null); do
                        virsh -q -c "$REMOTE_URI" destroy "$dom" >/dev/null 2>&1
                done
                kill -TERM "$REMOTE_LIBVIRTD" 2>/dev/null
        fi
        # Guests whose daemon was killed: their QEMU processes, by the pid files libvirt wrote.
        for pid in $(remote_run sh -c 'cat /run/libvirt/qemu/*.pid 2>/dev/null'); do
                kill -TERM "$pid" 2>/dev/null
        done
        for pid in "${REMOTE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
        sleep 0.5
        umount "$REMOTE_STATE/ns/mnt" 2>/dev/null
        umount "$REMOTE_STATE/ns" 2>/dev/null
        ip netns delete "$REMOTE_NS" 2>/dev/null
        rm -rf "$REMOTE_STATE"
        REMOTE_NS=
}
