#!/bin/bash
# bench/import: import-image --url of a disk image (BENCH_IMPORT_MIB MiB of random data behind an
# MBR, 2048 by default) served on 127.0.0.1, against `curl -o FILE` of the same URL from the same
# server in the same run. The measure is kiln's download phase (from its "downloading" notice
# to its "downloaded" notice, timed as they arrive on stderr; it ends after the checksum; the
# file is not flushed, as it is converted into the pool at once); the whole command is printed
# too, with its other phases. Median of 3
# runs each, alternately. Targets: at least 0.9x curl's rate, under 32 MiB peak memory (GNU
# time's %M). It measures; it does not fail on a slow machine. Needs a libvirt daemon on
# qemu:///system (the imported image goes into a pool of a throw-away kiln home).
set -euo pipefail
export LC_ALL=C
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN_BIN:-$top/build/release/kiln}
mib=${BENCH_IMPORT_MIB:-2048}
runs=3
uri=qemu:///system
# only loopback traffic: no proxy, whatever the environment says
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

for tool in curl openssl python3 qemu-img qemu-nbd virsh /usr/bin/time bc; do
        command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
[ -x "$kiln" ] || { echo "bench: no kiln at $kiln: run 'make' or set KILN_BIN" >&2; exit 1; }
virsh -c "$uri" version >/dev/null 2>&1 || {
        echo "bench: no libvirt daemon answers on $uri ('virsh -c $uri version' fails)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/kiln-bench-import.XXXXXX)
chmod 0755 "$work" # QEMU and libvirt traverse it to the pools
server_pids=() job=
cleanup() {
        local p h
        if [ -n "$job" ] && kill -0 "$job" 2>/dev/null; then # an import under way: stop it first
                if [ -s "$home/pid" ]; then kill "$(<"$home/pid")" 2>/dev/null || true; fi
                wait "$job" 2>/dev/null || true
        fi
        for p in "${server_pids[@]}"; do kill "$p" 2>/dev/null || true; done
        for h in "$work"/home-*; do drop_home "$h"; done
        rm -rf "$work"
}
# drop_home DIR: destroys and undefines the pools its config.json names, removes DIR.
drop_home() {
        local p
        [ -d "$1" ] || return 0
        if [ -f "$1/config.json" ]; then
                for p in $(python3 -c 'import json,sys; print(" ".join(r["Pool"] for r in json.load(open(sys.argv[1]))["Regions"]))' "$1/config.json"); do
                        virsh -q -c "$uri" pool-destroy "$p" >/dev/null 2>&1 || true
                        virsh -q -c "$uri" pool-undefine "$p" >/dev/null 2>&1 || true
                done
        fi
        rm -rf "$1"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "work: $work" >&2

need=$(( mib * 6 )) # the image, curl's copy, kiln's download, its qcow2 and the pool volume
free=$(( $(df -Pk "$work" | awk 'NR == 2 {print $4}') / 1024 ))
[ "$free" -gt "$need" ] || { echo "bench: $need MiB free needed in /var/tmp, $free MiB there" >&2; exit 1; }

# The image: random bytes (AES-CTR of zeros, fast and not compressible) with an MBR whose one
# Linux partition fills the disk, so that import-image takes it for a raw disk.
disk=$work/disk.raw
{ openssl enc -aes-128-ctr -nosalt -pass pass:kiln-bench -bufsize 1048576 -in /dev/zero 2>/dev/null ||
        true; } | dd of="$disk" bs=1M count="$mib" iflag=fullblock status=none # openssl dies of SIGPIPE
[ "$(stat -c %s "$disk")" -eq $(( mib * 1048576 )) ] || { echo "bench: cannot make the image" >&2; exit 1; }
python3 - "$disk" <<'PY'
import os, struct, sys
sectors = os.path.getsize(sys.argv[1]) // 512
part = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2048, sectors - 2048)
with open(sys.argv[1], "r+b") as f:
    f.seek(446)
    f.write(part + b"\0" * 48 + b"\x55\xaa")
PY
sum=sha256:$(openssl dgst -sha256 -r "$disk" | cut -d' ' -f1)
cat "$disk" >/dev/null # in the page cache for every run, the first included

# The server: tests/harness/httpd.py (the whole file in memory; it lives at most 10 minutes)
# or python3 -m http.server (64 KiB reads of the file), whichever curl -o /dev/null finds
# faster; both clients then use that one. httpd.py needs about twice the file in memory.
start_server() { # NAME: sets url and port, appends to server_pids
        local out=$work/server-$1.out i
        case $1 in
        httpd.py)
                python3 "$top/tests/harness/httpd.py" "$disk" >"$out" 2>"$work/server-$1.err" &
                server_pids+=($!)
                for i in $(seq 1 300); do [ -s "$out" ] && break; sleep 0.1; done
                port=$(head -n 1 "$out")
                url=http://127.0.0.1:$port/file ;;
        http.server)
                (cd "$work" && exec python3 -u -m http.server --bind 127.0.0.1 0) >"$out" 2>"$work/server-$1.err" &
                server_pids+=($!)
                for i in $(seq 1 300); do [ -s "$out" ] && break; sleep 0.1; done
                port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$out" | head -n 1)
                url=http://127.0.0.1:$port/disk.raw ;;
        esac
        [ -n "$port" ] || { echo "bench: the server $1 did not start:" >&2; cat "$work/server-$1.err" >&2; exit 1; }
}
probe() { # URL: the best of two curl -o /dev/null runs, in MiB/s
        local a b
        a=$(curl -fsS -o /dev/null -w '%{speed_download}' "$1")
        b=$(curl -fsS -o /dev/null -w '%{speed_download}' "$1")
        awk -v a="$a" -v b="$b" 'BEGIN {printf "%d", (a > b ? a : b) / 1048576}'
}
avail=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
declare -A srate
servers=(http.server)
[ "$avail" -gt $(( mib * 3 )) ] && servers+=(httpd.py)
for s in "${servers[@]}"; do
        start_server "$s"
        srate[$s]=$(probe "$url")
        kill "${server_pids[-1]}"; wait "${server_pids[-1]}" 2>/dev/null || true
        unset 'server_pids[-1]'
done
server=http.server
[ -n "${srate[httpd.py]:-}" ] && [ "${srate[httpd.py]}" -gt "${srate[http.server]}" ] && server=httpd.py
start_server "$server"
server_note="$server; curl -o /dev/null from"
for s in "${servers[@]}"; do server_note+=" $s ${srate[$s]} MiB/s,"; done
server_note=${server_note%,}

# A bash loop that prefixes each line with the time it arrived (microseconds).
stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "${EPOCHREALTIME/./}" "$l"; done; }
us_of() { # PATTERN LOG: the stamp of the first line matching PATTERN
        awk -v p="$1" 'index($0, p) {print $1; exit}' "$2"
}
alive() {
        kill -0 "${server_pids[-1]}" 2>/dev/null ||
                { echo "bench: the server $server is gone (httpd.py exits after 10 minutes)" >&2; exit 1; }
}

curl_ms=() sync_ms=() dl_ms=() whole_ms=() start_ms=() check_ms=() conv_ms=() up_ms=() peaks=() hwms=()
for i in $(seq 1 $runs); do
        # curl -o FILE, then (not timed as curl's) sync FILE: what kiln's fsync costs
        alive; rm -f "$work/curl.out"; sync
        t0=${EPOCHREALTIME/./}
        curl -fsS -o "$work/curl.out" "$url"
        t1=${EPOCHREALTIME/./}
        sync "$work/curl.out"
        t2=${EPOCHREALTIME/./}
        [ "$(stat -c %s "$work/curl.out")" -eq $(( mib * 1048576 )) ] || { echo "bench: curl got a short file" >&2; exit 1; }
        rm -f "$work/curl.out"
        curl_ms+=($(( (t1 - t0) / 1000 ))); sync_ms+=($(( (t2 - t1) / 1000 )))

        # kiln in a fresh home (no .part to resume, a new pool), made before the timing;
        # --verbose logs the qemu-img and libvirt steps that the phases are read from
        home=$work/home-$i
        mkdir "$home"; chmod 0755 "$home"
        export KILN_HOME=$home
        "$kiln" describe-images >/dev/null
        alive; sync
        log=$home/stderr.log
        # the wrapper leaves kiln's PID (exec keeps it) for the VmHWM sampler: GNU time's %M is
        # the largest of kiln and the qemu-img and qemu-nbd it waits for
        t0=${EPOCHREALTIME/./}
        # shellcheck disable=SC2016 # $$, $0 and $@ are the inner bash's
        { /usr/bin/time -f '%M' -o "$home/peak" bash -c 'echo $$ >"$0"; exec "$@"' "$home/pid" \
                "$kiln" --verbose --no-progress import-image --url "$url" --checksum "$sum" \
                --name "bench-import-$i" 2>&1 >"$home/out.json" | stamp >"$log"; } &
        job=$!
        hwm=0
        while kill -0 "$job" 2>/dev/null; do
                if [ -s "$home/pid" ]; then
                        while read -r k v _; do
                                if [ "$k" = VmHWM: ] && [ "$v" -gt "$hwm" ]; then hwm=$v; fi
                        done 2>/dev/null <"/proc/$(<"$home/pid")/status" || true
                fi
                sleep 0.1
        done
        if ! wait "$job"; then
                echo "bench: kiln import-image failed:" >&2; cut -d' ' -f2- "$log" >&2; exit 1
        fi
        t1=${EPOCHREALTIME/./}
        grep -q '"ImageId": "ami-' "$home/out.json" || { echo "bench: import-image printed no ImageId" >&2; exit 1; }
        a=$(us_of 'kiln: downloading ' "$log"); b=$(us_of 'kiln: downloaded ' "$log")
        c=$(us_of 'exec: qemu-img convert' "$log")
        d=$(awk -v p='exec: qemu-img convert' 'f {print $1; exit} index($0, p) {f = 1}' "$log")
        e=$(us_of 'libvirt: uploading' "$log")
        if [ -z "$a" ] || [ -z "$b" ] || [ -z "$c" ] || [ -z "$d" ] || [ -z "$e" ]; then
                echo "bench: kiln's log lacks a phase:" >&2; cut -d' ' -f2- "$log" >&2; exit 1
        fi
        dl_ms+=($(( (b - a) / 1000 ))); whole_ms+=($(( (t1 - t0) / 1000 ))); start_ms+=($(( (a - t0) / 1000 )))
        check_ms+=($(( (c - b) / 1000 ))); conv_ms+=($(( (d - c) / 1000 ))); up_ms+=($(( (t1 - e) / 1000 )))
        peaks+=("$(tail -n 1 "$home/peak")"); hwms+=("$hwm")
        drop_home "$home" # its pool and 2 GiB volume, before the next run
done

median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
max() { printf '%s\n' "$@" | sort -n | tail -n 1; }
rate() { echo "scale=1; $mib * 1000 / ($1 + ($1 == 0))" | bc; }
c_ms=$(median "${curl_ms[@]}"); s_ms=$(median "${sync_ms[@]}")
k_ms=$(median "${dl_ms[@]}"); w_ms=$(median "${whole_ms[@]}")
peak=$(max "${peaks[@]}"); hwm=$(max "${hwms[@]}")
peak_mib=$(echo "scale=1; $peak / 1024" | bc); hwm_mib=$(echo "scale=1; $hwm / 1024" | bc)
echo "import: $mib MiB from 127.0.0.1 (server: $server_note)"
echo "runs (ms): curl ${curl_ms[*]}; kiln download ${dl_ms[*]}; kiln whole ${whole_ms[*]}"
printf '%-34s %6d ms %7s MiB/s\n' "curl -o" "$c_ms" "$(rate "$c_ms")"
printf '%-34s %6d ms %7s MiB/s  (for reference)\n' "curl -o, then sync FILE" \
        "$(( c_ms + s_ms ))" "$(rate $(( c_ms + s_ms )))"
printf '%-34s %6d ms %7s MiB/s  peak %s MiB\n' "kiln import-image (download)" "$k_ms" "$(rate "$k_ms")" "$peak_mib"
printf '%-34s %6d ms %7s MiB/s\n' "kiln import-image (whole command)" "$w_ms" "$(rate "$w_ms")"
echo "  the whole command also holds: start-up and registry checks $(median "${start_ms[@]}") ms;" \
     "qemu-img info and OS detection (twice), libvirt connection and pool $(median "${check_ms[@]}") ms;" \
     "qemu-img convert -O qcow2 $(median "${conv_ms[@]}") ms; upload into the pool through libvirt," \
     "registry commit and removal of the download $(median "${up_ms[@]}") ms"
echo "  peak is GNU time's %M: the largest of kiln and the qemu-img/qemu-nbd it runs; kiln's own VmHWM: $hwm_mib MiB"
ratio=$(printf '%.2f' "$(echo "scale=4; $c_ms / ($k_ms + ($k_ms == 0))" | bc)")
echo "ratio kiln/curl rate: ${ratio}x (target >= 0.9x)"
echo "targets: rate $( [ "$(echo "$ratio >= 0.9" | bc)" = 1 ] && echo met || echo MISSED ) (>=0.9x curl)," \
     "memory $( [ "$peak" -lt 32768 ] && echo met || echo MISSED ) (<32 MiB)"
