#!/bin/sh
# The seed's cowsay MOTD: a login message shown through cowsay (plain where the image lacks it).
# Run by Packer's shell provisioner as the login user, with MOTD_MESSAGE in the environment.
set -eu
: "${MOTD_MESSAGE:?MOTD_MESSAGE is not set}"
tmp=$(mktemp)
msg=$(mktemp)
trap 'rm -f "$tmp" "$msg"' EXIT
printf '%s\n' "$MOTD_MESSAGE" >"$msg"
cat >"$tmp" <<'SCRIPT'
#!/bin/sh
if [ -x /usr/games/cowsay ]; then
        /usr/games/cowsay -n </etc/kiln-motd
else
        cat /etc/kiln-motd
fi
SCRIPT
sudo -n install -m 0644 "$msg" /etc/kiln-motd
sudo -n install -D -m 0755 "$tmp" /etc/update-motd.d/40-kiln-motd
