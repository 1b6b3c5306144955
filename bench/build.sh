#!/bin/bash
# bench/build: one configure-then-bake job, the cowsay MOTD on the Debian 12 test image, done by
# Packer 1.6.6's QEMU builder (bench/build/packer.json) and by `kiln build` (bench/build/kiln.json,
# no test phase), one after the other in the same run, from the same source file, with the same
# guest (TCG, -cpu qemu64, 2 vCPUs, 1 GiB: kiln's default t3.micro). Prints each one's wall time
# and the bytes its new image adds to storage (Packer: its output qcow2; kiln: the image's new
# snapshot layers), as ratios kiln/packer, and kiln's own overhead: its wall time minus the guest
# boot, the clean shutdown and the template's command. Targets: wall <= 1.0x, bytes <= 0.1x,
# overhead < 2 s. Needs root, a libvirt daemon (started here if none answers), packer, and the
# test image (built if missing). Every guest connection stays on 127.0.0.1.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export KILN_TOP=$top
export KILN_BIN=${KILN_BIN:-$top/build/release/kiln}
. "$top/tests/harness/libvirt.sh"
. "$top/tests/harness/home.sh"
here=$top/bench/build
message="Welcome to a kiln golden image"

for tool in packer qemu-img ssh-keygen python3 bc base64 virsh; do
        command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (guests on qemu:///system)" >&2; exit 1; }

harness_e2e_prepare >&2
harness_image_cold_done
domains_before=$(virsh -q -c "$HOME_URI" list --all --name | sort)
pools_before=$(virsh -q -c "$HOME_URI" pool-list --all --name | sort)
work=$(mktemp -d /var/tmp/kiln-bench-build.XXXXXX)
chmod 0755 "$work"
home_setup_instances

# PIDs in a file that a process of ours wrote for itself: killed only while the process still
# runs with our work directory or template in its command line; what it started is recorded
# with its start time, so that a PID reused meanwhile is never touched.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$2"; }
started() { cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null; }
descendants() {
        local p
        for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
                echo "$p:$(started "$p")"
                descendants "$p"
        done
}
stop_pid() { # PID WORD: TERM, up to 30 s for a clean exit, then KILL it and what it started
        local pid=$1 word=$2 kids k
        ours "$pid" "$word" || return 0
        kids=$(descendants "$pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 60); do
                ours "$pid" "$word" || break
                sleep 0.5
        done
        if ours "$pid" "$word"; then kill -KILL "$pid" 2>/dev/null || true; fi
        for k in $kids; do
                if [ "$(started "${k%%:*}")" = "${k#*:}" ]; then kill -KILL "${k%%:*}" 2>/dev/null || true; fi
        done
}
cleanup() {
        local rc=$? d p
        trap - EXIT INT TERM
        set +e
        [ -s "$work/kiln.pid" ] && stop_pid "$(cat "$work/kiln.pid")" "$here/kiln.json"
        [ -s "$work/packer.pid" ] && stop_pid "$(cat "$work/packer.pid")" "$here/packer.json"
        [ -s "$work/qemu.pid" ] && stop_pid "$(cat "$work/qemu.pid")" "$work"
        home_cleanup_instances # terminates what the run launched, undefines the pools, removes the home
        rm -rf "$work"
        harness_libvirt_down >&2
        d=$(virsh -q -c "$HOME_URI" list --all --name | sort)
        p=$(virsh -q -c "$HOME_URI" pool-list --all --name | sort)
        if [ "$d" != "$domains_before" ] || [ "$p" != "$pools_before" ]; then
                echo "bench: WARNING: libvirt differs from before the run: domains [$d], pools [$p]" >&2
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

k() { "$KILN_BIN" --no-progress "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
now() { echo "$EPOCHREALTIME"; }
# Each line as it arrives, prefixed with the epoch time (microseconds).
stamp() { local line; while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
# run_stamped PIDFILE OUT RESULT CMD...: runs CMD (its PID in PIDFILE) with its stderr, and its
# stdout too when RESULT is "-", stamped into OUT; otherwise stdout goes to the file RESULT.
# Returns CMD's status.
run_stamped() {
        local pidfile=$1 out=$2 result=$3; shift 3
        if [ "$result" = - ]; then
                ( set -o pipefail; sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" 2>&1 | stamp >"$out" ) &
        else
                ( set -o pipefail
                  sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" 2>&1 >"$result" | stamp >"$out" ) &
        fi
        wait $!
}
secs() { printf '%.1f' "$1"; }
mib() { echo "scale=1; $1 / 1048576" | bc; }

# The MOTD script exactly as kiln's motd_message step writes it (orchestrator/lib/guest/configure.c,
# kiln_motd_script), with a here-document delimiter of the same form.
motd_script() {
        local delim
        delim=KILN_MOTD_$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-17)
        printf '#!/bin/sh\n# MOTD written by kiln configure --motd-message; the text is quoted,\n'
        printf '# never interpreted.\nmotd() {\ncat <<'\''%s'\''\n%s\n%s\n}\n' "$delim" "$1" "$delim"
        printf 'if [ -x /usr/games/cowsay ]; then\n        motd | /usr/games/cowsay -n\n'
        printf 'elif command -v cowsay >/dev/null 2>&1; then\n        motd | cowsay -n\nelse\n'
        printf '        motd\nfi\n'
}

# The default instance type, for both.
read -r vcpus memory < <(python3 -c 'import json,sys
t = json.load(open(sys.argv[1])); d = t["Default"]
print(*[(i["VCpus"], i["MemoryMiB"]) for i in t["InstanceTypes"] if i["InstanceType"] == d][0])' \
        "$top/templates/instance-types.json")
src_bytes=$(du --block-size=1 "$KILN_TEST_IMAGE" | cut -f1)
src_virtual=$(qemu-img info -U --output=json "$KILN_TEST_IMAGE" | field 'd["virtual-size"]')
echo "source disk: $KILN_TEST_IMAGE ($((src_virtual / 1073741824)) GiB virtual, $(mib "$src_bytes") MiB allocated)"
echo "guest for both: TCG, -cpu qemu64, $vcpus vCPUs, $memory MiB (kiln's default instance type); job: the cowsay MOTD '$message'"

# ---- Packer ----
mkdir -p "$work/http" "$work/packer-home" "$work/packer-cache" "$work/tmp"
ssh-keygen -q -t ed25519 -N '' -C kiln-bench-packer -f "$work/packer_ed25519"
cp "$here/meta-data" "$work/http/meta-data"
sed "s|@SSH_PUBLIC_KEY@|$(cat "$work/packer_ed25519.pub")|" "$here/user-data.in" >"$work/http/user-data"
t0=$(now)
if ! HOME=$work/packer-home PACKER_CACHE_DIR=$work/packer-cache TMPDIR=$work/tmp \
        CHECKPOINT_DISABLE=1 PACKER_LOG=1 PACKER_LOG_PATH=$work/packer.log \
        run_stamped "$work/packer.pid" "$work/packer.out" - packer build -color=false \
        -var "image=$KILN_TEST_IMAGE" -var "work=$work" -var "http_dir=$work/http" \
        -var "ssh_key=$work/packer_ed25519" -var "cpus=$vcpus" -var "memory=$memory" \
        -var "motd_b64=$(motd_script "$message" | base64 -w0)" "$here/packer.json"; then
        echo "bench: packer failed; its output:" >&2
        cut -d' ' -f2- "$work/packer.out" | tail -n 40 >&2
        exit 1
fi
t1=$(now)
packer_s=$(echo "$t1 - $t0" | bc)
packer_img=$work/packer-output/packer-bench.qcow2
packer_bytes=$(du --block-size=1 "$packer_img" | cut -f1)
echo "packer $(packer version | head -n 1 | cut -d' ' -f2) build (qemu builder, disk_image): $(secs "$packer_s") s"
python3 "$here/timeline.py" packer "$work/packer.out" "$t0" "$t1" | sed '$d'
echo "  output $(basename "$packer_img"): $packer_bytes bytes allocated ($(mib "$packer_bytes") MiB; qemu-img: $(qemu-img info -U "$packer_img" | sed -n 's/^disk size: //p'))"
rm -f "$packer_img" # what stays is the comparison, not the copy

# What Packer's guest sent: QEMU's dump of its NIC (10.0.2.2 is the host's loopback).
python3 - "$work/packer-guest.pcap" <<'PY'
import collections, socket, struct, sys
data, off, dst = open(sys.argv[1], "rb").read(), 24, collections.Counter()
while off + 16 <= len(data):  # pcap records: 16-byte header, then the Ethernet frame
    n = struct.unpack_from("<I", data, off + 8)[0]
    f, off = data[off + 16:off + 16 + n], off + 16 + n
    if len(f) >= 34 and f[12:14] == b"\x08\x00":  # IPv4
        src, to = socket.inet_ntoa(f[26:30]), socket.inet_ntoa(f[30:34])
        if src not in ("10.0.2.2", "10.0.2.3"):  # sent by the guest, not by QEMU's side
            dst[to] += 1
# 10.0.2.3 is QEMU's DNS forwarder: a query there would leave the machine.
beyond = [a for a in dst if a == "10.0.2.3" or not (a.startswith("10.0.2.") or a == "255.255.255.255")]
print("  packer's guest sent IPv4 packets to: " + ", ".join(f"{a} ({n})" for a, n in sorted(dst.items()))
      + (f"  WARNING: beyond QEMU's user network: {beyond}" if beyond else " (QEMU's user network only)"))
PY

# ---- kiln ----
base=$(k register-image --name bench-base --disk "$KILN_TEST_IMAGE" --default-user admin | field 'd["ImageId"]')
t0=$(now)
if ! run_stamped "$work/kiln.pid" "$work/kiln.err" "$work/manifest.json" "$KILN_BIN" --no-progress --verbose build \
        "$here/kiln.json" --output json; then
        echo "bench: kiln build failed; its output:" >&2
        cut -d' ' -f2- "$work/kiln.err" | grep -v ' debug: ' | tail -n 40 >&2
        cat "$work/manifest.json" >&2
        exit 1
fi
t1=$(now)
kiln_s=$(echo "$t1 - $t0" | bc)
ami=$(field 'd["ImageId"]' <"$work/manifest.json")
build_id=$(sed -n 's/.* launched \(i-[0-9a-f]*\) from .*/\1/p' "$work/kiln.err" | head -n 1)
qemu_log=/var/log/libvirt/qemu/$build_id.log # libvirt names the domain after the instance
[ -r "$qemu_log" ] || qemu_log=
k describe-storage --output json >"$work/storage.json"
read -r kiln_bytes layers < <(python3 - "$work/storage.json" "$base" "$ami" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
chain = {i["ImageId"]: i["Snapshots"] for i in s["Images"]}
used = {x["SnapshotId"]: x["BytesUsed"] for x in s["Snapshots"]}
new = [x for x in chain[sys.argv[3]] if x not in chain[sys.argv[2]]]
print(sum(used[x] for x in new), len(new))
PY
)
echo "kiln build (no test phase): $(secs "$kiln_s") s; manifest Steps[]:" \
        "$(field '", ".join("%s %d ms" % (s["Step"], s["Milliseconds"]) for s in d["Steps"])' <"$work/manifest.json")"
python3 "$here/timeline.py" kiln "$work/kiln.err" "$work/manifest.json" "$t0" "$t1" "$qemu_log" >"$work/timeline"
sed '$d' "$work/timeline"
figures=$(tail -n 1 "$work/timeline")
echo "  new image $ami: $layers new snapshot layer(s) on the base, $kiln_bytes bytes allocated ($(mib "$kiln_bytes") MiB)"

# ---- the comparison ----
overhead=$(echo "$figures" | field 'd["overhead"]')
wall_ratio=$(echo "scale=3; $kiln_s / $packer_s" | bc)
bytes_ratio=$(echo "scale=4; $kiln_bytes / $packer_bytes" | bc)
echo "ratio kiln/packer wall time: $(printf '%.2f' "$wall_ratio")x (kiln $(secs "$kiln_s") s, packer $(secs "$packer_s") s)"
echo "ratio kiln/packer bytes added: $(printf '%.4f' "$bytes_ratio")x (kiln $(mib "$kiln_bytes") MiB, packer $(mib "$packer_bytes") MiB)"
echo "kiln overhead: $(printf '%.2f' "$overhead") s = kiln's wall time - guest boot (launched until ready)" \
     "- clean shutdown (until QEMU exits) - the template's command; everything else kiln does counts," \
     "generalization ($(printf '%.2f' "$(echo "$figures" | field 'd["generalize"]')") s) included"
wall_ok=$([ "$(echo "$wall_ratio <= 1.0" | bc)" = 1 ] && echo met || echo MISSED)
bytes_ok=$([ "$(echo "$bytes_ratio <= 0.1" | bc)" = 1 ] && echo met || echo MISSED)
over_ok=$([ "$(echo "$overhead < 2" | bc)" = 1 ] && echo met || echo MISSED)
if [ "$wall_ok" = MISSED ]; then
        echo "wall time MISSED by $(printf '%.1f' "$(echo "$kiln_s - $packer_s" | bc)") s; kiln's time by step above"
fi
if [ "$bytes_ok" = MISSED ]; then
        echo "bytes MISSED by $(mib "$(echo "$kiln_bytes - $packer_bytes / 10" | bc)") MiB over 0.1x Packer's"
fi
if [ "$over_ok" = MISSED ]; then
        echo "overhead MISSED by $(printf '%.2f' "$(echo "$overhead - 2" | bc)") s; kiln's overhead by part:"
        echo "$figures" | field '"\n".join("  %-50s %6.2f s" % (n, s) for n, s, k in sorted(d["parts"], key=lambda p: -p[1]) if k == "kiln")'
fi
echo "targets: wall $wall_ok (<=1.0x), bytes $bytes_ok (<=0.1x), overhead $over_ok (<2 s)"
