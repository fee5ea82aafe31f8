#!/usr/bin/python3
"""Boot the test guest (guest.elf) in QEMU and watch its serial output.

Passes once the expected output shows up, fails on anything inconsistent or
when the deadline passes; QEMU is always killed. Exit 77 (skip) only when no
qemu-system-x86_64 exists. See README.md for the guest's output format.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HEADER_RE = re.compile(r"^guest: dirty=(\d+) .*boot=(0x[0-9a-f]{8})$")
COUNTER_RE = re.compile(r"^counter (\d+) pass=(\d+) boot=(0x[0-9a-f]{8})$")
CORRUPT_RE = re.compile(r"^MEMORY CORRUPT page=(\d+) expected=(0x[0-9a-f]{8}) got=(0x[0-9a-f]{8})$")
DAMAGED_RE = re.compile(r"^guest: selftest-corrupt: damaged page=(\d+)$")


class Failed(Exception):
    pass


def kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


def die_with_parent():
    # If this script is SIGKILLed (e.g. by a test harness), take QEMU with it.
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Watcher:
    """Incrementally checks the serial log; .done is set once expectations hold."""

    def __init__(self, expect, count):
        self.expect, self.count = expect, count
        self.header = self.boot = None
        self.last = 0
        self.corrupt = []
        self.damaged = None
        self.counters_after_corrupt = 0
        self.first_counter_at = self.header_at = None
        self.done = False

    def line(self, text, t):
        m = HEADER_RE.match(text)
        if text.startswith("guest: dirty="):
            if not m:
                raise Failed(f"malformed header: {text!r}")
            if self.header is not None:
                raise Failed("guest printed its header twice: it rebooted")
            self.header, self.boot, self.header_at = text, m.group(2), t
            return
        m = DAMAGED_RE.match(text)
        if m:
            self.damaged = int(m.group(1))
            return
        m = CORRUPT_RE.match(text)
        if text.startswith("MEMORY CORRUPT"):
            if not m:
                raise Failed(f"malformed corruption report: {text!r}")
            if self.expect != "corrupt":
                raise Failed(f"guest found corrupt memory: {text}")
            self.corrupt.append(int(m.group(1)))
            if len(self.corrupt) > 1:
                raise Failed("MEMORY CORRUPT printed more than once")
            if self.damaged is not None and self.corrupt[0] != self.damaged:
                raise Failed(f"reported page {self.corrupt[0]}, damaged page {self.damaged}")
            return
        m = COUNTER_RE.match(text)
        if text.startswith("counter"):
            if not m:
                raise Failed(f"malformed counter line: {text!r}")
            n = int(m.group(1))
            if self.header is None:
                raise Failed("counter before the header line")
            if m.group(3) != self.boot:
                raise Failed(f"boot id changed: {m.group(3)} != {self.boot}")
            if n != self.last + 1:
                raise Failed(f"counter went from {self.last} to {n}")
            self.last = n
            if n == 1:
                self.first_counter_at = t
            if self.corrupt:
                self.counters_after_corrupt += 1
        # Anything else (warnings) is informational.
        if self.expect == "counter":
            self.done = self.last >= self.count
        else:
            # The guest must report the damage and then keep going.
            self.done = self.last >= self.count and self.counters_after_corrupt >= 2


def run(args, qemu, accel, workdir):
    out = os.path.join(workdir, f"serial-{accel}.log")
    err = os.path.join(workdir, f"qemu-{accel}.stderr")
    open(out, "w").close()
    cmd = [qemu, "-accel", accel, "-machine", "pc", "-m", "64", "-nodefaults",
           "-display", "none", "-no-reboot", "-serial", f"file:{out}",
           "-kernel", args.kernel, "-append", args.append]
    print("running:", " ".join(cmd), flush=True)
    w = Watcher(args.expect, args.count)
    start = time.monotonic()
    deadline = start + args.timeout
    with open(err, "w") as errf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                                preexec_fn=die_with_parent)
    buf, pos = b"", 0
    try:
        while not w.done:
            with open(out, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
            buf += chunk
            now = time.monotonic() - start
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                text = raw.decode("utf-8", "replace").rstrip("\r")
                print(f"[{now:7.3f}s] {text}", flush=True)
                w.line(text, now)
                if w.done:
                    break
            if w.done:
                break
            if proc.poll() is not None:
                with open(err) as f:
                    msg = f.read().strip()
                if accel == "kvm" and not w.header and "kvm" in msg.lower():
                    return None, msg  # KVM unusable after all: caller retries TCG
                raise Failed(f"QEMU exited with {proc.returncode} before the guest "
                             f"finished: {msg or '(no stderr)'}")
            if time.monotonic() > deadline:
                raise Failed(f"timed out after {args.timeout}s waiting for the guest "
                             f"(last counter {w.last})")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return w, None


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kernel", required=True)
    p.add_argument("--qemu", default=os.environ.get("MD_QEMU", "qemu-system-x86_64"))
    p.add_argument("--append", default="dirty=8M period=50")
    p.add_argument("--expect", choices=["counter", "corrupt"], default="counter")
    p.add_argument("--count", type=int, default=5, help="last counter to wait for")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--accel", choices=["auto", "kvm", "tcg"],
                   default=os.environ.get("MD_GUEST_ACCEL", "auto"))
    args = p.parse_args()

    qemu = args.qemu if os.access(args.qemu, os.X_OK) and os.path.isfile(args.qemu) \
        else shutil.which(args.qemu) or shutil.which("qemu-system-x86_64")
    if not qemu:
        print("#" * 72 + f"\nSKIP: {args.qemu} / qemu-system-x86_64 not found: the test guest "
              "was NOT booted.\nInstall qemu-system-x86 to run this test.\n" + "#" * 72,
              file=sys.stderr, flush=True)
        return 77

    accel = args.accel
    if accel == "auto":
        accel = "kvm" if kvm_usable() else "tcg"

    # Make SIGTERM (meson's timeout) unwind through the finally that kills QEMU.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with tempfile.TemporaryDirectory(prefix="md-guest-") as workdir:
        try:
            w, kvm_err = run(args, qemu, accel, workdir)
            if w is None:
                print(f"WARNING: KVM failed ({kvm_err}); retrying with TCG", flush=True)
                accel = "tcg"
                w, _ = run(args, qemu, accel, workdir)
        except Failed as e:
            print(f"FAIL ({accel}): {e}", flush=True)
            return 1
    print(f"PASS ({accel}): header at {w.header_at:.3f}s, counter 1 at "
          f"{w.first_counter_at:.3f}s, counter {w.last} reached", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
