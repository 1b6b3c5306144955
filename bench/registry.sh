#!/bin/bash
# bench/registry: describe-images over 10,000 registered images, against the same rows read by
# the sqlite3 command line from the same registry in the same run. Prints wall time (median
# of 5 runs) and peak memory of each, and their ratio. Targets: under 200 ms and 64 MiB, within
# 3x of the raw query. It measures; it does not fail on a slow machine.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN_BIN:-$top/build/release/kiln}
n=${BENCH_IMAGES:-10000}
runs=5

for tool in sqlite3 /usr/bin/time python3; do
        command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
home=$(mktemp -d /tmp/kiln-bench-registry.XXXXXX)
[ -n "${BENCH_KEEP:-}" ] || trap "rm -rf $home" EXIT; echo "home: $home" >&2
export KILN_HOME=$home

"$kiln" describe-regions >/dev/null # creates config and registry
account=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["DefaultAccount"])' "$home/config.json")

# The registry's own tables, filled in one transaction (bench/fill-images.py).
python3 "$top/bench/fill-images.py" "$n" "$account" >"$home/fill.sql"
sqlite3 "$home/registry.db" <"$home/fill.sql"

raw_sql="SELECT i.*, m.device_name, m.snapshot_id, m.volume_size, m.delete_on_termination,
 m.volume_type, (SELECT group_concat(kind || ':' || value) FROM launch_permissions p
 WHERE p.resource_id = i.id) AS perms, (SELECT group_concat(key || '=' || value) FROM tags t
 WHERE t.resource_id = i.id) AS tags FROM images i JOIN image_mappings m ON m.image_id = i.id
 WHERE i.region = 'local' AND i.state != 'deregistered' ORDER BY i.seq;"

# measure NAME CMD...: median wall ms and max peak KiB over the runs, into $ms and $kib.
measure() {
        local name=$1; shift
        local times=() peak=0 t0 t1 kb
        "$@" >/dev/null 2>&1 # warm the page cache
        for _ in $(seq 1 $runs); do
                t0=$(date +%s%N)
                /usr/bin/time -f '%M' -o "$home/peak" "$@" >/dev/null 2>&1
                kb=$(tail -n 1 "$home/peak")
                t1=$(date +%s%N)
                times+=($(( (t1 - t0) / 1000000 )))
                [ "$kb" -gt "$peak" ] && peak=$kb
        done
        ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
        kib=$peak
        printf '%-34s %6d ms  %7.1f MiB\n' "$name" "$ms" "$(echo "$kib / 1024" | bc -l)"
}

count=$("$kiln" describe-images --owners self | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Images"]))')
echo "registry: $count images (describe-images returns them all)"
measure "kiln describe-images (json)" "$kiln" describe-images --owners self
k_ms=$ms k_kib=$kib
measure "sqlite3 -json, the same rows" sqlite3 -json "$home/registry.db" "$raw_sql"
s_ms=$ms s_kib=$kib
ratio=$(echo "scale=2; $k_ms / ($s_ms + ($s_ms == 0))" | bc)
echo "ratio kiln/sqlite3 wall time: ${ratio}x (target <= 3x)"
echo "targets: wall $( [ "$k_ms" -lt 200 ] && echo met || echo MISSED ) (<200 ms)," \
     "memory $( [ "$k_kib" -lt 65536 ] && echo met || echo MISSED ) (<64 MiB)," \
     "ratio $( [ "$(echo "$ratio <= 3" | bc)" = 1 ] && echo met || echo MISSED ) (<=3x)"
