#!/usr/bin/env python3
# Records the query-migrate replies used by tests/unit/test-qemu-migration.c
# from two real QEMUs migrating the test guest over loopback TCP.
#
#   tests/data/qmp/record-query-migrate.py GUEST_ELF [qemu-system-x86_64]
#
# Writes, next to this script:
#   migrate-setup.json       status "setup" (query right behind "migrate")
#   migrate-sequence.json    [{"time_ms": T, "reply": {...}}, ...] every poll of
#                            a throttled migration of a guest dirtying 32 MiB,
#                            from setup to completed (remaining goes up again
#                            at every pass)
#   migrate-active-1.json    first pass, nothing dirty yet
#   migrate-active-2.json    a later pass (dirty-pages-rate known)
#   migrate-completed.json   the last reply of the sequence
#   migrate-throttled.json   active with auto-converge throttling the guest
#                            and xbzrle on (cpu-throttle-percentage and
#                            xbzrle-cache present)
#   migrate-cancelled.json   after migrate_cancel
#   migrate-failed.json      destination port closed
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST = sys.argv[1]
QEMU = sys.argv[2] if len(sys.argv) > 2 else "qemu-system-x86_64"
TMP = tempfile.mkdtemp(prefix="qmig-")
MIB = 1024 * 1024


class Qmp:
    def __init__(self, path):
        for _ in range(100):
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb")
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while True:
            msg = json.loads(self.file.readline())
            if "event" not in msg:
                return msg

    def send(self, command, args=None):
        msg = {"execute": command}
        if args is not None:
            msg["arguments"] = args
        self.file.write(json.dumps(msg).encode() + b"\n")

    def cmd(self, command, args=None):
        self.send(command, args)
        self.file.flush()
        reply = self.read()
        if "error" in reply:
            raise RuntimeError("%s: %s" % (command, reply["error"]))
        return reply["return"]


def qemu(name, incoming):
    sock = os.path.join(TMP, name + ".sock")
    argv = [QEMU, "-machine", "pc", "-accel", "tcg", "-m", "128", "-nodefaults",
            "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock,
            "-serial", "file:" + os.path.join(TMP, name + ".log"),
            "-kernel", GUEST, "-append", "dirty=32M"]
    if incoming:
        argv += ["-incoming", "defer"]
    proc = subprocess.Popen(argv)
    return proc, Qmp(sock)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def save(name, data):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def pair():
    src, sq = qemu("src", False)
    dst, dq = qemu("dst", True)
    port = free_port()
    dq.cmd("migrate-incoming", {"uri": "tcp:127.0.0.1:%d" % port})
    time.sleep(1.0)  # let the guest boot and start dirtying
    return src, sq, dst, dq, "tcp:127.0.0.1:%d" % port


def stop(*procs):
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def record_sequence():
    src, sq, dst, dq, uri = pair()
    sq.cmd("migrate-set-parameters", {"max-bandwidth": 16 * MIB, "downtime-limit": 50})
    # Pipelined: QEMU answers query-migrate before the connect completes.
    sq.send("migrate", {"uri": uri})
    sq.send("query-migrate")
    sq.file.flush()
    sq.read()
    save("migrate-setup.json", sq.read()["return"])

    seq, start = [], time.monotonic()
    opened = False
    while True:
        reply = sq.cmd("query-migrate")
        seq.append({"time_ms": int((time.monotonic() - start) * 1000), "reply": reply})
        if reply["status"] in ("completed", "failed", "cancelled"):
            break
        passes = reply.get("ram", {}).get("dirty-sync-count", 0)
        # Three passes at 16 MiB/s never converge with 32 MiB dirtied: then
        # let it go as fast as loopback allows, with a generous downtime.
        if passes >= 4 and not opened:
            sq.cmd("migrate-set-parameters", {"max-bandwidth": 0x7fffffffffffffff // MIB * MIB,
                                              "downtime-limit": 2000})
            opened = True
        time.sleep(0.5)
    save("migrate-sequence.json", seq)
    save("migrate-completed.json", seq[-1]["reply"])
    active = [e["reply"] for e in seq if e["reply"]["status"] == "active"]
    save("migrate-active-1.json", active[0])
    later = [r for r in active if r["ram"].get("dirty-pages-rate", 0) > 0]
    save("migrate-active-2.json", later[len(later) // 2])
    stop(src, dst)


def record_throttled_and_cancelled():
    src, sq, dst, dq, uri = pair()
    sq.cmd("migrate-set-capabilities",
           {"capabilities": [{"capability": "auto-converge", "state": True},
                             {"capability": "xbzrle", "state": True}]})
    sq.cmd("migrate-set-parameters", {"max-bandwidth": 8 * MIB, "downtime-limit": 50,
                                      "cpu-throttle-initial": 20,
                                      "cpu-throttle-increment": 10})
    sq.cmd("migrate", {"uri": uri})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = sq.cmd("query-migrate")
        if (reply.get("cpu-throttle-percentage", 0) > 0
                and reply.get("xbzrle-cache", {}).get("pages", 0) > 0):
            save("migrate-throttled.json", reply)
            break
        time.sleep(0.5)
    else:
        raise RuntimeError("auto-converge never throttled")
    sq.cmd("migrate_cancel")
    for _ in range(100):
        reply = sq.cmd("query-migrate")
        if reply["status"] == "cancelled":
            save("migrate-cancelled.json", reply)
            break
        time.sleep(0.1)
    stop(src, dst)


def record_failed():
    src, sq = qemu("src", False)
    sq.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % free_port()})
    for _ in range(100):
        reply = sq.cmd("query-migrate")
        if reply["status"] == "failed":
            save("migrate-failed.json", reply)
            break
        time.sleep(0.1)
    stop(src)


record_sequence()
record_throttled_and_cancelled()
record_failed()
