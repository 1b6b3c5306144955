#!/bin/bash
# The guest image's cold path, on every run: the recipe is built into an empty cache, as on a
# fresh machine, and its contract checked: standard output is exactly one line, the path of
# a readable qcow2 image in that cache, with everything the tools print on standard error;
# a second call finds it cached and prints the same single line. About two minutes (mmdebstrap
# from Debian's archive); no time at all when the harness itself built the image in this run
# (a fresh machine), whose output is then checked instead.
set -u
. "$KILN_TOP/tests/harness/tap.sh"

if [ -n "${KILN_IMAGE_COLD_OUT:-}" ] && [ -r "$KILN_IMAGE_COLD_OUT" ]; then
        # This run's harness found no disks of the recipe in its cache and built them: that was
        # the cold path, so its output is checked here instead of a second build.
        out=$(cat "$KILN_IMAGE_COLD_OUT")
        cache=$(dirname "$(head -n 1 "$KILN_IMAGE_COLD_OUT")")
        stderr_file=$KILN_IMAGE_COLD_ERR
        tap_diag "the harness built the recipe in this run, into a cache without it: checking that build"
else
        cache=$(mktemp -d /var/tmp/kiln-e2e-cold.XXXXXX)
        trap 'rm -rf "$cache"' EXIT
        trap 'rm -rf "$cache"; exit 143' TERM
        trap 'rm -rf "$cache"; exit 130' INT
        stderr_file=$cache/stderr
        t0=$SECONDS
        out=$(KILN_IMAGE_CACHE=$cache "$KILN_TOP/tests/images/build.sh" debian12 2>"$stderr_file")
        rc=$?
        tap_is "$rc" 0 "the recipe builds into an empty cache ($((SECONDS - t0)) s)"
        [ "$rc" = 0 ] || tail -n 20 "$stderr_file" | sed 's/^/#   /'
fi
tap_is "$(printf '%s\n' "$out" | wc -l)" 1 "it prints exactly one line on standard output"
tap_like "$out" "^$cache/debian12-[0-9a-f]{16}\.qcow2\$" "the line is the image's path in the cache"
tap_ok $([ -r "$out" ] && [ -s "$out" ]; echo $?) "the image exists and is readable"
tap_like "$(qemu-img info --output=json "$out" 2>&1)" '"format": "qcow2"' "it is a qcow2 image"
tap_like "$(cat "$stderr_file")" "image: built debian12" "progress went to standard error"
tap_is "$(find "$cache" -mindepth 1 -maxdepth 1 -name '.build-*' | wc -l)" 0 \
        "no build directory is left in the cache"

out2=$(KILN_IMAGE_CACHE=$cache "$KILN_TOP/tests/images/build.sh" debian12 2>/dev/null)
tap_is "$out2" "$out" "a second call finds it cached and prints the same single line"

tap_done
