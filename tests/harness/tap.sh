# Sourced by shell tests: TAP output.  ok COND-EXIT-STATUS DESCRIPTION; is GOT WANT DESC.
TAP_N=0
TAP_FAILED=0

tap_ok() {
        local rc=$1; shift
        TAP_N=$((TAP_N + 1))
        if [ "$rc" = 0 ]; then
                echo "ok $TAP_N - $*"
        else
                echo "not ok $TAP_N - $*"
                TAP_FAILED=$((TAP_FAILED + 1))
        fi
}

tap_is() {
        local got=$1 want=$2; shift 2
        if [ "$got" = "$want" ]; then
                tap_ok 0 "$*"
        else
                tap_ok 1 "$*"
                echo "#   got:  '$got'"
                echo "#   want: '$want'"
        fi
}

tap_like() {
        local got=$1 pattern=$2; shift 2
        if [[ $got =~ $pattern ]]; then
                tap_ok 0 "$*"
        else
                tap_ok 1 "$*"
                echo "#   got:     '$got'"
                echo "#   pattern: '$pattern'"
        fi
}

tap_diag() {
        printf '%s\n' "$@" | sed 's/^/# /'
}

tap_done() {
        echo "1..$TAP_N"
        [ "$TAP_FAILED" = 0 ]
}
