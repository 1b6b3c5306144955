# Sourced by tests that use the registry: a throw-away kiln home with two regions (pools on the
# real libvirt daemon), three accounts and an organization, removed with its pools on exit.
#   home_setup          KILN_HOME, ACCT_A (default), ACCT_B, ACCT_C (in ORG_ID with A), trap
#   kiln_as ACCT ARGS   run kiln as an account
#   kiln_rc ARGS        run kiln; sets OUT, ERR and RC
#   home_cleanup        destroy and undefine the pools, remove the home

HOME_URI=${KILN_TEST_URI:-qemu:///system}
ACCT_A=111111111111
ACCT_B=222222222222
ACCT_C=333333333333
ORG_ID=o-kilntest0001
ORG_ARN="arn:aws:organizations::$ACCT_A:organization/$ORG_ID"

home_cleanup() {
        local p
        if [ -n "${KILN_HOME:-}" ] && [ -f "$KILN_HOME/config.json" ]; then
                for p in $(python3 -c 'import json,sys; print(" ".join(r["Pool"] for r in json.load(open(sys.argv[1]))["Regions"]))' "$KILN_HOME/config.json"); do
                        virsh -q -c "$HOME_URI" pool-destroy "$p" >/dev/null 2>&1 || true
                        virsh -q -c "$HOME_URI" pool-undefine "$p" >/dev/null 2>&1 || true
                done
        fi
        if [ -n "${KILN_HOME:-}" ]; then rm -rf "$KILN_HOME"; fi
}

home_setup() {
        local tag
        KILN_HOME=$(mktemp -d /var/tmp/kiln-home.XXXXXX)
        chmod 0755 "$KILN_HOME"
        export KILN_HOME
        tag=$(basename "$KILN_HOME" | tr -cd 'a-zA-Z0-9')
        cat >"$KILN_HOME/config.json" <<JSON
{
  "Version": 1,
  "DefaultRegion": "local",
  "DefaultAccount": "$ACCT_A",
  "StoragePrice": {"PerGiBMonth": 0.05, "Currency": "USD"},
  "Regions": [
    {"Name": "local", "Uri": "$HOME_URI", "Pool": "kiln-t-$tag-local", "PoolPath": "$KILN_HOME/pools/local"},
    {"Name": "west", "Uri": "$HOME_URI", "Pool": "kiln-t-$tag-west", "PoolPath": "$KILN_HOME/pools/west"}
  ],
  "Accounts": [
    {"AccountId": "$ACCT_A", "Alias": "alice"},
    {"AccountId": "$ACCT_B", "Alias": "bob"},
    {"AccountId": "$ACCT_C", "Alias": "carol"}
  ],
  "Organizations": [
    {"Id": "$ORG_ID", "MasterAccount": "$ACCT_A", "Accounts": ["$ACCT_C"]}
  ]
}
JSON
        trap 'home_cleanup' EXIT
        trap 'home_cleanup; exit 143' TERM
        trap 'home_cleanup; exit 130' INT
}

# home_setup for tests that launch instances: on exit (also on failure or a signal) every
# instance of the home is terminated before the home goes.
home_cleanup_instances() {
        local ids
        ids=$("$KILN_BIN" describe-instances 2>/dev/null | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print(" ".join(i["InstanceId"] for r in d["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated"))
except Exception:
    pass')
        if [ -n "$ids" ]; then
                # shellcheck disable=SC2086
                "$KILN_BIN" terminate-instances --instance-ids $ids >/dev/null 2>&1 || true
        fi
        home_cleanup
}

home_setup_instances() {
        home_setup
        trap 'home_cleanup_instances' EXIT
        trap 'home_cleanup_instances; exit 143' TERM
        trap 'home_cleanup_instances; exit 130' INT
}

kiln_rc() {
        local e
        e=$(mktemp)
        OUT=$("$KILN_BIN" --no-progress "$@" 2>"$e")
        RC=$?
        ERR=$(cat "$e")
        rm -f "$e"
}

kiln_as() {
        local acct=$1; shift
        kiln_rc --account "$acct" "$@"
}

# json EXPR: evaluates a Python expression on $OUT parsed as d.
json() {
        printf '%s' "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

pool_path() { echo "$KILN_HOME/pools/$1"; }

# on ID COMMAND: runs COMMAND on the instance with the ssh command describe-instances prints
# (the system's OpenSSH, strict host key checking, kiln's known_hosts for it), with HOME at
# $work/home (the caller's; made 0700) so that nothing of the user's own ssh set-up is used.
sshcmd() {
        kiln_rc describe-instances --instance-ids "$1"
        json 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]'
}
on() {
        local id=$1
        shift
        HOME=$work/home timeout 120 $(sshcmd "$id") -o BatchMode=yes "$@" 2>&1
}
