#!/bin/bash
# A kiln home without a daemon: its modes (searchable by QEMU's user, never listable, its
# files kiln's user's alone), the tightening of a home an older kiln made open, and input that
# is refused before anything is stored or run: a login user that is not a user name, a MOTD
# script run-parts would skip.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh" # kiln_rc, json, ACCT_A (no pools used)

top=$(mktemp -d /tmp/kiln-home.XXXXXX)
trap 'rm -rf "$top"' EXIT
trap 'rm -rf "$top"; exit 143' TERM
trap 'rm -rf "$top"; exit 130' INT
export KILN_HOME=$top/home
mode() { stat -c %a "$1"; }

# ---- a new home ----
kiln_rc describe-key-pairs
tap_is "$RC" 0 "a first command makes the home"
tap_is "$(mode "$KILN_HOME")" 711 "the home: others may pass through to the pools, not list it"
tap_is "$(mode "$KILN_HOME/pools")" 711 "its pools directory likewise"
tap_is "$(mode "$KILN_HOME/registry.db")" 600 "the registry is kiln's user's alone"
tap_is "$(mode "$KILN_HOME/config.json")" 600 "and so is the configuration"
wal=$(find "$KILN_HOME" -name 'registry.db-*' -printf '%m ' | sort -u)
tap_ok $([ -z "$wal" ] || [ "$wal" = "600 " ]; echo $?) "and the registry's journal files (${wal:-none})"
if command -v setpriv >/dev/null; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$KILN_HOME/registry.db" \
                "$KILN_HOME/config.json" >/dev/null 2>&1
        tap_ok $([ $? != 0 ]; echo $?) "nobody can read them"
fi

# ---- a home an older kiln left open ----
chmod 0755 "$KILN_HOME" "$KILN_HOME/pools"
chmod 0644 "$KILN_HOME/registry.db" "$KILN_HOME/config.json"
mkdir -p "$KILN_HOME/pools/local"
chmod 0755 "$KILN_HOME/pools/local"
kiln_rc describe-key-pairs
tap_is "$(mode "$KILN_HOME") $(mode "$KILN_HOME/pools") $(mode "$KILN_HOME/pools/local")" \
        "711 711 711" "opening it takes read access from others on its directories"
tap_is "$(mode "$KILN_HOME/registry.db") $(mode "$KILN_HOME/config.json")" "600 600" \
        "and on its registry and configuration"

# ---- refused before anything is stored ----
printf 'not a disk' >"$top/disk.raw"
for user in 'root; rm -rf /' '-oProxyCommand=x' "$(printf 'a\nb')" "$(printf 'x%.0s' {1..33})"; do
        kiln_rc register-image --name web --disk "$top/disk.raw" --default-user "$user"
        tap_is "$RC" 3 "--default-user '$(printf '%q' "$user")' is refused (exit 3)"
        tap_like "$ERR" "InvalidParameterValue: Invalid value .* for the default user" \
                "as InvalidParameterValue, naming the field"
done
kiln_rc describe-images --owners self
tap_is "$(json 'len(d["Images"])')" 0 "nothing was registered"

mkdir -p "$top/motd"
printf '#!/bin/sh\necho hi\n' >"$top/motd/motd.sh"
kiln_rc configure --instance-id i-0123456789abcdef0 --motd-script "$top/motd/motd.sh"
tap_is "$RC" 3 "a MOTD script that run-parts would skip (motd.sh) is refused (exit 3)"
tap_like "$ERR" "run-parts would skip it" "saying why"
cp "$top/motd/motd.sh" "$top/motd/50-hello"
kiln_rc configure --instance-id i-0123456789abcdef0 --motd-script "$top/motd/50-hello"
tap_is "$RC" 4 "a good name goes on (to an instance that does not exist: exit 4)"

tap_done
