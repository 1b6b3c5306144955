#!/bin/bash
# The access key verbs in a throw-away kiln home (no libvirt needed): create-access-key prints
# the secret once and for the account asked, describe-access-keys never shows it, the limit
# of two keys per account, keys of an unconfigured account refused, delete and a second
# delete, and the secret found in no file of the home but the registry, which only kiln's
# user can read.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh" # kiln_rc, kiln_as, json, ACCT_A, ACCT_B

top=$(mktemp -d /tmp/kiln-access.XXXXXX)
trap 'rm -rf "$top"' EXIT
export KILN_HOME=$top/home
mkdir -p "$KILN_HOME"
cat >"$KILN_HOME/config.json" <<JSON
{
  "Version": 1,
  "DefaultRegion": "local",
  "DefaultAccount": "$ACCT_A",
  "Regions": [{"Name": "local", "Uri": "test:///default", "Pool": "kiln-t-ak-local", "PoolPath": "$KILN_HOME/pools/local"}],
  "Accounts": [{"AccountId": "$ACCT_A"}, {"AccountId": "$ACCT_B"}]
}
JSON

kiln_as "$ACCT_B" create-access-key
tap_is "$RC" 0 "create-access-key"
tap_is "$(json 'list(d["AccessKey"].keys())')" "['AccountId', 'AccessKeyId', 'Status', 'SecretAccessKey', 'CreateDate']" \
        "the AccessKey members"
tap_is "$(json 'd["AccessKey"]["AccountId"] + " " + d["AccessKey"]["Status"]')" "$ACCT_B Active" "for --account, active"
KEY=$(json 'd["AccessKey"]["AccessKeyId"]')
SECRET=$(json 'd["AccessKey"]["SecretAccessKey"]')
tap_like "$KEY" '^AKIA[A-Z2-7]{16}$' "an IAM-style key ID"
tap_like "$SECRET" '^[A-Za-z0-9+/]{40}$' "a 40-character secret"
kiln_as "$ACCT_B" create-access-key
kiln_as "$ACCT_B" create-access-key
tap_is "$RC" 8 "a third key for the account: exit 8"
tap_like "$ERR" "^kiln: LimitExceeded: " "LimitExceeded"
kiln_as "$ACCT_A" describe-access-keys
tap_is "$(json 'len(d["AccessKeyMetadata"])')" 0 "another account's keys are not listed"
kiln_as "$ACCT_A" describe-access-keys --all-accounts
tap_is "$(json '[k["AccountId"] for k in d["AccessKeyMetadata"]]')" "['$ACCT_B', '$ACCT_B']" "--all-accounts lists them"
tap_is "$(json '[k.get("SecretAccessKey") for k in d["AccessKeyMetadata"]]')" "[None, None]" "without secrets"
kiln_rc --account 999999999999 create-access-key
tap_ok $([ "$RC" != 0 ]; echo $?) "an unconfigured account gets no key"
hits=$(grep -rlF "$SECRET" "$KILN_HOME" 2>/dev/null | sed "s|^$KILN_HOME/||" | sort -u | tr '\n' ' ')
tap_like "$hits" '^registry\.db[a-z-]* ?$' "the secret is in the registry only ($hits)"
tap_is "$(stat -c %a "$KILN_HOME/registry.db")" 600 "which only kiln's user can read"
kiln_as "$ACCT_A" delete-access-key --access-key-id "$KEY"
tap_is "$RC" 4 "another account cannot delete the key: exit 4"
kiln_as "$ACCT_B" delete-access-key --access-key-id "$KEY"
tap_is "$RC" 0 "delete-access-key"
kiln_as "$ACCT_B" delete-access-key --access-key-id "$KEY"
tap_is "$RC" 4 "deleting it again: exit 4"
tap_like "$ERR" "^kiln: NoSuchEntity: " "NoSuchEntity"
kiln_as "$ACCT_B" delete-access-key
tap_is "$RC" 2 "delete-access-key without --access-key-id: a usage error"
tap_done
