"""The guests' serial consoles (tests/guest prints `counter N pass=P boot=ID`):
waiting for a booted guest, and checking after a run that the guest really
moved (harness.check_arrival: counts on from where it stopped, memory
intact, no reboot)."""

import re
import time

from .common import VERIFY_DEADLINE_S, BenchError, harness, now


COUNTER_RE = re.compile(r'^counter (\d+)(?: pass=(\d+))?(?: boot=(0x[0-9a-f]+))?')


def serial_state(path):
    """(last counter, its pass, corrupt?) of a tests/guest console log."""
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('ascii', errors='replace')
    except FileNotFoundError:
        return None, None, False
    last = passes = None
    for line in text.split('\n')[:-1]:
        m = COUNTER_RE.match(line.strip())
        if m:
            last = int(m.group(1))
            passes = int(m.group(2)) if m.group(2) is not None else None
    return last, passes, 'MEMORY CORRUPT' in text


def wait_serial(path, min_counter, min_pass, timeout, alive=None, what='the guest'):
    """Waits until the console shows `counter N pass=P` with N >= min_counter
    and P >= min_pass; @alive() raises if the QEMU behind it died."""
    deadline = now() + timeout
    while True:
        c, p, _ = serial_state(path)
        if c is not None and c >= min_counter and (min_pass <= 0 or (p is not None and p >= min_pass)):
            return c, p
        if alive is not None:
            alive()
        if now() > deadline:
            raise BenchError('%s printed no `counter >= %d pass >= %d` in %.0f s (last: counter %r pass %r, %s)'
                             % (what, min_counter, min_pass, timeout, c, p, path))
        time.sleep(0.01)


def verify_moved(src_serial, dst_serial, dirty, src_pids=(), timeout=VERIFY_DEADLINE_S):
    """After the timed section: the guest's own proof that it arrived whole
    (tests/integration's harness.check_arrival): the destination goes on with
    the source's last counter + 1, same boot, its memory check clean over the
    whole dirty area (@dirty: waits for the guest to have checked it there),
    and the source QEMUs @src_pids gone. Returns (ok, note, source's last
    counter, destination's first)."""
    try:
        last, first = harness.check_arrival(src_serial, dst_serial, dirty=dirty, source_pids=src_pids,
                                            timeout=timeout)
    except harness.ArrivalFailed as e:
        return False, str(e), e.source_last, e.destination_first
    return True, '', last, first
