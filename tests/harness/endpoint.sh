# Sourced by the endpoint's end-to-end tests, after home.sh: access keys for accounts A and B,
# a `kiln serve` on a free 127.0.0.1 port, and the aws CLI pointed at it.
#   endpoint_start            KEY_A, SECRET_A, KEY_B, SECRET_B, URL, SERVE_PID; log in $work/serve.log
#   stop_serve                SIGTERM, and wait for it
#   aws_as KEY SECRET ARGS    run `aws ec2 ARGS`; sets RC, OUT, ERR as kiln_rc does
#   aws_a ARGS, aws_b ARGS    the same with A's or B's key
#   same SHAPE WHAT KILN-ARGS -- AWS-ARGS   both front ends print the same document
AWS=/usr/bin/aws
SERVE_PID=

endpoint_skip_unless_clients() {
        if [ ! -x "$AWS" ] || ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
                echo "1..0 # SKIP the aws CLI (awscli) and boto3 (python3-boto3) are needed: make deps"
                exit 77
        fi
}

stop_serve() { [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null; SERVE_PID=; }

endpoint_start() {
        kiln_as $ACCT_A create-access-key
        KEY_A=$(json 'd["AccessKey"]["AccessKeyId"]')
        SECRET_A=$(json 'd["AccessKey"]["SecretAccessKey"]')
        kiln_as $ACCT_B create-access-key
        KEY_B=$(json 'd["AccessKey"]["AccessKeyId"]')
        SECRET_B=$(json 'd["AccessKey"]["SecretAccessKey"]')
        PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        URL=http://127.0.0.1:$PORT
        "$KILN_BIN" serve --listen "127.0.0.1:$PORT" 2>"$work/serve.log" &
        SERVE_PID=$!
        for _ in $(seq 50); do
                grep -q "serving the EC2 API" "$work/serve.log" && break
                sleep 0.1
        done
        mkdir -p "$work/aws"
        export AWS_CONFIG_FILE=$work/aws/config AWS_SHARED_CREDENTIALS_FILE=$work/aws/credentials
        export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
        : >"$AWS_CONFIG_FILE"
        : >"$AWS_SHARED_CREDENTIALS_FILE"
}

aws_as() {
        local key=$1 secret=$2 e
        shift 2
        e=$(mktemp)
        OUT=$(AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret \
                "$AWS" --endpoint-url "$URL" --region local --output json ec2 "$@" 2>"$e")
        RC=$?
        ERR=$(cat "$e")
        rm -f "$e"
}
aws_a() { aws_as "$KEY_A" "$SECRET_A" "$@"; }
aws_b() { aws_as "$KEY_B" "$SECRET_B" "$@"; }

same() {
        local shape=$1 what=$2 kargs=() diff
        shift 2
        while [ $# -gt 0 ] && [ "$1" != -- ]; do kargs+=("$1"); shift; done
        shift
        kiln_as $ACCT_A "${kargs[@]}"
        printf '%s' "$OUT" >"$work/kiln.json"
        aws_a "$@"
        printf '%s' "$OUT" >"$work/aws.json"
        diff=$(python3 "$KILN_TOP/tests/harness/ec2-same.py" "$shape" "$work/kiln.json" "$work/aws.json" 2>&1)
        tap_ok $([ "$RC" = 0 ] && [ -z "$diff" ]; echo $?) "$what: the aws CLI prints what kiln prints${diff:+ ($diff; $ERR)}"
}
