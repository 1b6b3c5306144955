#!/bin/bash
# 16 kiln processes at once, each registering and deregistering images (and all of them racing
# for one shared name): every operation succeeds or fails with a clear error, none reports a
# locked database, and the registry ends holding exactly what succeeded.
set -u
. "$KILN_TOP/tests/harness/tap.sh"
. "$KILN_TOP/tests/harness/home.sh"

home_setup
work=$KILN_HOME/test
mkdir -p "$work/log"
qemu-img create -q -f raw "$work/disk.raw" 4M
"$KILN_BIN" --no-progress describe-regions >/dev/null   # creates the registry once

worker() {
        local k=$1 id
        for round in 1 2 3; do
                if id=$("$KILN_BIN" --no-progress --output text register-image --name "w$k-r$round" \
                        --disk "$work/disk.raw" 2>>"$work/log/$k.err"); then
                        echo "registered w$k-r$round $id" >>"$work/log/$k.ok"
                        if [ "$round" = 2 ]; then
                                if "$KILN_BIN" deregister-image --image-id "$id" 2>>"$work/log/$k.err"; then
                                        echo "deregistered w$k-r$round $id" >>"$work/log/$k.ok"
                                else
                                        echo "FAILED deregister $id" >>"$work/log/$k.fail"
                                fi
                        fi
                else
                        echo "FAILED register w$k-r$round" >>"$work/log/$k.fail"
                fi
        done
        if id=$("$KILN_BIN" --no-progress --output text register-image --name shared-name \
                --disk "$work/disk.raw" 2>>"$work/log/$k.shared"); then
                echo "registered shared-name $id" >>"$work/log/$k.ok"
        fi
}

start=$(date +%s)
for k in $(seq 1 16); do worker "$k" & done
wait
tap_diag "16 workers, 80 operations at once: $(( $(date +%s) - start )) s"

tap_is "$(cat "$work"/log/*.fail 2>/dev/null | wc -l)" "0" "every register and deregister of a unique name succeeded"
for f in "$work"/log/*.fail; do
        [ -e "$f" ] || continue
        k=$(basename "$f" .fail)
        tap_diag "worker $k: $(tr '\n' ' ' <"$f")"
        tap_diag "worker $k stderr: $(tr '\n' ' ' <"$work/log/$k.err")"
done
tap_is "$(cat "$work"/log/*.err 2>/dev/null | grep -ci 'locked\|busy')" "0" "no 'database is locked' reached a user"
winners=$(cat "$work"/log/*.ok | grep -c '^registered shared-name')
tap_is "$winners" "1" "exactly one process won the shared name"
losers=$(cat "$work"/log/*.shared | grep -c 'InvalidAMIName.Duplicate')
tap_is "$losers" "15" "the other 15 got InvalidAMIName.Duplicate"

expected=$(cat "$work"/log/*.ok | awk '$1=="registered"{s[$3]=1} $1=="deregistered"{delete s[$3]} END{for (i in s) print i}' | sort)
kiln_rc describe-images --owners self
got=$(json '"\n".join(sorted(i["ImageId"] for i in d["Images"]))')
tap_is "$(echo "$got" | wc -l)" "33" "33 images registered (16 x 2 kept + the shared one)"
tap_is "$got" "$expected" "the registry holds exactly what succeeded"
kiln_rc describe-snapshots --owner-ids self
tap_is "$(json 'len(d["Snapshots"])')" "49" "one snapshot per successful register (deregistered ones stay)"
tap_is "$(ls "$(pool_path local)" | wc -l)" "49" "and one file per snapshot: no loser left a file"
kiln_rc fsck
tap_is "$RC" 0 "fsck finds the registry and pool consistent"
tap_done
