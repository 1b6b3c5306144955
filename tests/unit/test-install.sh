#!/bin/bash
# make install and make uninstall, staged under a scratch DESTDIR with PREFIX=/usr: the
# installed kiln runs from any directory and reads the data installed beside it, while the
# tree's kiln keeps reading the tree; KILN_DATA_DIR, KILN_TEMPLATES and KILN_CATALOG show in
# --version. kiln(1) renders without a warning, documents every verb, and lists the exit
# statuses of README.md's table. The bash completion completes verbs, options and their fixed
# values from the same table, for every verb. Needs no root, no daemon: regions are on
# libvirt's test driver.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
k=$KILN_BIN
top=$(cd "$KILN_TOP" && pwd -P)

work=$(mktemp -d /tmp/kiln-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'rm -rf "$work"; exit 143' TERM
trap 'rm -rf "$work"; exit 130' INT
D=$work/dest
ik=$D/usr/bin/kiln

# The Makefile's own targets, on the kiln under test (INSTALL_BIN): they build nothing, and
# the flags of a surrounding `make unit` (its CONFIG, its jobserver) are not passed on.
make_install() {
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$KILN_TOP" --no-print-directory "$@" \
                DESTDIR="$D" PREFIX=/usr INSTALL_BIN="$k" 2>&1
}

# ---- make install ----
out=$(make_install install); rc=$?
tap_is "$rc" 0 "make install DESTDIR=... PREFIX=/usr succeeds"
[ "$rc" = 0 ] || tap_diag "$out"
tap_ok $([ -x "$ik" ]; echo $?) "the binary is PREFIX/bin/kiln"
tap_ok $(cmp -s "$k" "$ik"; echo $?) "and is the binary under test, not another build"
missing=
for f in $(cd "$top" && find templates cloud-init -type f ! -name README.md | sort); do
        cmp -s "$top/$f" "$D/usr/share/kiln/$f" || missing+=" $f"
done
tap_is "${missing:-none}" none "every data file of templates/ and cloud-init/ is in PREFIX/share/kiln"
tap_is "$(stat -c %a "$D/usr/share/kiln/cloud-init/motd/40-cow")" 755 "MOTD scripts stay executable"
tap_is "$(stat -c %a "$D/usr/share/kiln/templates/catalog.json")" 644 "data files are readable by all"
tap_ok $([ -f "$D/usr/share/man/man1/kiln.1" ]; echo $?) "the man page is PREFIX/share/man/man1/kiln.1"
comp=$D/usr/share/bash-completion/completions/kiln
tap_ok $([ -f "$comp" ]; echo $?) "the completion is PREFIX/share/bash-completion/completions/kiln"
tap_ok $([ -f "$D/usr/share/doc/kiln/examples/pipelines/web-server.json" ]; echo $?) \
        "the pipeline examples are in PREFIX/share/doc/kiln"

# ---- where the data comes from ----
out=$(cd / && "$ik" help); rc=$?
tap_is "$rc" 0 "the installed kiln's help works from /"
tap_like "$out" 'describe-images' "and lists the verbs"
ver=$(cd / && "$ik" --version)
tap_like "$(head -n 1 <<<"$ver")" '^kiln [0-9]+\.[0-9]+\.[0-9]+$' "--version's first line is still 'kiln X.Y.Z'"
tap_is "$(sed -n 2p <<<"$ver")" "data: $D/usr/share/kiln (installed)" \
        "the installed kiln reads the data beside it, DESTDIR or not"
tap_is "$("$k" --version | sed -n 2p)" "data: $top (source tree)" "the tree's kiln reads the tree"
tap_is "$(KILN_DATA_DIR=/srv/kiln-data "$ik" --version | sed -n 2p)" \
        "data: /srv/kiln-data (KILN_DATA_DIR)" "KILN_DATA_DIR overrides both"
ver=$(KILN_TEMPLATES=/srv/t KILN_CATALOG=/srv/c.json "$ik" --version)
tap_like "$ver" $'\ntemplates: /srv/t \\(KILN_TEMPLATES\\)\ncatalog: /srv/c.json \\(KILN_CATALOG\\)$' \
        "--version names KILN_TEMPLATES and KILN_CATALOG when they are set"
mkdir -p "$work/away/bin" "$work/away/share/kiln"
cp "$ik" "$work/away/bin/kiln"
tap_is "$("$work/away/bin/kiln" --version | sed -n 2p)" "data: $top (source tree)" \
        "a PREFIX/share/kiln without kiln's data is not used"

# The library reads the catalog where --version says: a name the catalog lacks is refused
# with the catalog's path, before anything is downloaded.
export KILN_HOME=$work/home
mkdir -p "$KILN_HOME"
cat >"$KILN_HOME/config.json" <<JSON
{
  "Version": 1,
  "DefaultRegion": "local",
  "DefaultAccount": "111111111111",
  "Regions": [
    {"Name": "local", "Uri": "test:///default", "Pool": "kiln-t-install-local", "PoolPath": "$KILN_HOME/pools/local"}
  ],
  "Accounts": [{"AccountId": "111111111111"}]
}
JSON
err=$(cd / && "$ik" import-image --catalog no-such-image 2>&1 >/dev/null)
tap_like "$err" "catalog $D/usr/share/kiln/templates/catalog.json has no image" \
        "the installed kiln reads its installed catalog"
err=$("$k" import-image --catalog no-such-image 2>&1 >/dev/null)
tap_like "$err" "catalog $top/templates/catalog.json has no image" "the tree's kiln the tree's"
cp "$top/templates/catalog.json" "$work/catalog.json"
err=$(KILN_CATALOG=$work/catalog.json "$ik" import-image --catalog no-such-image 2>&1 >/dev/null)
tap_like "$err" "catalog $work/catalog.json has no image" "KILN_CATALOG names another catalog"
mkdir -p "$work/data/templates"
cp "$top/templates/catalog.json" "$work/data/templates/"
err=$(KILN_DATA_DIR=$work/data "$ik" import-image --catalog no-such-image 2>&1 >/dev/null)
tap_like "$err" "catalog $work/data/templates/catalog.json has no image" \
        "KILN_DATA_DIR moves the whole data directory"
unset KILN_HOME

# ---- the verbs, as help lists them ----
mapfile -t verbs < <("$k" help | awk '/^[a-z][a-z ]*:$/ { g = 1; next } /^$/ { g = 0 } g && /^  [a-z]/ { print $1 }')
tap_ok $([ ${#verbs[@]} -ge 30 ]; echo $?) "help lists the verbs (${#verbs[@]})"

# ---- the man page ----
page=$D/usr/share/man/man1/kiln.1
if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
        tap_ok 0 "kiln(1) # SKIP groff and man are needed (make deps installs them)"
else
        warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
        tap_is "$warn" "" "groff renders kiln(1) without a warning"
        text=$(MANPAGER=cat MANWIDTH=200 man -l "$page" 2>&1); rc=$?
        tap_is "$rc" 0 "man -l renders it"
        tap_like "$text" $'^KILN\\(1\\)' "as kiln(1)"
        missing=
        for v in "${verbs[@]}"; do
                grep -q -- "^ *kiln $v\\b" <<<"$text" || missing+=" $v"
        done
        tap_is "${missing:-none}" none "it documents every verb help lists"
        missing=
        for s in NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" VERBS "EXIT STATUS" ENVIRONMENT FILES "SEE ALSO"; do
                grep -q "^$s\$" <<<"$text" || missing+=" '$s'"
        done
        tap_is "${missing:-none}" none "it has the usual sections"
        missing=
        for o in $("$k" help run-instances | awk '/^options:/ { o = 1; next } /^$/ { o = 0 } o && /^  --/ { print $1 }'); do
                grep -q -- "^ *$o\\b" <<<"$text" || missing+=" $o"
        done
        tap_is "${missing:-none}" none "and a verb's options (run-instances)"
        missing=
        for e in KILN_HOME KILN_DATA_DIR KILN_TEMPLATES KILN_CATALOG; do
                grep -q "^ *$e\$" <<<"$text" || missing+=" $e"
        done
        tap_is "${missing:-none}" none "the environment names kiln's variables"
        tap_like "$text" 'PREFIX/share/kiln' "FILES says where the data is"

        # README.md's exit-status table is the page's, row for row (the page prints the table that
        # maps errors to statuses, orchestrator/cli/output.c).
        readme=$(sed -n '/^### Exit status/,/^Errors are printed/p' "$top/README.md" |
                sed -n 's/^| \([0-9][0-9]*\) | \(.*\) |$/\1 \2/p' | tr -d '`')
        page_rows=$(sed -n '/^EXIT STATUS$/,/^ENVIRONMENT$/p' <<<"$text" |
                sed -n 's/^ \{7\}\([0-9][0-9]*\) \{1,\}\(.*\)$/\1 \2/p')
        tap_is "$page_rows" "$readme" "README.md's exit statuses are the man page's"
fi

# ---- the bash completion ----
# complete_words WORD...: what the completion offers for the last word, as bash asks for it;
# with -n VERB..., what it offers after "kiln VERB --" for each verb, as "VERB OPTION" lines.
complete_words() {
        bash -c '
                set -u
                . "$1"; shift
                fn=$(complete -p kiln | sed -n "s/.*-F \([^ ]*\).*/\1/p")
                ask() {
                        COMP_WORDS=("$@")
                        COMP_CWORD=$(($# - 1))
                        COMP_LINE="$*"
                        COMP_POINT=${#COMP_LINE}
                        prev=
                        [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
                        "$fn" kiln "${COMP_WORDS[COMP_CWORD]}" "$prev"
                }
                if [ "$1" = -n ]; then
                        shift
                        for v in "$@"; do
                                ask kiln "$v" --
                                printf "$v %s\n" "${COMPREPLY[@]}"
                        done
                else
                        ask "$@"
                        printf "%s\n" "${COMPREPLY[@]}"
                fi | sort -u
        ' complete "$comp" "$@"
}
words() {
        bash -c '
                set -u
                . "$1"; shift
                fn=$(complete -p kiln | sed -n "s/.*-F \([^ ]*\).*/\1/p")
                COMP_WORDS=("$@")
                COMP_CWORD=$(($# - 1))
                COMP_LINE="$*"
                COMP_POINT=${#COMP_LINE}
                prev=
                [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
                "$fn" kiln "${COMP_WORDS[COMP_CWORD]}" "$prev"
                printf "%s\n" "${COMPREPLY[@]}" | sort
        ' complete "$comp" "$@"
}
words() { printf '%s\n' "$@" | sort; }

tap_is "$(bash -c '. "$1"; complete -p kiln' _ "$comp")" "complete -F _kiln kiln" \
        "sourcing the completion registers it for kiln"
want=$(words "${verbs[@]}" | grep '^describe-')
tap_is "$(complete_words kiln desc)" "$want" "kiln desc<TAB> completes the describe- verbs"
tap_is "$(complete_words kiln run-instances --im)" "--image-id" \
        "kiln run-instances --im<TAB> completes --image-id"
tap_is "$(complete_words kiln --output '')" "$(words json table text)" "--output <TAB>: its values"
tap_is "$(complete_words kiln --output = t)" "$(words table text)" "and in the --output=VALUE form"
tap_is "$(complete_words kiln --region west describe-images --exec)" "--executable-users" \
        "a global option's value before the verb is not taken for the verb"
tap_is "$(complete_words kiln --no-p)" "--no-progress" "global options before the verb"
tap_like "$(complete_words kiln --ver)" '^--verbose.--version$' "and --version"
tap_is "$(complete_words kiln doctor --accel '')" "$(words auto kvm tcg)" "a verb's fixed values"
tap_is "$(complete_words kiln wait instance-r)" "$(words instance-ready instance-running)" \
        "a verb's fixed arguments (wait)"
tap_is "$(complete_words kiln help describe-s)" "$(words describe-security-groups describe-snapshot-attribute describe-snapshots describe-storage describe-subnets)" \
        "help VERB completes verbs"
tap_is "$(complete_words kiln authorize-security-group-ingress --protocol '')" "$(words all icmp tcp udp)" \
        "a rule's protocols (authorize-security-group-ingress --protocol)"
tap_is "$(complete_words kiln run-instances --image-id '')" "" "free text completes nothing"
tap_is "$(complete_words kiln '')" "$(words "${verbs[@]}")" "every verb help lists is completed"
want=$(for v in "${verbs[@]}"; do
        "$k" help "$v" | awk -v v="$v" '/^(global )?options:/ { o = 1; next } /^$/ { o = 0 } o && /^  --/ { print v, $1 }'
done | sort -u)
tap_is "$(complete_words -n "${verbs[@]}")" "$want" "every verb's options, and the global ones, are completed"

# ---- make uninstall ----
out=$(make_install uninstall); rc=$?
tap_is "$rc" 0 "make uninstall succeeds"
[ "$rc" = 0 ] || tap_diag "$out"
left=$(cd "$D" && find . -type f -o -type d -name kiln)
tap_is "${left:-none}" none "and leaves no file of kiln's, and no kiln directory"

tap_done
