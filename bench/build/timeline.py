#!/usr/bin/env python3
"""bench/build.sh's reader of the two runs: where the time went.

    timeline.py packer OUT T0 T1            Packer's phases from its UI lines
    timeline.py kiln ERR MANIFEST T0 T1 [QEMU_LOG]   kiln's phases, and its overhead

OUT and ERR hold one line per output line, "EPOCH_SECONDS TEXT" (bench/build.sh stamps them
as they arrive); T0 and T1 are the epoch seconds at which the process started and ended.
QEMU_LOG is libvirt's log of the build instance's domain (when found): its "shutting down"
line says when QEMU really exited. Prints the phases (to stdout) and, on the last line,
the figures as one JSON object for the bench."""
import datetime
import json
import re
import sys


def stamped(path):
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            t, _, text = raw.rstrip("\n").partition(" ")
            try:
                lines.append((float(t), text))
            except ValueError:
                continue
    return lines


def first(lines, pattern, after=0.0):
    rx = re.compile(pattern)
    for t, text in lines:
        if t >= after and rx.search(text):
            return t
    return None


def last(lines, pattern, before):
    rx = re.compile(pattern)
    found = None
    for t, text in lines:
        if t <= before and rx.search(text):
            found = t
    return found


def row(name, seconds, note=""):
    print(f"  {name:<50} {seconds:8.2f} s{'  ' + note if note else ''}")


def packer(out, t0, t1):
    lines = stamped(out)
    marks = [
        ("prepare: the source disk copied into the output", t0),
        ("boot: QEMU started, until Packer's SSH connects",
         first(lines, r"Starting VM, booting disk image")),
        ("provision: the MOTD script (shell provisioner)", first(lines, r"Connected to SSH!")),
        ("shutdown: shutdown_command until QEMU exits",
         first(lines, r"Gracefully halting virtual machine")),
        ("compact: qemu-img convert of the output disk", first(lines, r"Converting hard drive")),
        ("finish: artifact, plugin exit", first(lines, r"Build '.*' finished")),
    ]
    figures = {"total": t1 - t0}
    known = [(n, t) for n, t in marks if t is not None]
    for i, (name, t) in enumerate(known):
        end = known[i + 1][1] if i + 1 < len(known) else t1
        row(name, end - t)
        figures[name.split(":")[0]] = end - t
    print(json.dumps(figures))


def libvirt_time(text):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)([+-]\d{4}): ", text)
    if not m:
        return None
    return datetime.datetime.strptime(m.group(1) + m.group(2), "%Y-%m-%d %H:%M:%S.%f%z").timestamp()


def kiln(err, manifest, t0, t1, qemu_log=None):
    lines = stamped(err)
    with open(manifest, encoding="utf-8") as f:
        m = json.load(f)
    steps = {s["Step"]: s["Milliseconds"] / 1000.0 for s in m["Steps"]}
    t_source = first(lines, r"build: \[.*\] source image ")
    t_launched = first(lines, r"build: \[.*\] launched ")
    t_configure = first(lines, r"build: \[.*\] configuring ")
    t_bake = first(lines, r"build: \[.*\] baking ")
    t_gen = first(lines, r"build: generalizing ")
    t_stop = first(lines, r"build: shutting .* down cleanly")
    t_freeze = first(lines, r"build: baking .* into a new image")
    t_avail = first(lines, r"build: ami-\S+ is available")
    t_built = first(lines, r"build: \[.*\] built ami-")
    need = [t_source, t_launched, t_configure, t_bake, t_stop, t_freeze, t_avail, t_built]
    if any(t is None for t in need):
        sys.exit("timeline: kiln's stderr lacks the progress lines this bench reads")
    # SSH events (kiln --verbose): configure and generalize each check readiness again
    # (an SSH session and `cloud-init status --wait`), then connect once more and run.
    def ssh(start, end):
        ev = {"auth": [], "run": [], "exit": []}
        for t, text in lines:
            if start <= t <= end:
                for k, pat in (("auth", "debug: ssh: authenticated"),
                               ("run", "debug: ssh: running a command"),
                               ("exit", "debug: ssh: the command on .* exited")):
                    if re.search(pat, text):
                        ev[k].append(t)
        return ev

    def split(start, end):
        """(probe connect end, probe end, command start, command end) in [start, end]."""
        ev = ssh(start, end)
        if len(ev["run"]) < 2 or len(ev["exit"]) < 2 or not ev["auth"]:
            return start, start, start, end
        return ev["auth"][0], ev["exit"][0], ev["run"][-1], ev["exit"][-1]

    c_auth, c_probe, t_cmd, t_cmd_end = split(t_configure, t_bake)
    # When QEMU exited, from libvirt's log of the domain.
    t_qemu_exit = None
    if qemu_log:
        with open(qemu_log, encoding="utf-8", errors="replace") as f:
            for text in f:
                if "shutting down, reason=" in text:
                    t = libvirt_time(text)
                    if t and t_stop <= t <= t_freeze:
                        t_qemu_exit = t
    if t_qemu_exit is None:
        t_qemu_exit = t_freeze
    if t_gen is None:
        t_gen = t_stop
    _, g_probe, g_run, g_end = split(t_gen, t_stop)

    parts = [
        # (name, seconds, kind): kind "guest" is the guest's own work, subtracted from
        # kiln's time; "kiln" is kiln's overhead.
        ("process start, template, source image lookup", t_source - t0, "kiln"),
        ("temporary key pair, run-instances returns", t_launched - t_source, "kiln"),
        ("guest boot: launched until ready (cloud-init done)", t_configure - t_launched, "guest"),
        ("configure: readiness re-check: SSH connection", c_auth - t_configure, "kiln"),
        ("configure: readiness re-check: cloud-init status", c_probe - c_auth, "kiln"),
        ("configure: a second SSH connection", t_cmd - c_probe, "kiln"),
        ("configure: the template's command (MOTD script)", t_cmd_end - t_cmd, "guest"),
        ("configure: end of the step", t_bake - t_cmd_end, "kiln"),
        ("bake: reload of the instance", t_gen - t_bake, "kiln"),
        ("bake: generalize: readiness re-check", g_probe - t_gen, "kiln"),
        ("bake: generalize: a second SSH connection", g_run - g_probe, "kiln"),
        ("bake: generalize: cloud-init/generalize.sh", g_end - g_run, "kiln"),
        ("bake: generalize: end", t_stop - g_end, "kiln"),
        ("bake: clean shutdown until QEMU exits", t_qemu_exit - t_stop, "guest"),
        ("bake: noticing the shutdown (500 ms poll), state", t_freeze - t_qemu_exit, "kiln"),
        ("bake: the bake (overlay frozen, registry, domain)", t_avail - t_freeze, "kiln"),
        ("tag, terminate the build instance, key pair", t_built - t_avail, "kiln"),
        ("manifest, process exit", t1 - t_built, "kiln"),
    ]
    for name, s, kind in parts:
        row(name, s, "guest" if kind == "guest" else "kiln overhead")
    overhead = sum(s for _, s, k in parts if k == "kiln")
    figures = {
        "total": t1 - t0,
        "overhead": overhead,
        "boot": t_configure - t_launched,
        "shutdown": t_qemu_exit - t_stop,
        "command": t_cmd_end - t_cmd,
        "generalize": t_stop - t_gen,
        "steps": steps,
        "manifest_total": m["Milliseconds"] / 1000.0,
        "qemu_exit_from_libvirt_log": t_qemu_exit != t_freeze,
        "parts": [[n, round(s, 3), k] for n, s, k in parts],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    if sys.argv[1] == "packer":
        packer(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        kiln(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]),
             sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else None)
