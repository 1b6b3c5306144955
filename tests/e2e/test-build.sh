#!/bin/bash
# kiln build on real guests: template errors reported precisely before anything is launched;
# the cowsay MOTD and web server examples built in parallel, each tested on a fresh instance of
# its new image; the two-region example copied and shared; a template whose test fails on
# purpose leaves nothing registered and no instance behind.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup_instances
work=$KILN_HOME/test
mkdir -p "$work"
ex=$KILN_TOP/examples/pipelines

instance_count() {
        kiln_rc describe-instances
        json 'sum(1 for r in d["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated")'
}
image_count() {
        kiln_rc describe-images --owners self
        json 'len(d["Images"])'
}

kiln_rc register-image --name debian-12 --disk "$KILN_TEST_IMAGE" --default-user admin
tap_is "$RC" 0 "a base image for the pipelines"

# ---- template errors: precise, and nothing launched ----
printf '{\n  "source": {"name": "debian-12*"},\n  "image": {"name": "x",}\n}\n' >"$work/bad-json.json"
kiln_rc build "$work/bad-json.json"
tap_is "$RC" 3 "bad JSON: exit 3"
tap_like "$ERR" "bad-json.json:3:[0-9]+: " "with the file, line and column"
printf '{"source": {"name": "debian-12*"}, "image": {"nmae": "x"}}\n' >"$work/unknown.json"
kiln_rc build "$work/unknown.json"
tap_like "$ERR" 'unknown.json: \$\.image\.nmae: unknown key' "an unknown key: its JSON path"
printf '{"source": {"name": "debian-12*"}, "configure": [{"run": 42}], "image": {"name": "x-1"}}\n' >"$work/type.json"
kiln_rc build "$work/type.json"
tap_like "$ERR" '\$\.configure\[0\]\.run: expected a string' "a wrong type: its JSON path"
printf '{"image": {"name": "x-1"}}\n' >"$work/nosource.json"
kiln_rc build "$work/nosource.json"
tap_like "$ERR" '\$\.source: missing' "a missing source"
kiln_rc build "$ex/cowsay-motd.json" --var base= --on-error sometimes
tap_is "$RC" 2 "a bad --on-error is a usage error"
tap_is "$(instance_count) $(image_count)" "0 1" "none of them launched or registered anything"

# ---- two examples in parallel ----
kiln_rc build "$ex/cowsay-motd.json" "$ex/web-server.json" --parallel 2 --var base=debian-12
tap_is "$RC" 0 "the cowsay MOTD and web server examples build in parallel"
printf '%s' "$OUT" >"$work/parallel.json"
tap_is "$(json '" ".join(str(b["Success"]) for b in d["Builds"])')" "True True" "both succeed"
tap_is "$(json '" ".join(str(t["Passed"]) for b in d["Builds"] for t in b["Tests"])')" "True True True True" "with every test passed on a fresh instance"
tap_is "$(json '" ".join(s["Step"] for s in d["Builds"][1]["Steps"])')" "source launch configure bake test distribute" "the manifest times each step"
COW=$(json 'd["Builds"][0]["ImageId"]')
WEB=$(json 'd["Builds"][1]["ImageId"]')
kiln_rc describe-images --image-ids "$COW" "$WEB"
tap_is "$(json '" ".join(sorted(i["State"] for i in d["Images"]))')" "available available" "both images are available"
tap_is "$(json '" ".join(sorted(t["Value"] for i in d["Images"] for t in i.get("Tags", []) if t["Key"] == "pipeline"))')" "cowsay-motd web-server" "with the template's tags"
tap_is "$(json '" ".join(sorted(i["Name"][:10] for i in d["Images"]))')" "cowsay-mot web-server" "named from the template, {{timestamp}} filled in"
tap_is "$(instance_count)" 0 "no instance is left running"
tap_is "$(kiln_rc describe-key-pairs; json 'len(d["KeyPairs"])')" 0 "and the temporary key pairs are gone"

# ---- distribution and sharing ----
kiln_rc build "$ex/two-regions.json" --var base=debian-12 --var share_with=$ACCT_B
tap_is "$RC" 0 "the two-region example builds"
tap_is "$(json '" ".join(r["Region"] for r in d["Regions"])')" "local west" "with an image in each region"
WEST=$(json 'd["Regions"][1]["ImageId"]')
LOCAL=$(json 'd["Regions"][0]["ImageId"]')
tap_like "$(json 'd["Regions"][1]["SnapshotId"]')" '^snap-' "and their snapshot IDs"
kiln_as $ACCT_B --region west describe-images --image-ids "$WEST"
tap_is "$(json 'd["Images"][0]["ImageId"]')" "$WEST" "account B may launch the copy in west"
kiln_as $ACCT_B describe-images --image-ids "$LOCAL"
tap_is "$(json 'd["Images"][0]["ImageId"]')" "$LOCAL" "and the image in local"
kiln_as $ACCT_C --region west describe-images --image-ids "$WEST"
tap_is "$RC" 4 "an account it was not shared with may not"

# ---- a test that fails on purpose ----
before=$(image_count)
cat >"$work/failing.json" <<'JSON'
{
  "source": {"name": "debian-12"},
  "configure": [{"run": "echo configured"}],
  "image": {"name": "will-not-stay-{{timestamp}}"},
  "test": ["test -e /etc/this-file-is-not-there"]
}
JSON
kiln_rc describe-snapshots --owner-ids self
snaps_before=$(json 'len(d["Snapshots"])')
kiln_rc build "$work/failing.json"
tap_is "$RC" 6 "a failing test fails the build (exit 6)"
tap_like "$ERR" "TestFailed.*1 of 1 tests failed" "saying which"
tap_is "$(json 'd["Success"]') $(json 'd["Tests"][0]["Passed"]')" "False False" "the manifest records the failed test"
tap_is "$(image_count)" "$before" "the new image was deregistered"
kiln_rc describe-snapshots --owner-ids self
tap_is "$(json 'len(d["Snapshots"])')" "$snaps_before" "and its snapshots deleted"
tap_is "$(instance_count)" 0 "no instance is left"

# ---- --on-error abort and keep (at once), and an interrupt ----
cat >"$work/broken.json" <<'JSON'
{
  "source": {"name": "debian-12"},
  "configure": [{"run": "echo about to fail; exit 3"}],
  "image": {"name": "never-{{timestamp}}"}
}
JSON
"$KILN_BIN" --no-progress build "$work/broken.json" --on-error abort >"$work/abort.json" 2>"$work/abort.err" &
pa=$!
"$KILN_BIN" --no-progress build "$work/broken.json" --on-error keep >"$work/keep.json" 2>"$work/keep.err" &
pk=$!
wait $pa; ra=$?
wait $pk; rk=$?
tap_is "$ra $rk" "6 6" "a failing configure step fails the build in abort and keep modes (exit 6)"
OUT=$(cat "$work/abort.json")
hint=$(json 'd.get("Cleanup", "")')
tap_like "$hint" "kiln terminate-instances --instance-ids i-[0-9a-f]+;.*delete-key-pair --key-name kiln-build-" "abort says how to remove what it left"
OUT=$(cat "$work/keep.json")
KEPT=$(json 'd.get("InstanceId", "")')
kssh=$(json 'd.get("SshCommand", "")')
tap_is "$(instance_count)" 2 "both left their instance"
out=$(HOME=$work timeout 60 $kssh echo inside 2>&1 </dev/null)
tap_is "$out" inside "keep prints an ssh command that logs in to the kept instance"
# Remove what abort left with the commands it printed, and what keep left.
echo "$hint" | tr ';' '\n' | sed 's/^.*: kiln /kiln /; s/^ *//' | grep '^kiln ' |
        while read -r _ args; do "$KILN_BIN" $args >/dev/null 2>&1; done
"$KILN_BIN" terminate-instances --instance-ids "$KEPT" >/dev/null
"$KILN_BIN" describe-key-pairs | python3 -c 'import json,sys; [print(k["KeyName"]) for k in json.load(sys.stdin)["KeyPairs"]]' |
        xargs -r -n1 "$KILN_BIN" delete-key-pair --key-name >/dev/null
tap_is "$(instance_count)" 0 "the printed commands remove what abort left"

"$KILN_BIN" --no-progress build "$ex/cowsay-motd.json" --var base=debian-12 >"$work/int.json" 2>"$work/int.err" &
pi=$!
for _ in $(seq 1 100); do grep -q "waiting until it is ready" "$work/int.err" && break; sleep 0.3; done
kill -TERM $pi
wait $pi
tap_is "$?" 130 "SIGTERM during a build stops it (exit 130)"
tap_like "$(cat "$work/int.err")" "cleaning up what the build made" "and cleans up"
tap_is "$(instance_count) $(kiln_rc describe-key-pairs; json 'len(d["KeyPairs"])')" "0 0" "no instance or key pair is left"

tap_done
