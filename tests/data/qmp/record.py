#!/usr/bin/env python3
# Records the QMP transcripts used by tests/unit/test-qmp.c from a real QEMU.
#
#   tests/data/qmp/record.py [qemu-system-x86_64]
#
# For each scenario NAME it writes NAME.in (the lines the client sends, in the
# exact form qmp.c generates them, ids "md-<n>" counting from 1 with
# qmp_capabilities first) and NAME.out (the raw bytes QEMU answered, greeting,
# replies and events as they came, "\r\n" line ends included).
import json
import os
import select
import subprocess
import sys

QEMU = sys.argv[1] if len(sys.argv) > 1 else "qemu-system-x86_64"
HERE = os.path.dirname(os.path.abspath(__file__))

SCENARIOS = {
    "handshake": [("query-status", None), ("query-version", None)],
    "stop-cont": [("stop", None), ("query-status", None), ("cont", None), ("query-status", None)],
    "error": [("no-such-command", None), ("query-status", None),
              ("migrate-set-capabilities",
               {"capabilities": [{"capability": "no-such-cap", "state": True}]})],
    "migrate": [("migrate-set-capabilities",
                 {"capabilities": [{"capability": "events", "state": True}]}),
                ("query-migrate", None), ("query-migrate-capabilities", None)],
    "migration": [("migrate-set-capabilities",
                   {"capabilities": [{"capability": "events", "state": True}]}),
                  ("migrate", {"uri": "exec:cat >/dev/null"}),
                  ("#wait", 1.0),
                  ("query-migrate", None)],
    "quit": [("query-status", None), ("quit", None)],
}


def line_for(n, command, arguments):
    # Same member order and compact form as json-glib's generator.
    msg = {"execute": command}
    if arguments is not None:
        msg["arguments"] = arguments
    msg["id"] = "md-%d" % n
    return json.dumps(msg, separators=(",", ":")) + "\n"


def read_until(proc, out, pred, timeout=5.0):
    buf = b""
    while True:
        r, _, _ = select.select([proc.stdout], [], [], timeout)
        if not r:
            raise RuntimeError("timeout waiting for QEMU")
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return True  # EOF
        out.append(chunk)
        buf += chunk
        matched = False
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            matched = pred(json.loads(line)) or matched
        if matched and not buf:
            return False


def record(name, steps):
    proc = subprocess.Popen([QEMU, "-machine", "none", "-display", "none",
                             "-nodefaults", "-qmp", "stdio"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    out, sent = [], []
    read_until(proc, out, lambda m: "QMP" in m)
    steps = [("qmp_capabilities", None)] + steps
    n = 0
    for command, arguments in steps:
        if command == "#wait":
            # Let asynchronous events (MIGRATION, ...) arrive between replies.
            try:
                read_until(proc, out, lambda m: False, timeout=arguments)
            except RuntimeError:
                pass
            continue
        n += 1
        line = line_for(n, command, arguments)
        sent.append(line)
        proc.stdin.write(line.encode())
        proc.stdin.flush()
        want = "md-%d" % n
        read_until(proc, out, lambda m: m.get("id") == want)
    if steps[-1][0] == "quit":
        read_until(proc, out, lambda m: False)
    else:
        # Catch stray events, then stop QEMU (it ignores EOF on stdin).
        try:
            read_until(proc, out, lambda m: False, timeout=0.5)
        except RuntimeError:
            pass
        proc.terminate()
        proc.stdout.read()
    proc.wait(timeout=10)
    with open(os.path.join(HERE, name + ".in"), "w") as f:
        f.write("".join(sent))
    with open(os.path.join(HERE, name + ".out"), "wb") as f:
        f.write(b"".join(out))


for name, steps in SCENARIOS.items():
    record(name, steps)
