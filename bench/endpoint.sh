#!/bin/bash
# bench/endpoint: kiln serve's DescribeImages over 10,000 images, for one image (ImageId.1) and
# for all of them (Owner.1=self): latency p50 and p99 and throughput with 1 and 16 concurrent
# clients (ab, on a presigned GET that botocore signs once: every request is still verified),
# against the same query run as `kiln describe-images` processes in the same run. Then the
# server's resident memory before and after 100,000 more requests. Targets: one image p50
# under 5 ms, 10,000 images p50 under 200 ms, memory growth under 8 MiB. It measures; it does
# not fail on a slow machine. Needs no libvirt daemon (the registry alone answers).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN_BIN:-$top/build/release/kiln}
n=${BENCH_IMAGES:-10000}
requests=${BENCH_REQUESTS:-100000}

for tool in sqlite3 ab /usr/bin/python3; do
        command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
home=$(mktemp -d /tmp/kiln-bench-endpoint.XXXXXX)
serve_pid=
cleanup() {
        [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
        [ -n "${BENCH_KEEP:-}" ] || rm -rf "$home"
}
trap cleanup EXIT
export KILN_HOME=$home

"$kiln" describe-regions >/dev/null # creates config and registry
account=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["DefaultAccount"])' "$home/config.json")
python3 "$top/bench/fill-images.py" "$n" "$account" >"$home/fill.sql"
sqlite3 "$home/registry.db" <"$home/fill.sql"
one=$(sqlite3 "$home/registry.db" "SELECT id FROM images ORDER BY seq LIMIT 1")
"$kiln" create-access-key >"$home/key.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$kiln" serve --listen "127.0.0.1:$port" --threads 4 --max-connections 64 2>"$home/serve.log" &
serve_pid=$!
for _ in $(seq 50); do grep -q "serving" "$home/serve.log" && break; sleep 0.1; done

# presign QUERY: a GET URL that botocore signs for an hour.
presign() {
        /usr/bin/python3 - "http://127.0.0.1:$port" "$home/key.json" "$1" <<'PY'
import json, sys
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, keyfile, query = sys.argv[1:4]
k = json.load(open(keyfile))["AccessKey"]
r = AWSRequest(method="GET", url=url + "/?" + query, headers={})
SigV4QueryAuth(Credentials(k["AccessKeyId"], k["SecretAccessKey"]), "ec2", "local", expires=3600).add_auth(r)
print(r.url)
PY
}
url_one=$(presign "Action=DescribeImages&Version=2016-11-15&ImageId.1=$one")
url_all=$(presign "Action=DescribeImages&Version=2016-11-15&Owner.1=self")
curl -s -o "$home/one.xml" -w '%{http_code}' "$url_one" | grep -q 200 || { echo "bench: the endpoint does not answer" >&2; exit 1; }
curl -s -o "$home/all.xml" "$url_all"
echo "endpoint: $(grep -o '<imageId>' "$home/all.xml" | wc -l) images in one answer, $(wc -c <"$home/all.xml") bytes"

# load NAME URL REQUESTS CONCURRENCY: ab's p50, p99 (ms) and throughput, into $p50 $p99 $rps.
load() {
        ab -q -n "$3" -c "$4" "$2" >"$home/ab.txt" 2>&1
        p50=$(awk '$1 == "50%" { print $2 }' "$home/ab.txt")
        p99=$(awk '$1 == "99%" { print $2 }' "$home/ab.txt")
        rps=$(awk '/^Requests per second/ { print $4 }' "$home/ab.txt")
        failed=$(awk '/^Failed requests/ { print $3 }' "$home/ab.txt")
        non2xx=$(awk '/^Non-2xx responses/ { print $3 }' "$home/ab.txt")
        printf '%-44s p50 %5s ms  p99 %5s ms  %8s req/s  (%s failed%s)\n' "$1" "$p50" "$p99" "$rps" \
                "$failed" "${non2xx:+, $non2xx non-2xx}"
}
# process RUNS ARGS...: median wall ms of `kiln ARGS` processes, into $ms.
process() {
        local runs=$1 times=() t0
        shift
        "$kiln" "$@" >/dev/null
        for _ in $(seq "$runs"); do
                t0=$(date +%s%N)
                "$kiln" "$@" >/dev/null
                times+=($(( ($(date +%s%N) - t0) / 1000000 )))
        done
        ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
}

load "1 image, 1 client" "$url_one" 2000 1
one_p50=$p50
load "1 image, 16 clients" "$url_one" 5000 16
load "10,000 images, 1 client" "$url_all" 20 1
all_p50=$p50
load "10,000 images, 16 clients" "$url_all" 64 16
process 21 describe-images --image-ids "$one"
proc_one=$ms
process 5 describe-images --owners self
proc_all=$ms
printf '%-44s p50 %5s ms\n' "kiln describe-images, 1 image (process)" "$proc_one"
printf '%-44s p50 %5s ms\n' "kiln describe-images, 10,000 (process)" "$proc_all"
echo "ratio endpoint/process p50: 1 image $(echo "scale=2; $one_p50 / ($proc_one + ($proc_one == 0))" | bc)x," \
     "10,000 images $(echo "scale=2; $all_p50 / ($proc_all + ($proc_all == 0))" | bc)x"

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$serve_pid/status"; }
before=$(rss)
load "$requests more requests, 16 clients" "$url_one" "$requests" 16
after=$(rss)
growth=$(( after - before ))
echo "resident memory: $((before / 1024)) MiB before, $((after / 1024)) MiB after $requests requests (growth $((growth / 1024)) MiB)"
echo "targets: 1 image p50 $( [ "$one_p50" -lt 5 ] && echo met || echo MISSED ) (<5 ms)," \
     "10,000 images p50 $( [ "$all_p50" -lt 200 ] && echo met || echo MISSED ) (<200 ms)," \
     "memory growth $( [ "$growth" -lt 8192 ] && echo met || echo MISSED ) (<8 MiB)"
