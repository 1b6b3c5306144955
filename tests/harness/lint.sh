#!/bin/bash
# `make lint`: clang-format (check only), clang-tidy, cppcheck, a grep for banned functions,
# and the layering check (tests/harness/lint-layers.py: who may include whom, no cycles).
# Prints every finding and exits non-zero if there is any.
set -uo pipefail
cd "$(dirname "$0")/../.."
files=("$@")
status=0

echo "lint: clang-format"
for f in "${files[@]}"; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
                echo "  $f is not formatted (make format)"
                status=1
        fi
done

echo "lint: banned functions"
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|system|popen|gets)\s*\(' \
        "${files[@]}" | grep -v '^\S*:\s*/\?\*'; then
        echo "  use snprintf, kiln_xasprintf, strtok_r, strtol, kiln_cmd instead"
        status=1
fi

echo "lint: layering (orchestrator/lib/README.md)"
if ! python3 tests/harness/lint-layers.py --self-test; then
        echo "  the layering check does not find what it should"
        status=1
fi
if ! python3 tests/harness/lint-layers.py ${KILN_LINT_OBJECTS:+--objects "$KILN_LINT_OBJECTS"}; then
        status=1
fi

cflags=$(pkg-config --cflags libvirt libcurl jansson libssh2 sqlite3 yaml-0.1 libxml-2.0 libnbd ext2fs com_err)
# cppcheck and clang-tidy read one file at a time: as many at once as there are cores.
jobs=$(nproc 2>/dev/null || echo 2)
srcs=()
for f in "${files[@]}"; do [[ $f == *.c ]] && srcs+=("$f"); done

echo "lint: cppcheck"
cppcheck --quiet -j "$jobs" --enable=warning,portability,performance --error-exitcode=1 \
        --inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB -D_GNU_SOURCE -DKILN_VERSION='"lint"' \
        -DKILN_SRCDIR='"."' -Iorchestrator/include -Iorchestrator/lib -Iorchestrator -Itests/unit \
        "${srcs[@]}" || status=1

echo "lint: clang-tidy"
checks='-*,clang-analyzer-*,bugprone-*,-bugprone-easily-swappable-parameters'
checks+=',-bugprone-reserved-identifier,-bugprone-macro-parentheses'
checks+=',-bugprone-assignment-in-if-condition'
checks+=',-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling'
tidy() {
        # shellcheck disable=SC2086
        clang-tidy --quiet --checks="$checks" "$@" -- -std=gnu11 -D_GNU_SOURCE \
                -DKILN_VERSION='"lint"' -DKILN_SRCDIR='"."' -Iorchestrator/include -Iorchestrator/lib \
                -Iorchestrator -Itests/unit $cflags 2>/dev/null
}
export -f tidy
export checks cflags
# shellcheck disable=SC2016
tidy_out=$(printf '%s\n' "${srcs[@]}" | xargs -r -n 4 -P "$jobs" bash -c 'tidy "$@"' _)
if printf '%s\n' "$tidy_out" | grep -q ' \(warning\|error\):'; then
        printf '%s\n' "$tidy_out" | grep ' \(warning\|error\):'
        status=1
fi

[ $status = 0 ] && echo "lint: clean"
exit $status
