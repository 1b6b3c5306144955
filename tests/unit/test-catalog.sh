#!/bin/bash
# templates/catalog.json: every entry has what import-image --catalog needs, names are unique,
# addresses are https, checksums are sha256 or sha512, owners are amazon or aws-marketplace.
set -u
. "$KILN_TOP/tests/harness/tap.sh"

out=$(python3 - "$KILN_TOP/templates/catalog.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
imgs = d["Images"]
bad = []
names = [i.get("Name") for i in imgs]
if len(set(names)) != len(names):
    bad.append("duplicate names")
for i in imgs:
    for k in ("Name", "Url", "ChecksumUrl", "ChecksumType", "Platform", "DefaultUser", "OwnerAlias", "Distribution", "Version"):
        if not isinstance(i.get(k), str) or not i[k]:
            bad.append("%s: %s missing" % (i.get("Name"), k))
    if not i.get("Url", "").startswith("https://") or not i.get("ChecksumUrl", "").startswith("https://"):
        bad.append("%s: not https" % i.get("Name"))
    if i.get("ChecksumType") not in ("sha256", "sha512"):
        bad.append("%s: checksum type" % i.get("Name"))
    if i.get("OwnerAlias") not in ("amazon", "aws-marketplace"):
        bad.append("%s: owner alias" % i.get("Name"))
    if not isinstance(i.get("HourlyPrice"), (int, float)) or i["HourlyPrice"] < 0:
        bad.append("%s: price" % i.get("Name"))
dists = sorted(set((i["Distribution"], i["Version"]) for i in imgs))
print("bad:" + ";".join(bad))
print(" ".join("%s-%s" % x for x in dists))
print(len([i for i in imgs if i["OwnerAlias"] == "aws-marketplace" and i["HourlyPrice"] > 0]))
PY
)
tap_is "$(echo "$out" | sed -n 1p)" "bad:" "every catalog entry is complete and well-formed"
tap_is "$(echo "$out" | sed -n 2p)" "almalinux-9 centos-9 debian-12 debian-13 fedora-41 rocky-9 ubuntu-22.04 ubuntu-24.04" "the distributions the catalog must list"
tap_is "$(echo "$out" | sed -n 3p)" 1 "and a priced marketplace entry"
"$KILN_BIN" import-image --help | grep -q -- "--catalog NAME"
tap_is "$?" 0 "import-image documents --catalog"
tap_done
