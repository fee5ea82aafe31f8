"""The guests' serial consoles (tests/guest prints `counter N pass=P boot=ID`):
waiting for a booted guest, and checking after a run that the guest really
moved (counts on from where it stopped, memory intact, no reboot)."""

import re
import time

from .common import VERIFY_DEADLINE_S, BenchError, now


COUNTER_RE = re.compile(r'^counter (\d+)(?: pass=(\d+))?(?: boot=(0x[0-9a-f]+))?')


def boot_ids(path):
    """The boot= values of the counter lines, and whether a boot header is there."""
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('ascii', errors='replace')
    except FileNotFoundError:
        return set(), False
    ids = {m.group(3) for m in (COUNTER_RE.match(l.strip()) for l in text.split('\n')[:-1]) if m and m.group(3)}
    return ids, 'guest: dirty=' in text


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


def verify_moved(src_serial, dst_serial, timeout=VERIFY_DEADLINE_S):
    """After the timed section: the guest counts on at the destination, from
    where it stopped at the source, and its memory check is clean. Returns
    (ok, note)."""
    src_last, _, src_corrupt = serial_state(src_serial)
    deadline = now() + timeout
    while True:
        first = None
        try:
            with open(dst_serial, 'rb') as f:
                for line in f.read().decode('ascii', errors='replace').split('\n')[:-1]:
                    m = COUNTER_RE.match(line.strip())
                    if m:
                        first = int(m.group(1))
                        break
        except FileNotFoundError:
            pass
        if first is not None:
            break
        if now() > deadline:
            return False, 'no counter on the destination console within %.0f s' % timeout
        time.sleep(0.02)
    _, _, dst_corrupt = serial_state(dst_serial)
    if src_corrupt or dst_corrupt:
        return False, 'MEMORY CORRUPT on the %s console' % ('source' if src_corrupt else 'destination')
    if src_last is not None and not (src_last < first <= src_last + 2):
        return False, 'the destination counts from %d, the source stopped at %d' % (first, src_last)
    src_boots, _ = boot_ids(src_serial)
    dst_boots, rebooted = boot_ids(dst_serial)
    if rebooted or (src_boots and dst_boots and dst_boots != src_boots):
        return False, 'the guest booted again at the destination (boot %s, source %s)' % (
            sorted(dst_boots), sorted(src_boots))
    return True, ''
