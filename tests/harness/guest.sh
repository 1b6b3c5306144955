# Sourced by e2e tests: boots the test image as a real libvirt domain and reaches it over SSH
# through a 127.0.0.1 port forward, with a key made for the test and a host key pinned in
# known_hosts before the first connection. Everything made is torn down by guest_cleanup,
# which guest_setup traps on EXIT, INT and TERM, so a failing or interrupted test leaves no
# domain, no qemu process and no file behind.
#
#   guest_setup              work directory, trap
#   guest_boot NAME [USERDATA_FILE]   start a transient domain; sets GUEST_PORT, GUEST_DOMAIN
#   guest_wait_ssh [SECONDS] until SSH answers with the pinned host key (fails on timeout)
#   guest_ssh CMD...         run a command as the default user
#   guest_cleanup            destroy domains, remove files

GUEST_URI=${KILN_TEST_URI:-qemu:///system}
GUEST_USER=admin
GUEST_DOMAINS=()
GUEST_WORK=
GUEST_PORT=
GUEST_DOMAIN=

guest_cleanup() {
        local d
        for d in "${GUEST_DOMAINS[@]}"; do
                virsh -q -c "$GUEST_URI" destroy "$d" >/dev/null 2>&1
                virsh -q -c "$GUEST_URI" undefine "$d" >/dev/null 2>&1
        done
        GUEST_DOMAINS=()
        [ -n "$GUEST_WORK" ] && rm -rf "$GUEST_WORK"
        GUEST_WORK=
}

guest_setup() {
        GUEST_WORK=$(mktemp -d /var/tmp/kiln-e2e.XXXXXX)
        # QEMU runs as libvirt-qemu and must reach the disks in here.
        chmod 0755 "$GUEST_WORK"
        trap 'guest_cleanup' EXIT
        trap 'guest_cleanup; exit 143' TERM
        trap 'guest_cleanup; exit 130' INT
}

guest_free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Writes the NoCloud seed: meta-data with the instance ID and hostname, and a cloud-config
# that installs the test's public key and the pinned host key.
guest_make_seed() {
        local name=$1 userdata=${2:-} dir=$GUEST_WORK/$1
        mkdir -p "$dir/seed"
        ssh-keygen -q -t ed25519 -N '' -C "kiln-e2e" -f "$dir/id_ed25519"
        ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/host_ed25519"
        printf 'instance-id: %s\nlocal-hostname: %s\n' "$name" "$name" >"$dir/seed/meta-data"
        if [ -n "$userdata" ]; then
                cp "$userdata" "$dir/seed/user-data"
        else
                {
                        echo '#cloud-config'
                        echo 'ssh_authorized_keys:'
                        echo "  - $(cat "$dir/id_ed25519.pub")"
                        echo 'ssh_deletekeys: true'
                        echo 'ssh_genkeytypes: []'
                        echo 'ssh_keys:'
                        echo '  ed25519_private: |'
                        sed 's/^/    /' "$dir/host_ed25519"
                        echo "  ed25519_public: $(cat "$dir/host_ed25519.pub")"
                } >"$dir/seed/user-data"
        fi
        xorriso -as mkisofs -quiet -V cidata -J -R -o "$dir/seed.iso" "$dir/seed" 2>/dev/null
}

guest_boot() {
        local name=$1 userdata=${2:-} dir type
        dir=$GUEST_WORK/$name
        guest_make_seed "$name" "$userdata" || return 1
        qemu-img create -q -f qcow2 -F qcow2 -b "$KILN_TEST_IMAGE" "$dir/disk.qcow2" || return 1
        GUEST_PORT=$(guest_free_port)
        type=qemu
        [ "${KILN_ACCEL:-tcg}" = kvm ] && type=kvm
        sed -e "s|@TYPE@|$type|" -e "s|@NAME@|$name|" -e "s|@MEMORY@|${KILN_TEST_MEMORY:-1024}|" \
            -e "s|@VCPUS@|${KILN_TEST_VCPUS:-2}|" -e "s|@DISK@|$dir/disk.qcow2|" \
            -e "s|@SEED@|$dir/seed.iso|" -e "s|@CONSOLE@|$dir/console.log|" \
            -e "s|@PORT@|$GUEST_PORT|" "$KILN_TOP/tests/harness/domain.xml.in" >"$dir/domain.xml"
        echo "[127.0.0.1]:$GUEST_PORT $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
        GUEST_DOMAINS+=("$name")
        GUEST_DOMAIN=$name
        virsh -q -c "$GUEST_URI" create "$dir/domain.xml" >/dev/null || return 1
        date +%s >"$dir/started"
}

guest_ssh_opts() {
        local dir=$GUEST_WORK/$GUEST_DOMAIN
        echo "-F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes" \
             "-o UserKnownHostsFile=$dir/known_hosts -o GlobalKnownHostsFile=/dev/null" \
             "-o ConnectTimeout=5 -o LogLevel=ERROR -i $dir/id_ed25519 -p $GUEST_PORT"
}

guest_ssh() {
        # shellcheck disable=SC2046
        ssh $(guest_ssh_opts) "$GUEST_USER@127.0.0.1" "$@"
}

guest_wait_ssh() {
        local limit=${1:-300} start now
        start=$(cat "$GUEST_WORK/$GUEST_DOMAIN/started")
        while :; do
                # In the background, so that a signal's trap runs at once.
                guest_ssh true 2>/dev/null &
                if wait $!; then
                        now=$(date +%s)
                        GUEST_SSH_SECONDS=$((now - start))
                        return 0
                fi
                now=$(date +%s)
                if [ $((now - start)) -ge "$limit" ]; then
                        echo "# SSH did not answer within $limit s; console tail:"
                        tail -n 20 "$GUEST_WORK/$GUEST_DOMAIN/console.log" 2>/dev/null | sed 's/^/#   /'
                        return 1
                fi
                if ! virsh -q -c "$GUEST_URI" domstate "$GUEST_DOMAIN" 2>/dev/null | grep -q running; then
                        echo "# domain $GUEST_DOMAIN is no longer running"
                        return 1
                fi
                sleep 2
        done
}
