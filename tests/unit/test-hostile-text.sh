#!/bin/bash
# Hostile text, in a throw-away kiln home on libvirt's test driver (nothing here needs a
# daemon): every verb that writes a description, a name or a key name refuses control
# characters and bytes that are not UTF-8 with InvalidParameterValue naming the parameter,
# before it touches anything. Records are planted with sqlite3 where registering would need a
# real pool.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh" # kiln_rc, kiln_as, json, ACCT_A, ACCT_B (no pools used)

for tool in sqlite3 python3; do
        if ! command -v "$tool" >/dev/null; then
                echo "1..0 # SKIP $tool is needed"
                exit 77
        fi
done

top=$(mktemp -d /tmp/kiln-hostile.XXXXXX)
trap 'rm -rf "$top"' EXIT
trap 'rm -rf "$top"; exit 143' TERM
trap 'rm -rf "$top"; exit 130' INT
KILN_HOME=$top/home
mkdir -p "$KILN_HOME"
export KILN_HOME
cat >"$KILN_HOME/config.json" <<JSON
{
  "Version": 1,
  "DefaultRegion": "local",
  "DefaultAccount": "$ACCT_A",
  "Regions": [
    {"Name": "local", "Uri": "test:///default", "Pool": "kiln-t-ht-local", "PoolPath": "$KILN_HOME/pools/local"},
    {"Name": "west", "Uri": "test:///default", "Pool": "kiln-t-ht-west", "PoolPath": "$KILN_HOME/pools/west"}
  ],
  "Accounts": [{"AccountId": "$ACCT_A"}, {"AccountId": "$ACCT_B"}]
}
JSON
db=$KILN_HOME/registry.db
MINE=ami-0123456789abcdef0

kiln_rc describe-images # creates the registry
# plant IMAGE-ID OWNER NAME DESCRIPTION-SQL: an available image, public, as an older kiln (or
# another writer) may have left it. DESCRIPTION-SQL is an SQL expression.
plant() {
        sqlite3 "$db" "INSERT INTO images (id, region, owner, name, description, state,
                architecture, platform, default_user, boot_mode, root_device_name,
                creation_date, seq) VALUES ('$1', 'local', '$2', '$3', $4, 'available',
                'x86_64', 'linux', 'admin', 'legacy-bios', '/dev/vda',
                '2024-01-02T03:04:05.000Z', (SELECT COALESCE(MAX(seq), 0) + 1 FROM images));
                INSERT INTO launch_permissions (resource_id, kind, value) VALUES ('$1', 0, '');"
}
plant "$MINE" "$ACCT_A" mine "'plain'"

# refused VERB-ARGS... -- PARAMETER WHY: exit 3, InvalidParameterValue naming the parameter
refused() {
        local args=() param why
        while [ "$1" != -- ]; do args+=("$1"); shift; done
        param=$2 why=$3
        kiln_rc "${args[@]}"
        tap_is "$RC" 3 "$why: exit 3"
        tap_like "$ERR" "^kiln: InvalidParameterValue: Value for parameter $param is invalid: " \
                "$why: InvalidParameterValue naming $param"
}

# ---- every writer refuses ----
refused modify-image-attribute --image-id "$MINE" --description $'x\e]2;pwned\a' \
        -- Description "modify-image-attribute --description with an OSC sequence"
tap_like "$ERR" "character 2 is the control character U\+001B" "  and says which character"
refused modify-image-attribute --image-id "$MINE" --description $'a\e[2Jb' \
        -- Description "modify-image-attribute --description with ESC [2J"
refused modify-image-attribute --image-id "$MINE" --description $'a\xc2\x9b2Jb' \
        -- Description "modify-image-attribute --description with C1 CSI"
refused modify-image-attribute --image-id "$MINE" --description $'two\nlines' \
        -- Description "modify-image-attribute --description with a newline"
refused modify-image-attribute --image-id "$MINE" --description $'caf\xe9' \
        -- Description "modify-image-attribute --description in Latin-1"
tap_like "$ERR" "it is not UTF-8 \(byte 4 is 0xe9\)" "  and says which byte"
tap_is "$(sqlite3 "$db" "SELECT description FROM images WHERE id = '$MINE'")" plain \
        "the description is unchanged"
kiln_rc modify-image-attribute --image-id "$MINE" --description $'caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87'
tap_is "$RC" 0 "a description in French and Chinese is accepted"
kiln_rc describe-images --image-ids "$MINE"
tap_is "$(json 'd["Images"][0]["Description"]')" $'caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87' \
        "and read back as it was written"

refused register-image --name web --disk "$top/absent.qcow2" --description $'x\e[2J' \
        -- Description "register-image --description"
refused import-image --url http://127.0.0.1:9/web.qcow2 --name web --description $'x\e[2J' \
        -- Description "import-image --description"
refused create-image --instance-id i-0123456789abcdef0 --name web --description $'x\x7f' \
        -- Description "create-image --description with DEL"
refused --region west copy-image --source-region local --source-image-id "$MINE" --name web \
        --description $'x\e[2J' -- Description "copy-image --description"
refused create-key-pair --key-name $'k\e[2J' -- KeyName "create-key-pair --key-name"
refused import-key-pair --key-name $'k\e[2J' --public-key-material 'ssh-ed25519 AAAA' \
        -- KeyName "import-key-pair --key-name"
tap_is "$(sqlite3 "$db" "SELECT (SELECT COUNT(*) FROM images) || ' ' || (SELECT COUNT(*) FROM keypairs)")" \
        "1 0" "nothing was registered"

tap_done
