#!/bin/bash
# The key pair verbs end to end, in a throw-away kiln home under /tmp (key pairs need no
# libvirt): create (RSA and ED25519, printed or to a 0600 file that is never overwritten),
# import (OpenSSH, RFC 4716, fileb://), describe (shape, member order, names, IDs, wildcard
# filters, public keys), delete (idempotent), accounts and regions that do not see each
# other's key pairs, fingerprints against openssl and ssh-keygen run here, and the private key
# found nowhere in the home. Every refusal is checked for its code, its exit status, and for
# leaving nothing registered.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh" # kiln_rc, kiln_as, json, ACCT_A, ACCT_B (no pools used)

for tool in ssh-keygen openssl python3; do
        if ! command -v "$tool" >/dev/null; then
                echo "1..0 # SKIP $tool is needed"
                exit 77
        fi
done
if "$KILN_BIN" help create-key-pair 2>&1 | grep -q "unknown verb"; then
        echo "1..0 # SKIP create-key-pair is not in kiln's command table: orchestrator/cli/main.c must list the key pair group (cli_keypair_verbs)"
        exit 77
fi

top=$(mktemp -d /tmp/kiln-keypairs.XXXXXX)
trap 'rm -rf "$top"' EXIT
trap 'rm -rf "$top"; exit 143' TERM
trap 'rm -rf "$top"; exit 130' INT
KILN_HOME=$top/home
work=$top/work
export TMPDIR=$top/tmp # kiln's private key directories go here: checked empty at the end
mkdir -p "$KILN_HOME" "$work" "$TMPDIR"
export KILN_HOME
cat >"$KILN_HOME/config.json" <<JSON
{
  "Version": 1,
  "DefaultRegion": "local",
  "DefaultAccount": "$ACCT_A",
  "Regions": [
    {"Name": "local", "Uri": "test:///default", "Pool": "kiln-t-kp-local", "PoolPath": "$KILN_HOME/pools/local"},
    {"Name": "west", "Uri": "test:///default", "Pool": "kiln-t-kp-west", "PoolPath": "$KILN_HOME/pools/west"}
  ],
  "Accounts": [{"AccountId": "$ACCT_A"}, {"AccountId": "$ACCT_B"}]
}
JSON

count() { kiln_as "$1" describe-key-pairs "${@:2}"; json 'len(d["KeyPairs"])'; }
names() { kiln_as "$ACCT_A" describe-key-pairs "$@"; json '",".join(k["KeyName"] for k in d["KeyPairs"])'; }
bad() {
        local want_rc=$1 want_code=$2 what=$3; shift 3
        kiln_as "$ACCT_A" "$@"
        tap_is "$RC" "$want_rc" "$what: exit $want_rc"
        tap_like "$ERR" "^kiln: $want_code: " "$what: $want_code"
}
md5_der() { openssl rsa -in "$1" -pubout -outform DER 2>/dev/null | openssl md5 -c | sed 's/^.*= //'; }
sha1_pkcs8() { openssl pkcs8 -in "$1" -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c | sed 's/^.*= //'; }
sha256_padded() { ssh-keygen -l -E sha256 -f "$1" | awk '{ s = substr($2, 8); while (length(s) % 4) s = s "="; print s }'; }

tap_is "$(count "$ACCT_A")" 0 "a new home has no key pairs"

# ---- create-key-pair: RSA, printed ----
kiln_as "$ACCT_A" create-key-pair --key-name demo
tap_is "$RC" 0 "create-key-pair succeeds"
tap_is "$(json 'list(d.keys())')" "['KeyFingerprint', 'KeyMaterial', 'KeyName', 'KeyPairId']" \
        "KeyPair members in the aws CLI 2.9.19 order"
RSA_ID=$(json 'd["KeyPairId"]')
tap_like "$RSA_ID" '^key-[0-9a-f]{17}$' "the key pair ID is key- and 17 hex digits"
tap_is "$(json 'd["KeyName"]')" demo "the name is echoed"
json 'd["KeyMaterial"]' >"$work/demo.pem"
chmod 600 "$work/demo.pem"
tap_is "$(head -n 1 "$work/demo.pem")" "-----BEGIN RSA PRIVATE KEY-----" \
        "KeyMaterial is a PKCS#1 PEM, as EC2 hands out"
tap_is "$(json 'd["KeyMaterial"].endswith("\n-----END RSA PRIVATE KEY-----")')" True \
        "KeyMaterial has no final newline"
tap_is "$(openssl rsa -in "$work/demo.pem" -noout -text 2>/dev/null | head -n 1)" \
        "Private-Key: (2048 bit, 2 primes)" "an RSA key of 2048 bits"
RSA_FP=$(json 'd["KeyFingerprint"]')
tap_is "$RSA_FP" "$(sha1_pkcs8 "$work/demo.pem")" \
        "the fingerprint is SHA-1 of the DER PKCS#8 private key (openssl pkcs8 | openssl sha1 -c)"
needle=$(sed -n 5p "$work/demo.pem")
tap_ok "$(grep -rqaF -- "$needle" "$KILN_HOME"; echo $((! $?)))" \
        "the private key is nowhere in the kiln home (registry included)"
kiln_as "$ACCT_A" describe-key-pairs --key-names demo --include-public-key
tap_is "$(json 'd["KeyPairs"][0]["PublicKey"]')" "$(ssh-keygen -y -f "$work/demo.pem" | cut -d' ' -f1,2) demo" \
        "the stored public key is the private key's, named after the key pair"

# ---- create-key-pair: ED25519, printed ----
kiln_as "$ACCT_A" create-key-pair --key-name edkey --key-type ed25519
tap_is "$RC" 0 "create-key-pair --key-type ed25519"
json 'd["KeyMaterial"]' >"$work/ed.pem"
chmod 600 "$work/ed.pem"
tap_is "$(head -n 1 "$work/ed.pem")" "-----BEGIN OPENSSH PRIVATE KEY-----" \
        "an ED25519 KeyMaterial is in OpenSSH's format"
ssh-keygen -y -f "$work/ed.pem" >"$work/ed.pub"
tap_is "$(json 'd["KeyFingerprint"]')" "$(sha256_padded "$work/ed.pub")" \
        "its fingerprint is the base64 SHA-256 ssh-keygen shows, with '=' padding"
tap_like "$(json 'd["KeyFingerprint"]')" '^[A-Za-z0-9+/]{43}=$' "44 characters"
ED_ID=$(json 'd["KeyPairId"]')
needle=$(sed -n 3p "$work/ed.pem")
tap_ok "$(grep -rqaF -- "$needle" "$KILN_HOME"; echo $((! $?)))" \
        "the ED25519 private key is nowhere in the kiln home"

# ---- create-key-pair --output-file ----
kiln_as "$ACCT_A" create-key-pair --key-name filed --output-file "$work/filed.pem"
tap_is "$RC" 0 "create-key-pair --output-file"
tap_is "$(json 'list(d.keys())')" "['KeyFingerprint', 'KeyName', 'KeyPairId']" \
        "KeyMaterial is left out when the key went to a file"
tap_is "$(stat -c %a "$work/filed.pem")" 600 "the file has mode 0600"
tap_is "$(head -n 1 "$work/filed.pem")" "-----BEGIN RSA PRIVATE KEY-----" "and holds the PEM key"
tap_is "$(json 'd["KeyFingerprint"]')" "$(sha1_pkcs8 "$work/filed.pem")" \
        "whose fingerprint matches"
(umask 000; "$KILN_BIN" create-key-pair --key-name filed2 --key-type ed25519 \
        --output-file "$work/filed2.pem" >/dev/null)
tap_is "$(stat -c %a "$work/filed2.pem" 2>/dev/null)" 600 "mode 0600 whatever the umask"
before=$(count "$ACCT_A")
sum=$(sha256sum <"$work/filed.pem")
bad 5 'AlreadyExists' "an existing --output-file" create-key-pair --key-name other --output-file "$work/filed.pem"
tap_like "$ERR" "'$work/filed.pem' already exists" "the refusal names the file"
tap_is "$(sha256sum <"$work/filed.pem")" "$sum" "the existing file is untouched"
ln -s "$work/nowhere.pem" "$work/link.pem"
bad 5 'AlreadyExists' "a symbolic link as --output-file" create-key-pair --key-name other --output-file "$work/link.pem"
tap_ok "$([ ! -e "$work/nowhere.pem" ]; echo $?)" "nothing is written through the link"
bad 10 'IOError' "an --output-file in a missing directory" create-key-pair --key-name other --output-file "$work/no/such.pem"
tap_is "$(count "$ACCT_A")" "$before" "refused creates registered nothing"

# ---- create-key-pair refusals ----
before=$(count "$ACCT_A")
bad 5 'InvalidKeyPair\.Duplicate' "a taken name" create-key-pair --key-name demo
tap_like "$ERR" "The keypair 'demo' already exists\.$" "EC2's duplicate wording"
bad 3 'InvalidParameterValue' "an empty name" create-key-pair --key-name ''
bad 3 'InvalidParameterValue' "a name of 256 characters" create-key-pair --key-name "$(head -c 256 /dev/zero | tr '\0' k)"
bad 3 'InvalidParameterValue' "a name with a leading space" create-key-pair --key-name ' lead'
bad 3 'InvalidParameterValue' "a name with a trailing space" create-key-pair --key-name 'trail '
bad 3 'InvalidParameterValue' "a non-ASCII name" create-key-pair --key-name 'clé'
bad 3 'InvalidParameterValue' "an unknown key type" create-key-pair --key-name dsa --key-type dsa
bad 9 'UnsupportedOperation' "the ppk format" create-key-pair --key-name putty --key-format ppk
bad 3 'InvalidParameterValue' "an unknown key format" create-key-pair --key-name x --key-format der
kiln_as "$ACCT_A" create-key-pair
tap_is "$RC" 2 "create-key-pair without --key-name is a usage error"
tap_is "$(count "$ACCT_A")" "$before" "no refused create registered a key pair"
long=$(head -c 255 /dev/zero | tr '\0' k)
kiln_as "$ACCT_A" create-key-pair --key-name "$long" --key-type ed25519
tap_is "$RC" 0 "a name of 255 characters is accepted"
kiln_as "$ACCT_A" delete-key-pair --key-name "$long"

# ---- describe-key-pairs ----
kiln_as "$ACCT_A" describe-key-pairs
tap_is "$RC" 0 "describe-key-pairs succeeds"
tap_is "$(json 'list(d.keys())')" "['KeyPairs']" "the top level is KeyPairs"
tap_is "$(json 'list(d["KeyPairs"][0].keys())')" \
        "['KeyPairId', 'KeyFingerprint', 'KeyName', 'KeyType', 'CreateTime']" \
        "KeyPairInfo members in the aws CLI 2.9.19 order, no PublicKey unless asked"
tap_is "$(json '",".join(k["KeyName"]+":"+k["KeyType"] for k in d["KeyPairs"])')" \
        "demo:rsa,edkey:ed25519,filed:rsa,filed2:ed25519" "oldest first, with their types"
tap_like "$(json 'd["KeyPairs"][0]["CreateTime"]')" \
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00$' \
        "CreateTime is printed as the aws CLI prints timestamps"
tap_is "$(json 'd["KeyPairs"][0]["KeyPairId"]+" "+d["KeyPairs"][0]["KeyFingerprint"]')" \
        "$RSA_ID $RSA_FP" "ID and fingerprint as created"
kiln_as "$ACCT_A" describe-key-pairs --include-public-key
tap_is "$(json 'list(d["KeyPairs"][1].keys())')" \
        "['KeyPairId', 'KeyFingerprint', 'KeyName', 'KeyType', 'PublicKey', 'CreateTime']" \
        "--include-public-key adds PublicKey before CreateTime"
tap_is "$(json 'd["KeyPairs"][1]["PublicKey"]')" "$(cut -d' ' -f1,2 "$work/ed.pub") edkey" \
        "the ED25519 public key"
tap_is "$(names --key-names edkey demo)" "demo,edkey" "--key-names"
tap_is "$(names --key-pair-ids "$ED_ID")" "edkey" "--key-pair-ids"
bad 4 'InvalidKeyPair\.NotFound' "an unknown --key-names" describe-key-pairs --key-names demo nope
tap_like "$ERR" "The key pair 'nope' does not exist$" "EC2's not-found wording"
bad 4 'InvalidKeyPair\.NotFound' "an unknown --key-pair-ids" describe-key-pairs --key-pair-ids key-0123456789abcdef0
bad 3 'InvalidParameterValue' "a malformed --key-pair-ids" describe-key-pairs --key-pair-ids key-xyz

# ---- filters ----
for n in web-1 web-2 web-10 db-1; do
        kiln_as "$ACCT_A" create-key-pair --key-name "$n" --key-type ed25519
done
tap_is "$(names --filters Name=key-name,Values='web-*')" "web-1,web-2,web-10" "'*' matches any run"
tap_is "$(names --filters Name=key-name,Values='web-?')" "web-1,web-2" "'?' matches one character"
tap_is "$(names --filters Name=key-name,Values='web-1?')" "web-1,web-10" "'?' also matches none"
tap_is "$(names --filters Name=key-name,Values=db-1,demo)" "demo,db-1" "values of one filter are ORed"
tap_is "$(names --filters Name=key-name,Values='web-*' Name=key-name,Values='*-1*')" \
        "web-1,web-10" "filters are ANDed"
tap_is "$(names --filters Name=key-name,Values='*-1' Name=key-pair-id,Values="$RSA_ID")" \
        "" "filters are ANDed: no key pair is both"
tap_is "$(names --filters Name=fingerprint,Values="$RSA_FP")" "demo" "fingerprint filter"
tap_is "$(names --filters Name=key-pair-id,Values="$ED_ID")" "edkey" "key-pair-id filter"
tap_is "$(names --filters '[{"Name":"key-name","Values":["db-*"]}]')" "db-1" "filters as JSON"
tap_is "$(names --filters Name=tag-key,Values='*')" "" "tag-key: none of them has tags"
tap_is "$(names --filters Name=key-name,Values=nothing)" "" "a filter may match nothing"
bad 3 'InvalidFilter' "an unknown filter" describe-key-pairs --filters Name=key-type,Values=rsa
tap_like "$ERR" "The filter 'key-type' is invalid" "naming the filter"

# ---- import-key-pair ----
ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C me@laptop -f "$work/imp"
ssh-keygen -q -t ed25519 -N '' -C me@laptop -f "$work/imp-ed"
kiln_as "$ACCT_A" import-key-pair --key-name laptop --public-key-material "$(cat "$work/imp.pub")"
tap_is "$RC" 0 "import-key-pair of an OpenSSH RSA line"
tap_is "$(json 'list(d.keys())')" "['KeyFingerprint', 'KeyName', 'KeyPairId']" \
        "ImportKeyPair members in the aws CLI 2.9.19 order"
tap_is "$(json 'd["KeyFingerprint"]')" "$(md5_der "$work/imp")" \
        "an imported RSA key's fingerprint is MD5 of the DER public key (openssl rsa -pubout | md5 -c)"
tap_like "$(json 'd["KeyPairId"]')" '^key-[0-9a-f]{17}$' "with a key pair ID"
kiln_as "$ACCT_A" describe-key-pairs --key-names laptop --include-public-key
tap_is "$(json 'd["KeyPairs"][0]["KeyType"]')" rsa "its type is rsa"
tap_is "$(json 'd["KeyPairs"][0]["PublicKey"]')" "$(cut -d' ' -f1,2 "$work/imp.pub") laptop" \
        "its public key is kept, named after the key pair"
kiln_as "$ACCT_A" import-key-pair --key-name laptop-ed --public-key-material "fileb://$work/imp-ed.pub"
tap_is "$RC" 0 "import-key-pair of an ED25519 key from fileb://"
tap_is "$(json 'd["KeyFingerprint"]')" "$(sha256_padded "$work/imp-ed.pub")" \
        "an imported ED25519 key's fingerprint is its padded base64 SHA-256"
ssh-keygen -e -f "$work/imp.pub" >"$work/imp.rfc"
kiln_as "$ACCT_A" import-key-pair --key-name laptop-rfc --public-key-material "file://$work/imp.rfc"
tap_is "$RC" 0 "import-key-pair of an RFC 4716 RSA key"
tap_is "$(json 'd["KeyFingerprint"]')" "$(md5_der "$work/imp")" "the same key, the same fingerprint"
kiln_as "$ACCT_A" import-key-pair --key-name laptop-b64 --public-key-material "$(base64 -w0 "$work/imp.pub")"
tap_is "$RC" 0 "import-key-pair of the base64 blob the aws CLI sends"
tap_is "$(json 'd["KeyFingerprint"]')" "$(md5_der "$work/imp")" "the same key, the same fingerprint"

before=$(count "$ACCT_A")
printf 'not a key\n' >"$work/garbage.pub"
bad 3 'InvalidKeyPair\.Format' "garbage" import-key-pair --key-name junk --public-key-material "fileb://$work/garbage.pub"
tap_like "$ERR" "Key is not in valid OpenSSH public key format$" "EC2's wording"
bad 3 'InvalidKeyPair\.Format' "garbage given inline" import-key-pair --key-name junk --public-key-material 'ssh-rsa AAAAnotakey'
bad 3 'InvalidKeyPair\.Format' "a private key" import-key-pair --key-name junk --public-key-material "fileb://$work/imp"
if ssh-keygen -q -t dsa -N '' -f "$work/dsa" 2>/dev/null; then
        bad 3 'InvalidKeyPair\.Format' "a DSA key" import-key-pair --key-name junk --public-key-material "fileb://$work/dsa.pub"
        tap_like "$ERR" "DSA keys are not supported" "DSA is named"
fi
ssh-keygen -q -t rsa -b 1536 -N '' -f "$work/r1536"
bad 3 'InvalidKeyPair\.Format' "a 1536-bit RSA key" import-key-pair --key-name junk --public-key-material "fileb://$work/r1536.pub"
bad 5 'InvalidKeyPair\.Duplicate' "an imported name in use" import-key-pair --key-name demo --public-key-material "fileb://$work/imp.pub"
bad 3 'InvalidParameterValue' "an imported key with an empty name" import-key-pair --key-name '' --public-key-material "fileb://$work/imp.pub"
bad 10 'IOError' "a missing fileb:// file" import-key-pair --key-name junk --public-key-material "fileb://$work/none.pub"
kiln_as "$ACCT_A" import-key-pair --key-name junk
tap_is "$RC" 2 "import-key-pair without --public-key-material is a usage error"
tap_is "$(count "$ACCT_A")" "$before" "no refused import registered a key pair"

# ---- accounts and regions ----
tap_is "$(count "$ACCT_B")" 0 "another account sees none of them"
kiln_as "$ACCT_B" describe-key-pairs --key-names demo
tap_is "$RC" 4 "another account's key name is not found (exit 4)"
tap_like "$ERR" "^kiln: InvalidKeyPair\.NotFound: The key pair 'demo' does not exist" "InvalidKeyPair.NotFound"
kiln_as "$ACCT_B" describe-key-pairs --key-pair-ids "$RSA_ID"
tap_is "$RC" 4 "nor its key pair ID"
kiln_as "$ACCT_B" create-key-pair --key-name demo --key-type ed25519
tap_is "$RC" 0 "another account may use the same name"
kiln_as "$ACCT_B" delete-key-pair --key-name laptop
tap_is "$RC" 0 "another account deleting the name succeeds (nothing of its own to delete)"
tap_is "$(names --key-names laptop)" "laptop" "and the owner's key pair stays"
tap_is "$(count "$ACCT_A" --region west)" 0 "another region has none of them"
kiln_as "$ACCT_A" --region west create-key-pair --key-name demo --key-type ed25519
tap_is "$RC" 0 "the same name in another region"

# ---- delete-key-pair ----
before=$(count "$ACCT_A")
kiln_as "$ACCT_A" delete-key-pair --key-name laptop
tap_is "$RC:$OUT" "0:" "delete-key-pair by name succeeds and prints nothing"
tap_is "$(count "$ACCT_A")" "$((before - 1))" "one key pair fewer"
kiln_as "$ACCT_A" describe-key-pairs --key-names laptop
tap_is "$RC" 4 "the deleted key pair is not found"
kiln_as "$ACCT_A" delete-key-pair --key-name laptop
tap_is "$RC:$OUT" "0:" "deleting it again succeeds, as EC2's DeleteKeyPair"
kiln_as "$ACCT_A" delete-key-pair --key-pair-id "$ED_ID"
tap_is "$RC:$OUT" "0:" "delete-key-pair by ID"
tap_is "$(names --filters Name=key-pair-id,Values="$ED_ID")" "" "it is gone"
kiln_as "$ACCT_A" delete-key-pair --key-pair-id key-0123456789abcdef0
tap_is "$RC" 0 "deleting an unknown ID succeeds"
before=$(count "$ACCT_A")
bad 3 'InvalidParameterValue' "a malformed ID" delete-key-pair --key-pair-id nope
bad 3 'InvalidParameterValue' "an empty name" delete-key-pair --key-name ''
bad 3 'InvalidParameterCombination' "a name and an ID" delete-key-pair --key-name demo --key-pair-id "$RSA_ID"
kiln_as "$ACCT_A" delete-key-pair
tap_is "$RC" 2 "delete-key-pair without a key pair is a usage error"
tap_is "$(count "$ACCT_A")" "$before" "no refused delete removed a key pair"
tap_is "$(stat -c %a "$work/filed.pem")" 600 "private key files are the caller's: never deleted"

kiln_as "$ACCT_A" delete-key-pair --key-name filed
tap_is "$([ -f "$work/filed.pem" ] && echo kept)" kept "deleting a key pair leaves its key file"

# ---- tags on key pairs: --tag-specifications, create-tags, describe-tags, delete-tags ----
ssh-keygen -q -t ed25519 -N '' -C tagged -f "$work/tagged" </dev/null
kiln_as "$ACCT_A" import-key-pair --key-name tagged --public-key-material "$(cat "$work/tagged.pub")" \
        --tag-specifications 'ResourceType=key-pair,Tags=[{Key=team,Value=web},{Key=stage,Value=}]'
tap_is "$RC" 0 "import-key-pair with --tag-specifications in shorthand"
tap_is "$(json '[(t["Key"], t["Value"]) for t in d["Tags"]]')" "[('stage', ''), ('team', 'web')]" \
        "the result carries the tags, by key"
tap_is "$(json 'list(d.keys())')" "['KeyFingerprint', 'KeyName', 'KeyPairId', 'Tags']" \
        "ImportKeyPair's members in the aws CLI order"
TAGGED=$(json 'd["KeyPairId"]')
kiln_as "$ACCT_A" create-key-pair --key-name tagged2 --key-type ed25519 \
        --tag-specifications '[{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "db"}]}]'
tap_is "$RC" 0 "create-key-pair with --tag-specifications in JSON"
tap_is "$(json 'd["Tags"]')" "[{'Key': 'team', 'Value': 'db'}]" "and shows them"
TAGGED2=$(json 'd["KeyPairId"]')
kiln_as "$ACCT_A" create-key-pair --key-name tagged3 --tag-specifications 'ResourceType=instance,Tags=[{Key=a,Value=b}]'
tap_is "$RC" 3 "a key pair refuses TagSpecifications for an instance: exit 3"
tap_like "$ERR" "'instance' is not a valid taggable resource type for this operation" "saying so"
kiln_as "$ACCT_A" describe-key-pairs --key-names tagged3
tap_is "$RC" 4 "and registers nothing"
kiln_as "$ACCT_A" create-key-pair --key-name tagged3 --tag-specifications 'ResourceType=key-pair,Tags=[{Key=a'
tap_is "$RC" 3 "bad shorthand: exit 3"
tap_like "$ERR" "tag-specifications" "naming the option"

kiln_as "$ACCT_A" create-tags --resources "$TAGGED" "$TAGGED2" --tags Key=owner,Value=ops '{"Key": "cost", "Value": "7"}'
tap_is "$RC" 0 "create-tags with a shorthand and a JSON tag"
tap_is "$OUT" "" "prints nothing"
kiln_as "$ACCT_A" describe-tags --filters Name=resource-id,Values="$TAGGED"
tap_is "$(json '[(t["Key"], t["Value"]) for t in d["Tags"]]')" \
        "[('cost', '7'), ('owner', 'ops'), ('stage', ''), ('team', 'web')]" "describe-tags lists them by key"
tap_is "$(json 'list(d["Tags"][0].keys())')" "['Key', 'ResourceId', 'ResourceType', 'Value']" \
        "TagDescription's members in the aws CLI order"
tap_is "$(json 'd["Tags"][0]["ResourceType"]')" "key-pair" "with the resource type"
kiln_as "$ACCT_A" describe-key-pairs --filters Name=tag:team,Values=w*
tap_is "$(json '[k["KeyName"] for k in d["KeyPairs"]]')" "['tagged']" "describe-key-pairs with tag:team=w*"
kiln_as "$ACCT_A" describe-key-pairs --filters Name=tag-value,Values=db
tap_is "$(json '[k["KeyName"] for k in d["KeyPairs"]]')" "['tagged2']" "and with tag-value"
kiln_as "$ACCT_B" describe-tags
tap_is "$(json 'len(d["Tags"])')" "0" "another account sees no tags"
kiln_as "$ACCT_B" create-tags --resources "$TAGGED" --tags Key=x,Value=y
tap_is "$RC" 4 "nor can it tag the key pair: exit 4"
tap_like "$ERR" "InvalidKeyPair.NotFound" "InvalidKeyPair.NotFound"
kiln_as "$ACCT_A" create-tags --resources "$TAGGED" --tags Key=aws:x,Value=y
tap_is "$RC" 3 "an aws: key: exit 3"
kiln_as "$ACCT_A" create-tags --resources "$TAGGED" i-0123456789abcdef0 --tags Key=late,Value=y
tap_is "$RC" 4 "an unknown instance among the resources: exit 4"
kiln_as "$ACCT_A" describe-tags --filters Name=key,Values=late
tap_is "$(json 'len(d["Tags"])')" "0" "and no resource was tagged"
kiln_as "$ACCT_A" create-tags --resources "$TAGGED" --tags Key=novalue
tap_is "$RC" 3 "create-tags needs a Value: exit 3"
kiln_as "$ACCT_A" create-tags --resources "$TAGGED"
tap_is "$RC" 2 "create-tags without --tags: usage, exit 2"

kiln_as "$ACCT_A" delete-tags --resources "$TAGGED" --tags Key=owner,Value=nope Key=cost
tap_is "$RC" 0 "delete-tags"
kiln_as "$ACCT_A" describe-tags --filters Name=resource-id,Values="$TAGGED"
tap_is "$(json '[t["Key"] for t in d["Tags"]]')" "['owner', 'stage', 'team']" \
        "removes a key given alone, keeps one whose value differs"
kiln_as "$ACCT_A" delete-tags --resources "$TAGGED2"
kiln_as "$ACCT_A" describe-tags --filters Name=resource-id,Values="$TAGGED2"
tap_is "$(json 'len(d["Tags"])')" "0" "delete-tags without --tags removes every tag"
kiln_as "$ACCT_A" delete-key-pair --key-name tagged
kiln_as "$ACCT_A" describe-tags --filters Name=resource-id,Values="$TAGGED"
tap_is "$(json 'len(d["Tags"])')" "0" "a deleted key pair's tags are gone"

# ---- --dry-run, as the aws CLI's: checked, nothing changed ----
kiln_as "$ACCT_A" create-key-pair --key-name dry --output-file "$work/dry.pem" --dry-run
tap_is "$RC" 7 "create-key-pair --dry-run: exit 7"
tap_like "$ERR" "^kiln: DryRunOperation: Request would have succeeded" "with DryRunOperation"
tap_ok "$([ ! -e "$work/dry.pem" ]; echo $?)" "and no private key file"
kiln_as "$ACCT_A" describe-key-pairs --filters Name=key-name,Values=dry
tap_is "$(json 'len(d["KeyPairs"])')" "0" "and no key pair"
kiln_as "$ACCT_A" create-key-pair --key-name kept
kiln_as "$ACCT_A" delete-key-pair --key-name kept --dry-run
tap_is "$RC" 7 "delete-key-pair --dry-run: exit 7"
kiln_as "$ACCT_A" describe-key-pairs --filters Name=key-name,Values=kept
tap_is "$(json 'len(d["KeyPairs"])')" "1" "and the key pair is still there"
kiln_as "$ACCT_A" create-key-pair --key-name kept --dry-run
tap_like "$ERR" "InvalidKeyPair.Duplicate" "a dry run that would fail fails as the request would"
kiln_as "$ACCT_A" delete-key-pair --key-name kept
kiln_as "$ACCT_A" describe-key-pairs --dry-run
tap_is "$RC" 7 "describe-key-pairs --dry-run: DryRunOperation, exit 7"
kiln_as "$ACCT_A" configure --instance-id i-0123456789abcdef0 --run true --dry-run
tap_is "$RC" 2 "a verb that cannot dry-run refuses --dry-run: exit 2"
tap_like "$ERR" "'configure' takes no --dry-run" "and says so"

# ---- nothing left behind ----
tap_is "$(ls -A "$TMPDIR")" "" "no private key directory is left in TMPDIR"
for f in "$work"/demo.pem "$work"/ed.pem "$work"/filed.pem; do
        needle=$(sed -n 3p "$f")
        if grep -rqaF -- "$needle" "$KILN_HOME"; then
                tap_ok 1 "$(basename "$f")'s private key found in the kiln home"
        fi
done
tap_ok 0 "no private key in the kiln home at the end"

tap_done
