#!/bin/bash
# import-image and the URL it is given, in a throw-away home on libvirt's test driver against
# tests/harness/httpd.py on 127.0.0.1: a URL with a user name, a password, a query token and a
# fragment, longer than a description may be, gets past the checks (the description keeps it
# without its secrets and cut) and is never printed with its secrets, whether the download
# fails (404) or the file is refused after it. The test driver cannot store volumes, so the
# import is not carried to its end here; tests/unit/test-download.c checks the URL's redaction
# itself.
set -u
. "$KILN_TOP/tests/harness/tap.sh"

if ! command -v python3 >/dev/null; then
        echo "1..0 # SKIP python3 is needed"
        exit 77
fi

top=$(mktemp -d /tmp/kiln-import-url.XXXXXX)
server=
cleanup() {
        [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
        rm -rf "$top"
}
trap cleanup EXIT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 130' INT
export KILN_HOME=$top/home
mkdir -p "$KILN_HOME"
cat >"$KILN_HOME/config.json" <<JSON
{
  "Version": 1,
  "DefaultRegion": "local",
  "DefaultAccount": "111111111111",
  "Regions": [
    {"Name": "local", "Uri": "test:///default", "Pool": "kiln-t-iu-local", "PoolPath": "$KILN_HOME/pools/local"}
  ],
  "Accounts": [{"AccountId": "111111111111"}]
}
JSON

head -c 65536 /dev/urandom >"$top/served.bin" # not a disk image
python3 "$KILN_TOP/tests/harness/httpd.py" "$top/served.bin" >"$top/port" &
server=$!
for _ in $(seq 100); do
        [ -s "$top/port" ] && break
        sleep 0.05
done
port=$(head -n 1 "$top/port")
if [ -z "$port" ]; then
        echo "1..0 # SKIP tests/harness/httpd.py did not start"
        exit 77
fi

long=$(printf 'segment%02d/' $(seq 1 30)) # 300 characters
run() {
        ERR=$("$KILN_BIN" import-image --name imported-from-url --url "$1" 2>&1 >/dev/null)
        RC=$?
}

# a 404: the download fails, not the checks before it
run "http://alice:pw0rd@127.0.0.1:$port/missing/${long}disk.qcow2?X-Amz-Signature=T0KEN#frag"
tap_is "$RC" 4 "a URL of over 300 characters is accepted: the download's 404 ends it (exit 4)"
tap_like "$ERR" "HTTP 404" "  saying so"
if printf '%s' "$ERR" | grep -q "longer than 255"; then r=1; else r=0; fi
tap_is "$r" 0 "  the description made from it is not too long"
if printf '%s' "$ERR" | grep -q -e T0KEN -e pw0rd -e alice -e '#frag'; then r=1; else r=0; fi
tap_is "$r" 0 "  neither the password, the user, the query nor the fragment is printed"
line=$(printf '%s\n' "$ERR" | grep '^kiln: downloading ')
tap_like "$line" "^kiln: downloading http://127.0.0.1:$port/missing/segment01/.*\\.\\.\\.\$" \
        "  the URL shown is cut"

# the file is downloaded and refused
run "http://alice:pw0rd@127.0.0.1:$port/file/disk.qcow2?X-Amz-Signature=T0KEN#frag"
tap_is "$RC" 3 "a download that is not a disk image is refused (exit 3)"
tap_like "$ERR" "downloaded 65536 bytes" "  after it was downloaded"
if printf '%s' "$ERR" | grep -q -e T0KEN -e pw0rd -e alice -e '#frag'; then r=1; else r=0; fi
tap_is "$r" 0 "  neither the password, the user, the query nor the fragment is printed"
line=$(printf '%s\n' "$ERR" | grep '^kiln: downloading ')
tap_is "$line" "kiln: downloading http://127.0.0.1:$port/file/disk.qcow2" "  the URL is shown without them"
tap_is "$(ls -A "$KILN_HOME/downloads")" "" "  and nothing is left in the downloads"

tap_done
