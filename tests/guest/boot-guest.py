#!/usr/bin/python3
"""Boot the test guest (guest.elf) in QEMU and watch its serial output.

Passes once the expected output shows up, fails on anything inconsistent or
when the deadline passes; QEMU is always killed. Exit 77 (skip) only when no
qemu-system-x86_64 exists. See README.md for the guest's output format.

With --expect poweroff / button-ignored it also presses the ACPI power button
(QMP system_powerdown) once the guest printed --press-at, and checks that QEMU
then exits by itself (guest-initiated S5) / that the guest just keeps counting.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HEADER_RE = re.compile(r"^guest: dirty=(\d+) .*boot=(0x[0-9a-f]{8})$")
COUNTER_RE = re.compile(r"^counter (\d+) pass=(\d+) boot=(0x[0-9a-f]{8})$")
CORRUPT_RE = re.compile(r"^MEMORY CORRUPT page=(\d+) expected=(0x[0-9a-f]{8}) got=(0x[0-9a-f]{8})$")
DAMAGED_RE = re.compile(r"^guest: selftest-corrupt: damaged page=(\d+)$")
POWEROFF_LINE = "guest: power button, powering off"
# The guest could not arm the button, or S5 did not stop it.
ACPI_BROKEN_RE = re.compile(r"^guest: WARNING (no ACPI|still running)")
BUTTON_MODES = ("poweroff", "button-ignored")


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


class Qmp:
    """Minimal QMP client (standard library only); keeps the events it sees."""

    def __init__(self, path, deadline):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.buf, self.events = b"", []
        # QEMU listens before the guest runs, so this normally connects at once.
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError) as e:
                if time.monotonic() > deadline:
                    raise Failed(f"cannot connect to QMP at {path}: {e}")
                time.sleep(0.05)
        greeting = self.recv(deadline)
        if not greeting or "QMP" not in greeting:
            raise Failed(f"unexpected QMP greeting: {greeting!r}")

    def recv(self, deadline):
        """The next message, or None at EOF."""
        while b"\n" not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise Failed("timed out waiting for QMP") from None
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, deadline):
        self.sock.sendall(json.dumps({"execute": name}).encode() + b"\n")
        while True:
            msg = self.recv(deadline)
            if msg is None:
                raise Failed(f"QMP closed before answering {name}")
            if "event" in msg:
                self.events.append(msg)
            elif "error" in msg:
                raise Failed(f"QMP {name} failed: {msg['error']}")
            elif "return" in msg:
                return msg["return"]

    def drain(self, deadline):
        """Collects events until QEMU closes the socket (it exited)."""
        while (msg := self.recv(deadline)) is not None:
            if "event" in msg:
                self.events.append(msg)

    def event(self, name):
        return next((e for e in self.events if e["event"] == name), None)

    def close(self):
        self.sock.close()


class Watcher:
    """Incrementally checks the serial log; .done is set once expectations hold."""

    def __init__(self, expect, count, after=5):
        self.expect, self.count, self.after = expect, count, after
        self.pressed = False     # the power button was pressed (QMP returned)
        self.press_counter = None  # last counter read once it had been pressed
        self.poweroff_at = None
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
        if text == POWEROFF_LINE:
            if self.expect != "poweroff":
                raise Failed("the guest powered off, but it was to ignore the button")
            if not self.pressed:
                raise Failed("the guest powered off before the button was pressed")
            self.poweroff_at = t
            return
        if ACPI_BROKEN_RE.match(text) and self.expect == "poweroff":
            raise Failed(f"the guest can't power off: {text}")
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
            if self.poweroff_at is not None:
                raise Failed(f"counter after the power-off line: {text!r}")
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
        elif self.expect == "poweroff":
            pass  # done once QEMU exited (see run())
        elif self.expect == "button-ignored":
            self.done = self.press_counter is not None and \
                self.last >= self.press_counter + self.after
        else:
            # The guest must report the damage and then keep going.
            self.done = self.last >= self.count and self.counters_after_corrupt >= 2


def run(args, qemu, accel, workdir):
    out = os.path.join(workdir, f"serial-{accel}.log")
    err = os.path.join(workdir, f"qemu-{accel}.stderr")
    qmp_path = os.path.join(workdir, f"qmp-{accel}.sock")
    open(out, "w").close()
    cmd = [qemu, "-accel", accel, "-machine", args.machine, "-m", "64", "-nodefaults",
           "-display", "none", "-no-reboot", "-serial", f"file:{out}",
           "-kernel", args.kernel, "-append", args.append]
    if args.expect in BUTTON_MODES:
        cmd += ["-qmp", f"unix:{qmp_path},server=on,wait=off"]
    print("running:", " ".join(cmd), flush=True)
    w = Watcher(args.expect, args.count, args.after)
    start = time.monotonic()
    deadline = start + args.timeout
    with open(err, "w") as errf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                                preexec_fn=die_with_parent)
    buf, pos = b"", 0
    qmp = pressed_at = None

    def read_serial():
        nonlocal buf, pos
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

    try:
        while not w.done:
            # Poll before reading: once QEMU is gone, the read sees all it wrote.
            exited = proc.poll() is not None
            read_serial()
            if w.done:
                break
            if args.expect in BUTTON_MODES and not w.pressed and w.last >= args.press_at \
                    and not exited:
                qmp = Qmp(qmp_path, deadline)
                qmp.command("qmp_capabilities", deadline)
                qmp.command("system_powerdown", deadline)
                pressed_at = time.monotonic()
                w.pressed = True
                print(f"[{pressed_at - start:7.3f}s] pressed the power button "
                      "(QMP system_powerdown)", flush=True)
                # Whatever the guest printed until now may predate the press.
                read_serial()
                w.press_counter = w.last
                # Powering off gets its own deadline, however long the boot took.
                deadline = pressed_at + args.timeout
                continue
            if exited:
                with open(err) as f:
                    msg = f.read().strip()
                if accel == "kvm" and not w.header and "kvm" in msg.lower():
                    return None, msg  # KVM unusable after all: caller retries TCG
                if args.expect == "poweroff" and w.pressed:
                    check_poweroff(w, proc, qmp, msg, deadline)
                    w.exit_after = time.monotonic() - pressed_at
                    break
                raise Failed(f"QEMU exited with {proc.returncode} before the guest "
                             f"finished: {msg or '(no stderr)'}")
            if time.monotonic() > deadline:
                what = "QEMU to exit after the power button" if args.expect == "poweroff" \
                    and w.pressed else "the guest"
                raise Failed(f"timed out after {args.timeout}s waiting for {what} "
                             f"(last counter {w.last})")
            time.sleep(0.05)
        if args.expect == "button-ignored":
            # The press reached QEMU (and the guest chose to ignore it).
            if not qmp.event("POWERDOWN"):
                qmp.command("query-status", deadline)  # flushes pending events
                if not qmp.event("POWERDOWN"):
                    raise Failed("QEMU sent no POWERDOWN event for system_powerdown")
            if proc.poll() is not None:
                raise Failed(f"QEMU exited ({proc.returncode}) although the guest "
                             "ignores the button")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if qmp:
            qmp.close()
    return w, None


def check_poweroff(w, proc, qmp, stderr, deadline):
    """QEMU exited after the press: it must be the guest's own S5."""
    if w.poweroff_at is None:
        raise Failed(f"QEMU exited ({proc.returncode}) without the guest printing "
                     f"{POWEROFF_LINE!r}: {stderr or '(no stderr)'}")
    if proc.returncode != 0:
        raise Failed(f"QEMU exited with {proc.returncode} after the power-off: "
                     f"{stderr or '(no stderr)'}")
    qmp.drain(deadline)
    if not qmp.event("POWERDOWN"):
        raise Failed("QEMU sent no POWERDOWN event for system_powerdown")
    ev = qmp.event("SHUTDOWN")
    if not ev or ev.get("data", {}).get("reason") != "guest-shutdown":
        raise Failed(f"expected a SHUTDOWN event with reason guest-shutdown, got {ev!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kernel", required=True)
    p.add_argument("--qemu", default=os.environ.get("MD_QEMU", "qemu-system-x86_64"))
    p.add_argument("--append", default="dirty=8M period=50")
    p.add_argument("--machine", choices=["pc", "q35"], default="pc")
    p.add_argument("--expect", choices=["counter", "corrupt"] + list(BUTTON_MODES),
                   default="counter")
    p.add_argument("--count", type=int, default=5, help="last counter to wait for")
    p.add_argument("--press-at", type=int, default=2,
                   help="press the power button once this counter was printed")
    p.add_argument("--after", type=int, default=5,
                   help="button-ignored: counters the guest must print after the press")
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
    if args.expect == "poweroff":
        extra = (f", button after counter {w.press_counter}, QEMU exited by itself "
                 f"{w.exit_after:.3f}s later (SHUTDOWN reason guest-shutdown)")
    elif args.expect == "button-ignored":
        extra = f", button after counter {w.press_counter}, guest still running"
    else:
        extra = ""
    print(f"PASS ({accel}, {args.machine}): header at {w.header_at:.3f}s, counter 1 at "
          f"{w.first_counter_at:.3f}s, counter {w.last} reached{extra}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
