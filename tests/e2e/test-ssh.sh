#!/bin/bash
# SSH against a real OpenSSH server: starts a throw-away sshd (/usr/sbin/sshd -D -e) on
# 127.0.0.1 on a free port, with its own configuration, its own ed25519 host key and an
# AuthorizedKeysFile in a temporary directory holding two keys for the current user (root:
# PermitRootLogin prohibit-password), and runs the SSH unit test (tests/unit/test-ssh.c)
# against it with KILN_TEST_SSHD=PORT and KILN_TEST_SSHD_DIR=DIR. Its TAP passes through and its
# exit status is ours. On exit, also on SIGINT/SIGTERM, the sshd started here is stopped by its
# PID, the directory removed, and /run/sshd (the privilege separation directory sshd needs as
# root) removed if it was created here.
#
# DIR holds: sshd_config, host_ed25519(.pub), user_ed25519 and user_rsa (the authorized
# private keys), authorized_keys, sshd.log (the server's log at LogLevel VERBOSE: every
# authentication request shows; DEBUG1 would also leak the session's debug lines into the
# commands' stderr), rsa_port (a second port where ssh-rsa signatures are accepted, which
# OpenSSH 8.8 and later refuse by default).
set -u

sshd=/usr/sbin/sshd
bin=${KILN_TEST_BIN:-$KILN_TOP/build/release/tests}/test-ssh

skip() {
        if [ "${KILN_E2E_REQUIRED:-0}" = 1 ]; then
                echo "not ok 1 - $1"
                exit 1
        fi
        echo "1..0 # SKIP $1"
        exit 77
}

[ -x "$bin" ] || skip "$bin is not built (make unit-bins)"
[ -x "$sshd" ] || skip "$sshd is missing (Debian package openssh-server)"
command -v ssh-keygen >/dev/null || skip "ssh-keygen is missing (Debian package openssh-client)"

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e-ssh.XXXXXX") || exit 1
chmod 0700 "$work"
sshd_pid=
child=
made_run_sshd=0

# shellcheck disable=SC2317  # called from the traps
cleanup() {
        local f pid
        # Commands the test abandoned at their deadline (sleep 30) are not signalled by sshd and
        # outlive a test killed before it could kill them: their PIDs are in its pid files.
        for f in "$work"/kiln-test-ssh.*/sleep*.pid; do
                [ -f "$f" ] || continue
                pid=$(cat "$f" 2>/dev/null)
                case $pid in '' | *[!0-9]*) continue ;; esac
                [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] && kill -TERM "$pid" 2>/dev/null
        done
        if [ -n "$sshd_pid" ]; then
                kill -TERM "$sshd_pid" 2>/dev/null
                wait "$sshd_pid" 2>/dev/null
                sshd_pid=
        fi
        rm -rf --one-file-system "$work"
        if [ "$made_run_sshd" = 1 ]; then
                rmdir /run/sshd 2>/dev/null
                made_run_sshd=0
        fi
}

# shellcheck disable=SC2317  # called from the traps
on_signal() {
        [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
        [ -n "$child" ] && wait "$child"
        cleanup
        exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap cleanup EXIT

user=$(id -un)
ssh-keygen -q -t ed25519 -N '' -C kiln-test-host -f "$work/host_ed25519" || exit 1
ssh-keygen -q -t ed25519 -N '' -C kiln-test-user -f "$work/user_ed25519" || exit 1
ssh-keygen -q -t rsa -b 3072 -N '' -C kiln-test-user-rsa -f "$work/user_rsa" || exit 1
cat "$work/user_ed25519.pub" "$work/user_rsa.pub" >"$work/authorized_keys"
chmod 0600 "$work/authorized_keys"

# As root, sshd wants its privilege separation directory.
if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
        mkdir -m 0755 /run/sshd || exit 1
        made_run_sshd=1
fi

# Without PAM, sshd refuses an account whose password is locked ('!'); PAM does not.
use_pam=no
if [ -r /etc/shadow ] && [ "$(getent shadow "$user" | cut -d: -f2 | cut -c1)" = '!' ]; then
        use_pam=yes
fi

# Two ports that were free a moment ago; if sshd cannot bind them after all, others.
free_ports() {
        python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

start_sshd() {
        local port=$1 rsa_port=$2
        cat >"$work/sshd_config" <<EOF
Port $port
Port $rsa_port
ListenAddress 127.0.0.1
HostKey $work/host_ed25519
PidFile none
AuthorizedKeysFile $work/authorized_keys
AllowUsers $user
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM $use_pam
StrictModes no
LogLevel VERBOSE
Match LocalPort $rsa_port
        PubkeyAcceptedAlgorithms +ssh-rsa
EOF
        "$sshd" -t -f "$work/sshd_config" || return 2
        : >"$work/sshd.log"
        "$sshd" -D -e -f "$work/sshd_config" >>"$work/sshd.log" 2>&1 &
        sshd_pid=$!
        for _ in $(seq 1 100); do
                if grep -q "Server listening on 127.0.0.1 port $port\." "$work/sshd.log" &&
                        grep -q "Server listening on 127.0.0.1 port $rsa_port\." "$work/sshd.log"; then
                        return 0
                fi
                kill -0 "$sshd_pid" 2>/dev/null || break
                sleep 0.05
        done
        kill -TERM "$sshd_pid" 2>/dev/null
        wait "$sshd_pid" 2>/dev/null
        sshd_pid=
        return 1
}

port=
for _ in 1 2 3 4 5; do
        read -r p1 p2 < <(free_ports) || break
        start_sshd "$p1" "$p2"
        rc=$?
        [ "$rc" = 0 ] && { port=$p1; echo "$p2" >"$work/rsa_port"; break; }
        [ "$rc" = 2 ] && break
done
if [ -z "$port" ]; then
        echo "# sshd did not start; its log:"
        sed 's/^/#   /' "$work/sshd.log" 2>/dev/null
        echo "not ok 1 - a throw-away sshd starts on 127.0.0.1"
        exit 1
fi
echo "# sshd (pid $sshd_pid) on 127.0.0.1:$port, user $user, log $work/sshd.log"

# The test program's scratch directory goes below ours, so that it goes with it.
TMPDIR=$work KILN_TEST_SSHD=$port KILN_TEST_SSHD_DIR=$work "$bin" &
child=$!
wait "$child"
rc=$?
child=
if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
        echo "# the tail of the sshd log:"
        tail -n 40 "$work/sshd.log" | sed 's/^/#   /'
fi
exit "$rc"
