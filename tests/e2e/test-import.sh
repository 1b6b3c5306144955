#!/bin/bash
# import-image over HTTP from servers this test starts on 127.0.0.1 (tests/harness/httpd.py),
# serving the guest image the recipe built: a clean import with its checksum and the OS read
# from the disk, a checksum mismatch, a download cut halfway and resumed, a stalling server
# (a timeout, then a second run that resumes), a qcow2 that names a backing file, a file that
# is not a disk image. Failures leave nothing registered and no file behind; the imported image
# launches and becomes ready.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work"
pids=()
cleanup_servers() {
        local p
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
}
trap 'cleanup_servers; home_cleanup_instances' EXIT
trap 'cleanup_servers; home_cleanup_instances; exit 143' TERM
trap 'cleanup_servers; home_cleanup_instances; exit 130' INT

# serve VAR FILE: starts a server for FILE (a child of this shell: it exits with it) and sets
# VAR to its base URL.
serve() {
        local out=$work/port.$RANDOM port=
        python3 "$KILN_TOP/tests/harness/httpd.py" "$2" >"$out" &
        pids+=($!)
        for _ in $(seq 1 300); do
                port=$(head -n1 "$out" 2>/dev/null)
                [ -n "$port" ] && break
                sleep 0.1
        done
        printf -v "$1" 'http://127.0.0.1:%s' "$port"
}
# nothing_left: no image, snapshot file or download left by a failed import.
leftovers() {
        local n
        n=$(ls "$KILN_HOME/downloads" 2>/dev/null | grep -vc '\.part$')
        echo "downloads:$n pool:$(ls "$(pool_path local)" 2>/dev/null | wc -l)"
}
image_count() {
        kiln_rc describe-images --owners self
        json 'len(d["Images"])'
}

cp "$KILN_TEST_IMAGE" "$work/debian-12.qcow2"
sum=$(sha256sum "$work/debian-12.qcow2" | cut -d' ' -f1)
serve URL "$work/debian-12.qcow2"

# A qcow2 naming a backing file (a host file), and a file that is not a disk image.
qemu-img create -q -f qcow2 -F raw -b /etc/hostname "$work/evil.qcow2" 1G
serve BAD_URL "$work/evil.qcow2"
head -c 3000000 /dev/urandom >"$work/noise.bin"
serve NOISE_URL "$work/noise.bin"

kiln_rc import-image --url "$URL/file" --name bad-sum --checksum "sha256:$(printf '%064d' 0)"
tap_is "$RC" 3 "a checksum mismatch is refused (exit 3)"
tap_like "$ERR" "checksum mismatch.*expected sha256:0000.*got sha256:$sum" "naming both checksums"
tap_is "$(image_count)" 0 "nothing registered"
tap_is "$(leftovers) $(ls "$KILN_HOME/downloads" | wc -l)" "downloads:0 pool:0 0" "and no file left, not even a partial one"

kiln_rc import-image --url "$BAD_URL/file" --name evil
tap_is "$RC" 3 "a qcow2 naming a backing file is refused"
tap_like "$ERR" "backing file.*/etc/hostname" "naming the backing file"
kiln_rc import-image --url "$NOISE_URL/file" --name noise
tap_is "$RC" 3 "a file that is not a disk image is refused"
tap_like "$ERR" "not a disk image" "saying so"
tap_is "$(image_count) $(leftovers)" "0 downloads:0 pool:0" "neither left an image or a file"

kiln_rc import-image --url "ftp://127.0.0.1/x.qcow2"
tap_is "$RC" 3 "an ftp:// URL is refused"
kiln_rc import-image --url "$URL/file" --checksum md5:abc
tap_is "$RC" 3 "a malformed checksum is refused before any download"
kiln_rc import-image --url "$URL/missing" --name missing
tap_is "$RC" 4 "a 404 is not found (exit 4)"

# A stalling server: a timeout after the retries, then a second run resumes.
KILN_STALL_TIMEOUT=1 kiln_rc import-image --url "$URL/stall" --name stalled
tap_is "$RC" 11 "a server that stalls: a timeout (exit 11)"
tap_like "$ERR" "stalled" "saying the server stalled"
tap_is "$(ls "$KILN_HOME/downloads" | grep -c '\.part$')" 1 "the partial download is kept"
curl -s "$URL/unstall" >/dev/null
kiln_rc import-image --url "$URL/stall" --name stalled --checksum "sha256:$sum"
tap_is "$RC" 0 "run again, the download resumes and completes"
tap_like "$ERR" "resumed at byte [1-9]" "from where it stopped"
kiln_rc deregister-image --image-id "$(json 'd["ImageId"]')"

# Cut halfway: resumed within the same run.
kiln_rc --no-progress import-image --url "$URL/cut" --name debian-12-cut --checksum "sha256:$sum"
tap_is "$RC" 0 "a download cut halfway is resumed"
tap_like "$ERR" "resumed at byte [1-9]" "from the middle, not from the start"
kiln_rc deregister-image --image-id "$(json 'd["ImageId"]')"

# The clean import, with progress lines (stderr is not a terminal here).
kiln_rc import-image --url "$URL/file/debian-12.qcow2" --checksum "sha256:$sum"
tap_is "$RC" 0 "a clean import with its checksum"
AMI=$(json 'd["ImageId"]')
tap_like "$ERR" "found Debian GNU/Linux 12.*login user admin" "the OS is read from the disk itself"
out=$("$KILN_BIN" import-image --url "$URL/file" --name with-progress 2>&1 >/dev/null)
tap_like "$out" "kiln: download: [0-9.]+ of [0-9.]+ MiB" "progress lines when stderr is not a terminal"
out=$("$KILN_BIN" --no-progress import-image --url "$URL/file" --name no-progress 2>&1 >/dev/null)
tap_ok $(echo "$out" | grep -q "download:"; echo $((! $?))) "none with --no-progress"
kiln_rc describe-images --image-ids "$AMI"
tap_is "$(json 'd["Images"][0]["Name"]')" debian-12 "named after the URL's file by default"
tap_is "$(json 'd["Images"][0]["State"]')" available "available"
tap_is "$(json 'd["Images"][0].get("PlatformDetails")')" "Linux/UNIX" "a Linux image"
kiln_rc describe-snapshots --owner-ids self --filters "Name=description,Values=Imported*$URL/file/debian-12.qcow2"
tap_ok $([ "$(json 'len(d["Snapshots"])')" -ge 1 ]; echo $?) "its snapshot says where it came from"
tap_is "$(ls "$KILN_HOME/downloads" | wc -l)" 0 "the download is gone once registered"
kiln_rc import-image --url "$URL/file/debian-12.qcow2"
tap_is "$RC" 5 "importing the same name again: InvalidAMIName.Duplicate (exit 5)"

# The catalog: entries whose checksum comes from a published sums file (sha256sum and BSD
# style), with owner aliases and a marketplace price.
mkdir -p "$work/sums"
printf '%s  debian-12.qcow2\n%064d  other.qcow2\n' "$sum" 0 >"$work/sums/SHA256SUMS"
printf 'SHA256 (other.qcow2) = %064d\nSHA256 (debian-12.qcow2) = %s\n' 0 "$sum" >"$work/sums/CHECKSUM"
serve SUMS_URL "$work/sums/SHA256SUMS"
serve BSD_URL "$work/sums/CHECKSUM"
cat >"$work/catalog.json" <<JSON
{"Images": [
  {"Name": "local-debian", "Url": "$URL/file/debian-12.qcow2", "ChecksumUrl": "$SUMS_URL/file/SHA256SUMS",
   "ChecksumType": "sha256", "Platform": "linux", "DefaultUser": "admin", "OwnerAlias": "amazon", "HourlyPrice": 0},
  {"Name": "local-market", "Url": "$URL/file/debian-12.qcow2", "ChecksumUrl": "$BSD_URL/file/CHECKSUM",
   "ChecksumType": "sha256", "Platform": "linux", "DefaultUser": "admin", "OwnerAlias": "aws-marketplace",
   "HourlyPrice": 0.25}
]}
JSON
export KILN_CATALOG=$work/catalog.json
kiln_rc import-image --catalog local-debian
tap_is "$RC" 0 "import-image --catalog: URL and checksum from the catalog"
CAT=$(json 'd["ImageId"]')
tap_like "$ERR" "reading the checksum of local-debian from $SUMS_URL" "the checksum is read from the published sums file"
kiln_rc import-image --catalog local-market
tap_is "$RC" 0 "a marketplace entry, its checksum in BSD style"
MARKET=$(json 'd["ImageId"]')
kiln_rc describe-images --owners amazon
tap_is "$(json '" ".join(i["ImageId"] for i in d["Images"])')" "$CAT" "--owners amazon selects the distribution image"
tap_is "$(json 'd["Images"][0]["ImageOwnerAlias"]')" amazon "with its owner alias"
kiln_rc describe-images --owners aws-marketplace
tap_is "$(json '" ".join(i["ImageId"] for i in d["Images"])')" "$MARKET" "--owners aws-marketplace the marketplace one"
kiln_rc describe-storage
tap_is "$(json "[i['HourlyPrice'] for i in d['Images'] if i['ImageId']=='$MARKET'][0]")" 0.25 "its hourly price shows in describe-storage"
kiln_rc import-image --catalog no-such-image
tap_is "$RC" 4 "an unknown catalog entry: exit 4"
unset KILN_CATALOG

# register-image detects too, when the platform or login user is not given.
kiln_rc register-image --name registered-detect --disk "$work/debian-12.qcow2"
kiln_rc describe-images --image-ids "$(json 'd["ImageId"]')"
tap_is "$(json 'd["Images"][0].get("DefaultUser")')" admin "register-image reads the login user from the disk as well"

kiln_rc create-key-pair --key-name imp --key-type ed25519 --output-file "$work/imp.pem"
kiln_rc run-instances --image-id "$AMI" --key-name imp --wait
tap_is "$RC" 0 "an instance of the imported image becomes ready"
ID=$(json 'd["Instances"][0]["InstanceId"]')
kiln_rc configure --instance-id "$ID" --run '. /etc/os-release; echo "$ID $VERSION_ID $(id -un)"'
tap_is "$OUT" "debian 12 admin" "and runs the detected login user"

tap_done
