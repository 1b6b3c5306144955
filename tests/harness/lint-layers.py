#!/usr/bin/env python3
"""`make lint`'s layering check: who may include whom in orchestrator/, and no cycles.

The rules (orchestrator/lib/README.md says why):
  util/                   util/
  model/                  util/, model/
  adapters (registry/ virt/ seed/ ssh/ net/ disk/ host/)
                          util/, model/, their own folder
  core/                   util/, model/, the adapters, core/
  domain (image/ instance/ guest/ bake/ keypair/ tag/ volume/ upkeep/ access/)
                          util/, model/, the adapters, core/, the domain folders
  pipeline/               util/ (and the public headers)
  front ends (cli/, ec2/) their own folder (and the public headers); cli/ may also include
                          ec2/ec2.h, to start the endpoint (kiln serve)
Public headers (<kiln/...>) may be included by anyone.

Cycles: among the domain folders by their includes, and among the library's object files by
the symbols one uses and another defines (nm). With --objects DIR the objects of DIR are read
(the build of the library); without it only the includes are checked.

Prints every finding and exits 1 if there is any. --self-test plants an upward include and a
cycle in a scratch copy and checks that both are found."""
import os
import re
import subprocess
import sys
import tempfile

ADAPTERS = {"registry", "virt", "seed", "ssh", "net", "disk", "host"}
DOMAIN = {"image", "instance", "guest", "bake", "keypair", "tag", "volume", "upkeep", "access"}
FRONT_ENDS = {"cli", "ec2"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def allowed(layer):
    """The folders a file of this layer (a lib/ folder, or a front end) may include."""
    if layer == "util":
        return {"util"}
    if layer == "model":
        return {"util", "model"}
    if layer in ADAPTERS:
        return {"util", "model", layer}
    if layer == "core":
        return {"util", "model", "core"} | ADAPTERS
    if layer in DOMAIN:
        return {"util", "model", "core"} | ADAPTERS | DOMAIN
    if layer == "pipeline":
        return {"util", "pipeline"}
    return set()


def sources(top):
    out = []
    for sub in ("lib", "cli", "ec2"):
        base = os.path.join(top, "orchestrator", sub)
        for root, _, files in os.walk(base):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.join(root, f))
    return sorted(out)


def layer_of(top, path):
    rel = os.path.relpath(path, os.path.join(top, "orchestrator"))
    parts = rel.split(os.sep)
    if parts[0] in FRONT_ENDS:
        return parts[0]
    if parts[0] == "lib" and len(parts) == 3:
        return parts[1]
    return "lib-top"  # a file directly in lib/: not allowed any more


def check_includes(top):
    problems = []
    domain_edges = {}
    for path in sources(top):
        layer = layer_of(top, path)
        rel = os.path.relpath(path, top)
        if layer == "lib-top":
            problems.append(f"{rel}: every library file belongs in a folder of orchestrator/lib")
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            if layer in FRONT_ENDS:
                # The CLI starts the endpoint (kiln serve) through its one entry header.
                if layer == "cli" and inc == "ec2/ec2.h":
                    continue
                if "/" in inc:
                    problems.append(f"{rel}: includes \"{inc}\": a front end includes only "
                                    f"<kiln/...> and its own headers")
                continue
            if "/" not in inc:
                problems.append(f"{rel}: includes \"{inc}\": write the folder "
                                f"(\"{layer}/{inc}\")")
                continue
            target = inc.split("/")[0]
            if target not in allowed(layer):
                problems.append(f"{rel}: {layer}/ may not include \"{inc}\" "
                                f"({layer}/ may include: {', '.join(sorted(allowed(layer)))})")
            if layer in DOMAIN and target in DOMAIN and target != layer:
                domain_edges.setdefault(layer, set()).add(target)
    for cycle in cycles(domain_edges):
        problems.append("the domain folders include each other in a cycle: " +
                        " -> ".join(cycle + [cycle[0]]))
    return problems


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan), each as a list."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    nodes = set(graph) | {v for vs in graph.values() for v in vs}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def check_objects(objdir, srcdir):
    """Files of the library whose functions call each other in a cycle. Objects whose source
    is gone (a file moved since the last build) are left out."""
    defined, used = {}, {}
    for root, _, files in os.walk(objdir):
        for f in files:
            if not f.endswith(".o"):
                continue
            path = os.path.join(root, f)
            name = os.path.relpath(path, objdir)[:-2] + ".c"
            if not os.path.exists(os.path.join(srcdir, name)):
                continue
            out = subprocess.run(["nm", path], capture_output=True, text=True,
                                 check=True).stdout
            used[name] = set()
            for line in out.splitlines():
                fields = line.split()
                if len(fields) == 2 and fields[0] == "U":
                    used[name].add(fields[1])
                elif len(fields) == 3 and fields[1] in "TDBR":
                    defined.setdefault(fields[2], name)
    graph = {}
    for name, syms in used.items():
        for s in syms:
            owner = defined.get(s)
            if owner and owner != name:
                graph.setdefault(name, set()).add(owner)
    problems = []
    for comp in cycles(graph):
        problems.append("these files call each other in a cycle: " + ", ".join(comp))
    return problems


def self_test(top):
    """An upward include and a call cycle planted in a scratch tree must be found."""
    with tempfile.TemporaryDirectory() as d:
        for sub in ("util", "image", "instance"):
            os.makedirs(os.path.join(d, "orchestrator", "lib", sub))
        os.makedirs(os.path.join(d, "orchestrator", "cli"))
        files = {
            "lib/util/a.c": '#include "image/x.h"\n',
            "lib/image/x.h": "",
            "lib/image/b.c": '#include "instance/y.h"\nvoid b(void); void c(void);\n'
                             "void b(void) { c(); }\n",
            "lib/instance/y.h": "",
            "lib/instance/c.c": '#include "image/x.h"\nvoid b(void); void c(void);\n'
                                "void c(void) { b(); }\n",
            "cli/main.c": '#include "util/util.h"\n',
        }
        for rel, text in files.items():
            with open(os.path.join(d, "orchestrator", rel), "w", encoding="utf-8") as f:
                f.write(text)
        found = check_includes(d)
        objdir = os.path.join(d, "obj")
        for rel in ("lib/image/b.c", "lib/instance/c.c"):
            out = os.path.join(objdir, rel[:-2] + ".o")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run(["cc", "-c", "-o", out, "-I", os.path.join(d, "orchestrator", "lib"),
                            os.path.join(d, "orchestrator", rel)], check=True)
        found += check_objects(objdir, os.path.join(d, "orchestrator"))
    want = ["util/ may not include \"image/x.h\"", "a front end includes only",
            "the domain folders include each other in a cycle",
            "these files call each other in a cycle"]
    missing = [w for w in want if not any(w in p for p in found)]
    for w in missing:
        print(f"lint-layers self-test: not found: {w}")
    return 1 if missing else 0


def main(argv):
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if "--self-test" in argv:
        return self_test(top)
    problems = check_includes(top)
    if "--objects" in argv:
        problems += check_objects(argv[argv.index("--objects") + 1],
                                  os.path.join(top, "orchestrator", "lib"))
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
