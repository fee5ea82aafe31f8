#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The test guest (tests/guest): its console (SerialLog), the proof that a
migration carried it whole (check_arrival, ArrivalFailed), its domain XML
(guest_xml) and Guest, which ties the three to a host."""

import os
import re
import uuid as uuidlib
from xml.sax.saxutils import escape as xml_escape, quoteattr

import harness_base
from harness_base import BOOT_DEADLINE, DEADLINE, WaitTimeout, domain_type, wait_until
from harness_processes import pid_alive


class SerialLog:
    """The guest's serial console log (tests/guest): a header line
    `guest: dirty=... boot=0x...`, then `counter N pass=P boot=0x...` lines
    with N rising by one from 1; `MEMORY CORRUPT ...` if its memory check
    fails. boot= identifies one boot of the guest."""

    COUNTER = re.compile(r'^counter (\d+)(?: pass=(\d+))?(?: boot=(0x[0-9a-f]+))?\s*$')
    CORRUPT = 'MEMORY CORRUPT'

    def __init__(self, path):
        self.path = path

    def text(self):
        try:
            with open(self.path, 'rb') as f:
                return f.read().decode('ascii', errors='replace')
        except FileNotFoundError:
            return ''

    def lines(self):
        """Complete lines only (the last one may still be in flight)."""
        t = self.text().replace('\r\n', '\n').replace('\r', '\n')
        return t.split('\n')[:-1]

    def check_not_corrupt(self):
        t = self.text()
        if self.CORRUPT in t:
            i = t.index(self.CORRUPT)
            raise AssertionError('the guest reported memory corruption in %s: %r' %
                                 (self.path, t[max(0, i - 200):i + 200]))

    def entries(self):
        """[(counter, boot)] of the complete counter lines; asserts no corruption."""
        self.check_not_corrupt()
        return [(int(m.group(1)), m.group(3)) for m in map(self.COUNTER.match, self.lines()) if m]

    def counters(self):
        return [c for c, _ in self.entries()]

    def boot_ids(self):
        """The distinct boot= values, in order of appearance."""
        ids = []
        for _, b in self.entries():
            if b is not None and b not in ids:
                ids.append(b)
        return ids

    def last_counter(self):
        c = self.counters()
        return c[-1] if c else None

    def wait_counter(self, min_value, timeout=None):
        """Waits until the guest printed `counter N` with N >= min_value;
        returns the last value seen."""
        def reached():
            c = self.last_counter()
            return c if c is not None and c >= min_value else None
        try:
            return wait_until(reached, timeout or BOOT_DEADLINE,
                              'counter >= %d in %s' % (min_value, self.path))
        except WaitTimeout as e:
            raise WaitTimeout('%s; last counter %r; log tail %r' %
                              (e, self.last_counter(), self.text()[-300:])) from None

    def wait_advance(self, by=3, timeout=None):
        """Waits until the counter rose by @by from its current value (or
        reached @by if there is none yet); returns (before, after)."""
        before = self.last_counter()
        after = self.wait_counter((before if before is not None else 0) + by, timeout)
        return before, after

    def assert_continuous(self):
        """The counter rises by exactly one per line within one boot (nothing
        lost, nothing repeated: the same guest ran on); returns the counters."""
        e = self.entries()
        bad = [(a, b) for a, b in zip(e, e[1:]) if a[1] == b[1] and b[0] != a[0] + 1]
        if bad:
            raise AssertionError('counter not continuous in %s: %r' % (self.path, bad[:5]))
        return [c for c, _ in e]


class ArrivalFailed(AssertionError):
    """A migrated guest did not arrive whole. source_last is the source's
    last counter, destination_first the destination's first (None: none)."""

    def __init__(self, message, source_last=None, destination_first=None):
        super().__init__(message)
        self.source_last = source_last
        self.destination_first = destination_first


def _counter_line(line):
    """(counter, pass, boot) of a `counter N pass=P boot=B` line, or None."""
    m = SerialLog.COUNTER.match(line)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)) if m.group(2) is not None else None, m.group(3)


def check_arrival(source, destination, dirty=True, source_pids=(), timeout=None):
    """The guest's own proof that a migration carried it whole, from its
    console on the source and on the destination (SerialLog or path).

    With @dirty, first waits until the destination has checked every page of
    the dirty area since it arrived: the guest checks a page against the
    previous pass before rewriting it, so two more completed passes than its
    first line on the destination shows cover the whole area. Then:
    no MEMORY CORRUPT on either side; the two consoles, joined, are one
    stream (the line in flight at the switch-over is split between them):
    the destination goes on with exactly the source's last counter + 1, the
    same boot, counting by one, without booting again; and the source QEMUs
    (@source_pids) are gone. Returns (source's last counter, destination's
    first); raises ArrivalFailed naming both."""
    src = source if isinstance(source, SerialLog) else SerialLog(source)
    dst = destination if isinstance(destination, SerialLog) else SerialLog(destination)
    timeout = BOOT_DEADLINE if timeout is None else timeout
    src_text = src.text()
    src_lines = src_text.replace('\r', '').split('\n')
    # The split line's start is the last, unterminated piece of the source's log.
    src_tail = src_lines.pop()
    src_counters = [c for c in map(_counter_line, src_lines) if c]
    last = src_counters[-1] if src_counters else None
    last_n = last[0] if last else None

    def dst_lines():
        return (src_tail + dst.text().replace('\r', '')).split('\n')[:-1]

    def fail(what, first=None):
        if first is None:
            first = next((c[0] for c in map(_counter_line, dst_lines()) if c), None)
        raise ArrivalFailed('%s: the source stopped at counter %s, the destination went on with counter %s '
                            '(consoles %s and %s)' % (what, last_n, first, src.path, dst.path), last_n, first)

    if SerialLog.CORRUPT in src_text:
        fail('the guest reported memory corruption on the source (%s)' %
             next(l for l in src_lines if SerialLog.CORRUPT in l).strip())
    if last is None:
        fail('the guest never counted on the source')

    def checked_all():
        counters = [c for c in map(_counter_line, dst_lines()) if c]
        if SerialLog.CORRUPT in dst.text() or len(counters) < 2:
            return SerialLog.CORRUPT in dst.text()
        if not dirty:
            return True
        first_pass, now_pass = counters[0][1], counters[-1][1]
        return first_pass is not None and now_pass is not None and now_pass >= first_pass + 2
    try:
        wait_until(checked_all, timeout, 'the guest to check its whole dirty area on the destination (%s)'
                   % dst.path, poll=0.1)
    except WaitTimeout as e:
        counters = [c for c in map(_counter_line, dst_lines()) if c]
        fail('%s; the destination printed %d counter lines, passes %s' % (
            e, len(counters), [c[1] for c in counters[:1] + counters[-1:]]))
    lines = dst_lines()
    counters = [c for c in map(_counter_line, lines) if c]
    first = counters[0][0] if counters else None
    corrupt = [l for l in lines if SerialLog.CORRUPT in l]
    if corrupt or SerialLog.CORRUPT in dst.text():
        fail('the guest reported memory corruption on the destination (%s)' %
             (corrupt[0].strip() if corrupt else dst.text()[-200:]), first)
    if any(l.startswith('guest: dirty=') for l in lines):
        fail('the guest booted again on the destination', first)
    if not lines or _counter_line(lines[0]) is None:
        fail('the destination\'s console does not go on with a counter line (%r)' % (lines[:1],), first)
    if first < last_n + 1:
        fail('the counter went back', first)
    if first > last_n + 1:
        fail('the counter skipped %d' % (first - last_n - 1), first)
    boots = {c[2] for c in counters}
    if boots != {last[2]}:
        fail('the destination runs another boot of the guest (%s, the source %s)' % (sorted(boots), last[2]),
             first)
    gaps = [(a[0], b[0]) for a, b in zip(counters, counters[1:]) if b[0] != a[0] + 1]
    if gaps:
        fail('the counter does not go on by one on the destination: %r' % gaps[:3], first)
    for pid in source_pids:
        try:
            wait_until(lambda: not pid_alive(pid), DEADLINE, 'the source QEMU (pid %d) to exit' % pid)
        except WaitTimeout as e:
            fail('the source QEMU is still there: %s' % e, first)
    return last_n, first


def guest_xml(name, uuid=None, serial_path=None, memory_mib=64, kernel=None, cmdline='dirty=8M period=100',
              virt_type=None, devices_extra='', title=None, initrd=None, memory_backing='', machine='pc',
              vcpu_xml="<vcpu>1</vcpu>", os_extra='', machine_extra=''):
    """A domain XML for the test guest kernel (or @kernel and @initrd);
    @memory_backing: the children of a <memoryBacking>, if any; @machine:
    the machine type; @os_extra goes into <os>, @machine_extra (<cpu>,
    <clock>, ...) after it."""
    kernel = kernel or harness_base.GUEST_KERNEL
    virt_type = virt_type or domain_type()
    parts = ["<domain type=%s>" % quoteattr(virt_type),
             "  <name>%s</name>" % xml_escape(name)]
    if uuid:
        parts.append("  <uuid>%s</uuid>" % uuid)
    if title:
        parts.append("  <title>%s</title>" % xml_escape(title))
    parts += [
        "  <memory unit='MiB'>%d</memory>" % memory_mib,
    ]
    if memory_backing:
        parts.append("  <memoryBacking>%s</memoryBacking>" % memory_backing)
    parts += [
        "  " + vcpu_xml,
        "  <os>",
        "    <type arch='x86_64' machine='%s'>hvm</type>" % xml_escape(machine),
        "    <kernel>%s</kernel>" % xml_escape(kernel),
    ]
    if initrd:
        parts.append("    <initrd>%s</initrd>" % xml_escape(initrd))
    parts += [
        "    <cmdline>%s</cmdline>" % xml_escape(cmdline),
    ]
    if os_extra:
        parts.append("    " + os_extra)
    parts.append("  </os>")
    if machine_extra:
        parts.append("  " + machine_extra)
    parts.append("  <devices>")
    if serial_path:
        parts += ["    <serial type='file'>",
                  "      <source path=%s/>" % quoteattr(serial_path),
                  "    </serial>"]
    if devices_extra:
        parts.append(devices_extra)
    parts += ["  </devices>", "</domain>", ""]
    return '\n'.join(parts)


class Guest:
    """A test guest: its name, UUID, XML and serial log; `dom` once defined."""

    def __init__(self, host, name=None, uuid=None, workdir=None, **xml_kw):
        self.host = host
        self.uuid = uuid or str(uuidlib.uuid4())
        self.name = name or 'guest-' + self.uuid[:8]
        workdir = workdir or host.dir
        # The UUID in the path: the QEMU command line then names the guest
        # whatever else the daemon passes, so leftovers are always found.
        self.serial_path = os.path.join(workdir, 'serial-%s.log' % self.uuid)
        self.serial = SerialLog(self.serial_path)
        self.xml_kw = xml_kw
        self.dom = None
        host.domain_uuids.add(self.uuid)

    def xml(self, **over):
        kw = dict(self.xml_kw)
        kw.update(over)
        return guest_xml(self.name, self.uuid, self.serial_path, **kw)

    def define(self):
        self.dom = self.host.define(self.xml())
        return self.dom
