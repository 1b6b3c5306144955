#!/bin/bash
# The cowsay MOTD at launch, through cloud-init user data.
#   examples/cowsay-motd/user-data.sh AMI
set -euo pipefail
ami=${1:?usage: user-data.sh AMI}
top=$(cd "$(dirname "$0")/../.." && pwd)
kiln=${KILN_BIN:-kiln}
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

id=$($kiln run-instances --image-id "$ami" --wait \
        --user-data "file://$top/cloud-init/motd-user-data.yaml" | field 'd["Instances"][0]["InstanceId"]')
echo "log in to $id (the MOTD shows at login) with:"
$kiln describe-instances --instance-ids "$id" | field 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]'
