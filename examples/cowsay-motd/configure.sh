#!/bin/bash
# The cowsay MOTD after launch, over SSH, then baked into a new image.
#   examples/cowsay-motd/configure.sh AMI [MESSAGE]
set -euo pipefail
ami=${1:?usage: configure.sh AMI [MESSAGE]}
msg=${2:-Hello from a kiln-baked image}
kiln=${KILN_BIN:-kiln}
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

id=$($kiln run-instances --image-id "$ami" --wait | field 'd["Instances"][0]["InstanceId"]')
$kiln configure --instance-id "$id" --motd-message "$msg"
new=$($kiln create-image --instance-id "$id" --name "cowsay-$(date -u +%Y%m%d%H%M%S)" | field 'd["ImageId"]')
echo "baked $new from $id; log in to $id with:"
$kiln describe-instances --instance-ids "$id" | field 'd["Reservations"][0]["Instances"][0]["ConnectionInfo"]["SshCommand"]'
