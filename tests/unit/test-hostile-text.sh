#!/bin/bash
# Hostile text, in a throw-away kiln home on libvirt's test driver (nothing here needs a
# daemon): every verb that writes a description, a name or a key name refuses control
# characters and bytes that are not UTF-8 with InvalidParameterValue naming the parameter,
# before it touches anything. Records that an older kiln could have stored (escape sequences,
# C1, a forged line, bytes that are not UTF-8) are planted with sqlite3, since registering needs
# a real pool, and must come out of text and table output shown, not obeyed, and out of JSON
# as JSON that parses; error messages and log lines on stderr are made safe the same way.
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

# ---- what an older kiln may have stored, printed ----
# controls TEXT: how many characters a terminal could obey (C0 but tab and newline, DEL,
# C1), or "not UTF-8"
controls() {
        printf '%s' "$1" | python3 -c 'import sys
try:
    t = sys.stdin.buffer.read().decode("utf-8")
except UnicodeDecodeError:
    print("not UTF-8")
    sys.exit()
print(sum(1 for c in t if (ord(c) < 0x20 and c not in "\t\n") or 0x7f <= ord(c) <= 0x9f))'
}
EVIL=ami-0123456789abcdef1
BYTES=ami-0123456789abcdef2
# An OSC title, a screen clear, C1 CSI, DEL, and a newline that forges a line of text output.
plant "$EVIL" "$ACCT_B" $'evil\e[8m' "'x' || char(27) || ']2;pwned' || char(7) || char(27) ||
        '[2J' || char(155) || 'y' || char(127) || char(10) || 'IMAGES' || char(9) || 'forged'"
sqlite3 "$db" "INSERT INTO tags (resource_id, key, value) VALUES ('$EVIL',
        'k' || char(27) || '[31m', 'v' || char(13) || char(10) || char(27) || '[1A')"
# Bytes that are not UTF-8: a stray continuation byte, 0xff, an overlong '/', a C1 byte alone.
plant "$BYTES" "$ACCT_B" bytes "CAST(X'636166658041FFC0AF9B' AS TEXT)"
sqlite3 "$db" "INSERT INTO tags (resource_id, key, value) VALUES ('$BYTES', 'k',
        CAST(X'E4B8' AS TEXT))"

# has TEXT NEEDLE DESCRIPTION: NEEDLE occurs in TEXT as it is (no pattern)
has() {
        if [[ $1 == *"$2"* ]]; then
                tap_ok 0 "$3"
        else
                tap_ok 1 "$3"
                tap_diag "got: $1" "wanted it to contain: $2"
        fi
}
T=$'\t' NL=$'\n'
SHOWN='x\x1b]2;pwned\x07\x1b[2J\u009by\x7f\x0aIMAGES\x09forged'

kiln_rc --output text describe-images
tap_is "$RC" 0 "text output of hostile records succeeds"
tap_is "$(controls "$OUT")" 0 "text output holds no control character a terminal would obey"
has "$OUT" "$T$SHOWN$T" \
        "the description shows escapes, C1, DEL, newline and tab as \\xNN and \\u00NN"
tap_is "$(printf '%s\n' "$OUT" | grep -c '^IMAGES')" 3 "no forged line: one IMAGES line per image"
has "$OUT" "${NL}TAGS${T}k\\x1b[31m${T}v\\x0d\\x0a\\x1b[1A$NL" "tags are shown the same way"
has "$OUT" "${T}222222222222/evil\\x1b[8m$T" "and names"
has "$OUT" "${T}cafe\\x80A\\xff\\xc0\\xaf\\x9b$T" "bytes that are not UTF-8 show as \\xNN"
kiln_rc --output table describe-images
tap_is "$RC" 0 "table output of hostile records succeeds"
tap_is "$(controls "$OUT")" 0 "table output holds no control character a terminal would obey"
has "$OUT" "| $SHOWN$NL" "the description on one row of the table"
has "$OUT" "| \\xe4\\xb8$NL" "a tag value cut short shows its bytes"

kiln_rc describe-images
tap_is "$RC" 0 "JSON output of hostile records succeeds"
# strict: in the C locale Python would read stdin with surrogateescape and let bad bytes pass
printf '%s' "$OUT" | PYTHONIOENCODING=utf-8:strict python3 -m json.tool >/dev/null 2>&1
tap_ok $? "and parses as UTF-8 JSON (python3 -m json.tool)"
tap_is "$(controls "$OUT")" 0 "JSON escapes every control character, DEL and C1 included"
tap_is "$(json '[i["Description"] for i in d["Images"] if i["ImageId"] == "'$EVIL'"][0] == "x\x1b]2;pwned\x07\x1b[2J\x9by\x7f\nIMAGES\tforged"')" \
        True "escaped, the description reads back exactly"
tap_is "$(json '[i["Description"] for i in d["Images"] if i["ImageId"] == "'$BYTES'"][0]')" \
        $'cafe\uFFFDA\uFFFD\uFFFD\uFFFD\uFFFD' "each byte that is not UTF-8 becomes U+FFFD"
kiln_rc describe-image-attribute --image-id "$BYTES" --attribute description
tap_is "$(json 'd["Description"]["Value"]')" $'cafe\uFFFDA\uFFFD\uFFFD\uFFFD\uFFFD' \
        "describe-image-attribute keeps such a description instead of dropping it"

# ---- stderr: errors and log lines ----
kiln_rc describe-images --image-ids $'ami-\e]2;pwned\a'
tap_is "$RC" 3 "a malformed ID with an escape sequence is refused"
tap_is "$ERR" 'kiln: InvalidAMIID.Malformed: Invalid id: "ami-\x1b]2;pwned\x07" (expecting "ami-...")' \
        "and the error message shows the escapes"
work=$(mktemp -d "$top/disk.XXXXXX")
truncate -s 1M "$work/"$'a\e[2J\xc2\x9b.raw'
KILN_DEBUG=1 kiln_rc register-image --name logged --disk "$work/"$'a\e[2J\xc2\x9b.raw'
has "$ERR" 'kiln: debug: exec: qemu-img info --output=json '"$work"'/a\x1b[2J\u009b.raw' \
        "log lines show the escapes of a file name"
tap_is "$(controls "$ERR")" 0 "no log or error line holds a control character a terminal would obey"

# ---- multi-line values keep their lines in text output ----
if command -v ssh-keygen >/dev/null; then
        kiln_rc --output text create-key-pair --key-name multi --key-type ed25519
        tap_like "$OUT" $'\t-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=]+\n' \
                "create-key-pair --output text prints the private key on its lines"
else
        tap_ok 0 "# SKIP ssh-keygen is needed"
fi

tap_done
