#!/usr/bin/python3
"""ec2-same.py SHAPE KILN_JSON AWS_JSON: exit 0 if kiln's JSON (from `kiln VERB`) and the aws
CLI's (from `aws --endpoint-url ... ec2 VERB`) are the same document once the members EC2's
model does not have are taken out of kiln's (kiln's own, such as DefaultUser, which the aws CLI
drops as it parses the XML). SHAPE is the output shape in the aws CLI's model (for example
DescribeImagesResult). Prints the first difference otherwise."""
import json
import sys

MODEL = "/usr/lib/python3/dist-packages/awscli/botocore/data/ec2/2016-11-15/service-2.json"


def known(value, shape, shapes):
    s = shapes[shape]
    if s["type"] == "structure" and isinstance(value, dict):
        return {k: known(v, s["members"][k]["shape"], shapes)
                for k, v in value.items() if k in s["members"]}
    if s["type"] == "list" and isinstance(value, list):
        return [known(v, s["member"]["shape"], shapes) for v in value]
    return value


def first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'kiln' if k in a else 'aws'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def main():
    shape, kiln_file, aws_file = sys.argv[1:4]
    shapes = json.load(open(MODEL))["shapes"]
    kiln = known(json.load(open(kiln_file)), shape, shapes)
    aws = json.load(open(aws_file))
    d = first_difference(kiln, aws)
    if d:
        print(d)
        return 1
    return 0


sys.exit(main())
