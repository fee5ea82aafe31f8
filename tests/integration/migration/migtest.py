#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the managed-migration tests (tests/integration/migration).

Built on ../harness.py (imported from the parent directory): two hosts with
their own buses and daemons, a guest that counts on its serial console, and
condition-based waits. This module adds what migrations need:

- hosts whose QEMU listens on 127.0.0.1 ([migration] address), with per-host
  configuration (max_jobs, phase_timeout);
- guest profiles per accelerator: KVM when /dev/kvm works (harness'
  domain_type(), MD_ACCEL forces it), TCG otherwise with small dirty areas,
  announced loudly: QEMU 7.2 under TCG loses guest writes during a live
  migration when the guest dirties a large area fast (seen with raw QEMU,
  without migrationd), so a TCG run proves less;
- asynchronous method calls (Perform3 and Finish3 reply late; the main
  context keeps dispatching signals, so they are time-stamped when they come);
- a driver for the five phases of a managed migration in either form
  (Begin3Params ... or plain Begin3 ...), and the proofs that a live migration
  happened: the counter goes on on the destination's console from where it
  stopped on the source, same boot, memory check clean, source QEMU gone.
"""

import contextlib
import fcntl
import os
import sys
import time
from xml.sax.saxutils import quoteattr

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: the parent's test_*.py must not shadow ours.
if os.path.dirname(HERE) not in sys.path:
    sys.path.append(os.path.dirname(HERE))

import harness  # noqa: E402
from harness import (BUS_NAME, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH,  # noqa: E402
                     DEADLINE, BOOT_DEADLINE, CALL_TIMEOUT_MS, TIMEOUT_FACTOR,
                     wait_until, holds_for, pid_alive, proc_cmdline, find_qemu_pids, domain_path, log)

GLib = harness.GLib
Gio = harness.Gio

# libvirt's virDomainMigrateFlags
LIVE = 1 << 0
PEER2PEER = 1 << 1
TUNNELLED = 1 << 2
PERSIST_DEST = 1 << 3
UNDEFINE_SOURCE = 1 << 4
PAUSED = 1 << 5
CHANGE_PROTECTION = 1 << 8
UNSAFE = 1 << 9
OFFLINE = 1 << 10
COMPRESSED = 1 << 11
AUTO_CONVERGE = 1 << 13
RDMA_PIN_ALL = 1 << 14
POSTCOPY = 1 << 15
TLS = 1 << 16
PARALLEL = 1 << 17

# Generous: a busy 2-core machine, nested KVM, several tests at once.
MIGRATION_DEADLINE = 240.0 * TIMEOUT_FACTOR   # a whole migration phase
SIGNAL_DEADLINE = 120.0 * TIMEOUT_FACTOR      # a signal that must come


# ---------------------------------------------------------------------------
# accelerator and guest profiles

def accel():
    return harness.domain_type()


def on_kvm():
    return accel() == 'kvm'


def announce_accel():
    # The same guests on both: TCG guests get RAM off QEMU 7.2's dirty-bitmap
    # grid (src/drivers/qemu-command.h), so their live migrations are exact too.
    sys.stderr.write('[migtest] accelerator %s\n' % ('KVM' if on_kvm() else 'TCG'))
    sys.stderr.flush()


def guest_profile(profile='normal'):
    """Keyword arguments for harness.guest_xml().

    normal: 64 MiB, a dirty area the stream must keep up with;
    slow:   256 MiB and a large dirty area, for a Perform3 that lasts under
            a low speed limit (aborts, faults: these streams never complete);
    light:  64 MiB, a small dirty area: converges under a modest speed limit
            (one pass at 8 MiB/s fits in a 2 s downtime).

    The same on KVM and TCG."""
    if profile == 'normal':
        return dict(memory_mib=64, cmdline='dirty=32M period=100')
    if profile == 'slow':
        return dict(memory_mib=256, cmdline='dirty=64M period=100')
    if profile == 'light':
        return dict(memory_mib=64, cmdline='dirty=8M period=100')
    raise ValueError(profile)


# ---------------------------------------------------------------------------
# calls

def variant_dict(d):
    """{'key': ('t', 5)} or {'key': GLib.Variant} -> a{sv} values."""
    out = {}
    for k, v in d.items():
        out[k] = v if isinstance(v, GLib.Variant) else GLib.Variant(v[0], v[1])
    return out


class Pending:
    """An asynchronous method call: the main context keeps running (signals
    are dispatched and time-stamped as they come) until wait()."""

    def __init__(self, client, path, iface, method, sig=None, args=(), reply_sig=None,
                 timeout_ms=None, dest=BUS_NAME):
        self.what = '%s %s.%s' % (client.name, iface.rsplit('.', 1)[-1], method)
        self.done = False
        self.result = None
        self.error = None
        self.t0 = time.monotonic()
        self.t1 = None
        reply_type = GLib.VariantType.new('(%s)' % reply_sig) if reply_sig is not None else None
        client.conn.call(dest, path, iface, method, harness._variant(sig, args), reply_type,
                         Gio.DBusCallFlags.NONE, CALL_TIMEOUT_MS if timeout_ms is None else timeout_ms,
                         None, self._on_reply)

    def _on_reply(self, conn, res):
        try:
            reply = conn.call_finish(res)
            self.result = reply.unpack() if reply is not None else ()
        except GLib.Error as e:
            self.error = e
        self.t1 = time.monotonic()
        self.done = True

    @property
    def elapsed(self):
        return (self.t1 if self.t1 is not None else time.monotonic()) - self.t0

    def wait(self, timeout=None):
        """The reply tuple; raises the GLib.Error of an error reply."""
        wait_until(lambda: self.done, timeout or (CALL_TIMEOUT_MS / 1000.0 + 30), 'the reply to ' + self.what)
        if self.error is not None:
            raise self.error
        return self.result


def call(client, path, iface, method, sig=None, args=(), reply_sig=None, timeout_ms=None):
    return Pending(client, path, iface, method, sig, args, reply_sig, timeout_ms).wait()


def dcall(host, path, method, sig=None, args=(), reply_sig=None, timeout_ms=None):
    return call(host.connect(), path, DOMAIN_IFACE, method, sig, args, reply_sig, timeout_ms)


def mcall(host, method, sig=None, args=(), reply_sig=None, timeout_ms=None):
    return call(host.connect(), MANAGER_PATH, MANAGER_IFACE, method, sig, args, reply_sig, timeout_ms)


# ---------------------------------------------------------------------------
# hosts and guests

def _merge(*configs):
    out = {}
    for c in configs:
        for section, keys in (c or {}).items():
            out.setdefault(section, {}).update(keys)
    return out


def make_migration_host(tc, name, config=None, **kw):
    """A host whose incoming QEMU listens on 127.0.0.1, so that the uri_out of
    Prepare3 is reachable (the harness' host names do not resolve)."""
    extra = _merge({'migration': {'address': '127.0.0.1'}}, config)
    return tc.make_host(name, bus=tc.make_bus(name + '-bus', external_ok=False), config_extra=extra, **kw)


class MigGuest:
    """A test guest that moves between hosts. Each hop gets its own serial
    log (serial-UUID-hopN.log: the UUID in the path, as the harness does, so
    that leftovers are found)."""

    def __init__(self, tc, host, profile='normal', start=True, **kw):
        xml_kw = dict(self.profile_kw(profile))
        xml_kw.update(kw)
        ident = {k: xml_kw.pop(k) for k in ('name', 'uuid') if k in xml_kw}
        self.tc = tc
        self.g = tc.make_guest(host, define=True, start=start, **ident, **xml_kw)
        self.uuid = self.g.uuid
        self.name = self.g.name
        self.xml_kw = xml_kw
        self.path = domain_path(self.uuid)
        self.host = host
        self.serials = [self.g.serial]
        for h in tc.hosts:
            h.domain_uuids.add(self.uuid)

    @staticmethod
    def profile_kw(profile):
        """harness.guest_xml() arguments of @profile (guest_profile)."""
        return guest_profile(profile)

    @property
    def serial(self):
        return self.serials[-1]

    def dom(self, host=None):
        return harness.Domain(host or self.host, self.path)

    def next_serial_path(self):
        return os.path.join(self.tc.workdir, 'serial-%s-hop%d.log' % (self.uuid, len(self.serials)))

    def xml(self, name=None, serial_path=None, title=None):
        kw = dict(self.xml_kw)
        if title is not None:
            kw['title'] = title
        return harness.guest_xml(name or self.name, self.uuid, serial_path or self.serial.path, **kw)

    def qemu_pids(self):
        return find_qemu_pids(self.uuid)

    def qemu_pid_with(self, needle):
        """The QEMU of this guest whose command line contains @needle (a serial path)."""
        pids = [p for p in self.qemu_pids() if any(needle in a for a in (proc_cmdline(p) or []))]
        return pids[0] if pids else None

    def destroy(self):
        """Destroys the guest where it runs and waits until no QEMU of it is left."""
        pids = self.qemu_pids()
        dom = self.dom()
        with contextlib.suppress(GLib.Error):
            if dom.prop('State') != 'shutoff':
                dcall(self.host, self.path, 'Destroy', 'u', (0,))
        wait_until(lambda: not any(pid_alive(p) for p in pids), DEADLINE, 'the QEMU of %s to exit' % self.name)


def disk_image(tc, name, size=1 << 20):
    """A raw disk image of @size bytes in the test's directory; its path."""
    path = os.path.join(tc.workdir, name)
    with open(path, 'wb') as f:
        f.truncate(size)
    return path


def disk_xml(path, cache='none'):
    """A <disk> for harness.guest_xml(devices_extra=): @path as raw virtio vda.
    cache='none' by default: a LIVE migration of a writable disk with another
    cache mode on a local file system is refused (Error.Unsafe)."""
    return ("    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='raw' cache='%s'/>\n"
            "      <source file=%s/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>" % (cache, quoteattr(path)))


def block_image_writes(tc, path):
    """Holds a lock on @path where QEMU's image locking sees another user
    that does not share write access (byte 200 + the bit of the write
    permission): a QEMU that has the image open already, or opened it
    inactive for an incoming migration, runs on; one that activates it
    (cont after the stream) fails with 'Failed to get "write" lock'. Until
    the returned function (also a clean-up of @tc) releases it."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 201)
    state = {'fd': fd}

    def release():
        if state['fd'] is not None:
            os.close(state['fd'])
            state['fd'] = None
    tc.addCleanup(release)
    return release


def recorder(host, path):
    """Records every signal on @path of @host's bus (PropertiesChanged and the
    Domain signals)."""
    return host.connect().record(path=path)


def counter_rises(tc, serial, by=3, timeout=None):
    before, after = serial.wait_advance(by, timeout or BOOT_DEADLINE)
    tc.assertGreater(after, before if before is not None else 0)
    return after


def assert_runs_here(tc, guest, host, pids=None, what=''):
    """The guest runs on @host: State running, no job, exactly the QEMU(s)
    @pids (when given), its counter rising, memory intact."""
    dom = guest.dom(host)
    wait_until(lambda: dom.prop('State') == 'running' and dom.prop('JobType') == 'none', DEADLINE,
               '%s to run on %s without a job%s' % (guest.name, host.name, what))
    if pids is not None:
        tc.assertEqual(guest.qemu_pids(), sorted(pids), 'the guest\'s QEMU processes changed%s' % what)
    counter_rises(tc, guest.serial)
    guest.serial.check_not_corrupt()


# ---------------------------------------------------------------------------
# the five phases

class Managed:
    """One managed migration of @guest from @src to @dst: the client (this
    test) calls the five phases over the two buses and carries the cookies.

    form 'params' uses Begin3Params ..., 'plain' Begin3 ...; dest_xml is the
    domain XML for the destination (destination_xml / xmlin), or with
    edit_xml the XML from Begin3 is changed before Prepare3 (the other way to
    give the destination another serial log)."""

    def __init__(self, tc, guest, src, dst, form='params', flags=LIVE, dname=None, dest_xml=None,
                 edit_xml=None, bandwidth=None, extra_params=None, phase_params=None):
        assert form in ('params', 'plain')
        self.tc, self.guest, self.src, self.dst = tc, guest, src, dst
        self.form, self.flags, self.dname, self.dest_xml = form, flags, dname, dest_xml
        self.edit_xml, self.bandwidth = edit_xml, bandwidth
        self.extra_params = extra_params or {}
        # Typed parameters for Begin3, Prepare3 and Perform3 alike (libvirt passes them to every phase).
        self.phase_params = phase_params or {}
        self.path = guest.path
        self.xml = self.cookie = self.uri = None
        self.perform_pending = None
        self.finish_path = None

    @property
    def params(self):
        return self.form == 'params'

    @property
    def final_name(self):
        return self.dname or self.guest.name

    def _begin_params(self):
        p = {}
        if self.dest_xml:
            p['destination_xml'] = ('s', self.dest_xml)
        if self.dname:
            p['destination_name'] = ('s', self.dname)
        if self.bandwidth is not None:
            p['bandwidth'] = ('t', self.bandwidth)
        p.update(self.extra_params)
        p.update(self.phase_params)
        return variant_dict(p)

    def begin(self, client=None):
        client = client or self.src.connect()
        if self.params:
            xml, cookie = call(client, self.path, DOMAIN_IFACE, 'Begin3Params', 'a{sv}u',
                               (self._begin_params(), self.flags), 'say')
        else:
            xml, cookie = call(client, self.path, DOMAIN_IFACE, 'Begin3', 'sstu',
                               (self.dest_xml or '', self.dname or '', self.bandwidth or 0, self.flags), 'say')
        self.xml = self.edit_xml(xml) if self.edit_xml else xml
        self.cookie = bytes(cookie)
        return self.xml, self.cookie

    def prepare(self, client=None, cookie=None, xml=None):
        client = client or self.dst.connect()
        cookie = self.cookie if cookie is None else cookie
        xml = self.xml if xml is None else xml
        if self.params:
            p = {'destination_xml': ('s', xml)}
            if self.dname:
                p['destination_name'] = ('s', self.dname)
            if self.bandwidth is not None:
                p['bandwidth'] = ('t', self.bandwidth)
            p.update(self.phase_params)
            cookie_out, uri = call(client, MANAGER_PATH, MANAGER_IFACE, 'Prepare3Params', 'a{sv}ayu',
                                   (variant_dict(p), cookie, self.flags), 'ays')
        else:
            cookie_out, uri = call(client, MANAGER_PATH, MANAGER_IFACE, 'Prepare3', 'sstaysu',
                                   (xml, self.dname or '', self.bandwidth or 0, cookie, '', self.flags), 'ays')
        self.cookie, self.uri = bytes(cookie_out), uri
        return self.cookie, self.uri

    def perform_start(self, client=None, dconnuri=''):
        client = client or self.src.connect()
        if self.params:
            p = {'migrate_uri': ('s', self.uri)}
            if self.bandwidth is not None:
                p['bandwidth'] = ('t', self.bandwidth)
            p.update(self.phase_params)
            self.perform_pending = Pending(client, self.path, DOMAIN_IFACE, 'Perform3Params', 'sa{sv}ayu',
                                           (dconnuri, variant_dict(p), self.cookie, self.flags), 'ay')
        else:
            self.perform_pending = Pending(client, self.path, DOMAIN_IFACE, 'Perform3', 'sayssstu',
                                           ('', self.cookie, dconnuri, self.uri, '', self.bandwidth or 0,
                                            self.flags), 'ay')
        return self.perform_pending

    def perform_wait(self, timeout=None):
        (cookie,) = self.perform_pending.wait(timeout or MIGRATION_DEADLINE)
        self.cookie = bytes(cookie)
        return self.cookie

    def perform(self):
        self.perform_start()
        return self.perform_wait()

    def finish_start(self, cancelled=False, timeout_ms=None, client=None):
        client = client or self.dst.connect()
        cookie = b'' if self.cookie is None else self.cookie
        if self.params:
            p = {'destination_name': ('s', self.final_name)}
            if self.uri:
                p['migrate_uri'] = ('s', self.uri)
            return Pending(client, MANAGER_PATH, MANAGER_IFACE, 'Finish3Params', 'a{sv}ayub',
                           (variant_dict(p), cookie, self.flags, cancelled), 'oay', timeout_ms=timeout_ms)
        return Pending(client, MANAGER_PATH, MANAGER_IFACE, 'Finish3', 'saysub',
                       (self.final_name, cookie, self.uri or '', self.flags, cancelled), 'oay',
                       timeout_ms=timeout_ms)

    def finish(self, cancelled=False, timeout_ms=None):
        path, cookie = self.finish_start(cancelled, timeout_ms).wait(MIGRATION_DEADLINE)
        self.finish_path = path
        self.cookie = bytes(cookie)
        return path, self.cookie

    def confirm(self, cancelled=False, client=None, cookie=None):
        client = client or self.src.connect()
        if cookie is None:
            cookie = self.cookie or b''
        if self.params:
            call(client, self.path, DOMAIN_IFACE, 'Confirm3Params', 'a{sv}ayub',
                 ({}, cookie, self.flags, cancelled), None, timeout_ms=int(MIGRATION_DEADLINE * 1000))
        else:
            call(client, self.path, DOMAIN_IFACE, 'Confirm3', 'ayub', (cookie, self.flags, cancelled), None,
                 timeout_ms=int(MIGRATION_DEADLINE * 1000))


# ---------------------------------------------------------------------------
# what a migration leaves behind

def property_trace(signals):
    """[(changed, snapshot)] of the Domain PropertiesChanged signals, where
    snapshot accumulates every value seen so far."""
    cur = {}
    out = []
    for s in signals:
        if s.member != 'PropertiesChanged' or s.args[0] != DOMAIN_IFACE:
            continue
        changed = dict(s.args[1])
        cur.update(changed)
        out.append((changed, dict(cur)))
    return out


def phases_seen(signals):
    """JobPhase values from PropertiesChanged, consecutive repeats folded."""
    phases = []
    for changed, _ in property_trace(signals):
        p = changed.get('JobPhase')
        if p is not None and (not phases or phases[-1] != p):
            phases.append(p)
    return phases


def job_types_seen(signals):
    """JobType values from PropertiesChanged, consecutive repeats folded."""
    types = []
    for changed, _ in property_trace(signals):
        t = changed.get('JobType')
        if t is not None and (not types or types[-1] != t):
            types.append(t)
    return types


def progress_seen(signals):
    """JobProgress values while a job exists (JobType is not none)."""
    return [snap['JobProgress'] for changed, snap in property_trace(signals)
            if 'JobProgress' in changed and snap.get('JobType', 'none') != 'none']


def members(signals, member):
    return [s for s in signals if s.member == member and s.iface == DOMAIN_IFACE]


def assert_monotonic(tc, values, what):
    bad = [(a, b) for a, b in zip(values, values[1:]) if b < a]
    tc.assertFalse(bad, '%s ran backwards: %r (all: %r)' % (what, bad, values))


def dst_serial_entries_after(serial, last):
    return [(c, b) for c, b in serial.entries() if c > last]


def assert_moved(tc, guest, src_serial, dst_serial, src_pid, boot):
    """The proof of a live migration, the guest's own (harness.check_arrival):
    the source QEMU is gone; the destination's console goes on with exactly
    the source's last counter + 1, same boot (@boot), no new boot; and once
    the guest has checked its whole dirty area on the destination, neither
    console says MEMORY CORRUPT. Returns (source's last counter,
    destination's first)."""
    try:
        last, first = harness.check_arrival(src_serial, dst_serial, source_pids=[src_pid])
    except harness.ArrivalFailed as e:
        tc.fail(str(e))
    tc.assertEqual(set(dst_serial.boot_ids()), {boot}, 'the destination runs another boot of the guest '
                   '(the source\'s was %s)' % boot)
    return last, first


def snapshot_before(guest):
    """(boot id, the source's QEMU pid) of a running guest."""
    guest.serial.wait_counter(3, BOOT_DEADLINE)
    boots = guest.serial.boot_ids()
    pids = guest.qemu_pids()
    assert len(boots) == 1, 'the guest booted %d times: %r' % (len(boots), boots)
    assert len(pids) == 1, 'expected one QEMU of the guest, found %r' % pids
    return boots[0], pids[0]


class MigrationTestCase(harness.MigrationdTestCase):
    """Two hosts ('source' and 'destination'), each on its own bus; the
    configuration of each can be extended per test class."""

    source_config = None
    destination_config = None
    source_kw = {}
    destination_kw = {}

    def setUp(self):
        super().setUp()
        self.src = make_migration_host(self, 'source', self.source_config, **self.source_kw)
        self.dst = make_migration_host(self, 'destination', self.destination_config, **self.destination_kw)

    # -- a whole migration with every observation

    def migrate_observed(self, guest, src, dst, form='params', flags=LIVE, dname=None, use_dest_xml=True,
                         title=None, check_stats_rate=True, speedup=True):
        """Migrates @guest from @src to @dst with the five phases and checks
        everything a successful live migration shows: the guest's console,
        the source QEMU gone, the JobPhase sequences, JobProgress never
        running backwards, MigrationIteration, JobStatsUpdated (rate bounded),
        JobCompleted on both sides, GetJobStats(1).

        The stream starts under a 1 MiB/s limit (Begin3's bandwidth), which
        does not converge with the guest's dirty area, so that statistics are
        seen; once they are, MigrateSetMaxSpeed(0) lifts the limit on the
        running stream and it completes. Returns a dict of what was seen."""
        boot, src_pid = snapshot_before(guest)
        src_serial = guest.serial
        dst_serial_path = guest.next_serial_path()
        edit = None
        dest_xml = None
        final = dname or guest.name
        if use_dest_xml:
            dest_xml = guest.xml(name=final, serial_path=dst_serial_path, title=title)
        else:
            old = src_serial.path

            def edit(xml):
                self.assertIn(old, xml, 'Begin3 returned XML without the serial path')
                return xml.replace(old, dst_serial_path)
        m = Managed(self, guest, src, dst, form=form, flags=flags, dname=dname, dest_xml=dest_xml,
                    edit_xml=edit, bandwidth=1 if speedup else None)
        src_dom = guest.dom(src)
        with recorder(src, guest.path) as srec, recorder(dst, guest.path) as drec:
            m.begin()
            self.assertEqual(src_dom.prop('JobType'), 'migration-out')
            self.assertEqual(src_dom.prop('JobPhase'), 'begin3')
            m.prepare()
            self.assertRegex(m.uri, r'^tcp:127\.0\.0\.1:\d+$')
            port = int(m.uri.rsplit(':', 1)[1])
            self.assertTrue(dst.ports.port_min <= port <= dst.ports.port_max,
                            'uri_out %s outside the destination\'s port range' % m.uri)
            dst_dom = harness.Domain(dst, guest.path)
            self.assertEqual(dst_dom.prop('JobType'), 'migration-in')
            self.assertEqual(dst_dom.prop('JobPhase'), 'prepare')
            self.assertEqual(dst_dom.prop('State'), 'paused')
            self.assertEqual(dst_dom.prop('Name'), final)
            pending = m.perform_start()
            if speedup:
                # Two seconds' worth: enough to see the rate bound at work.
                wait_until(lambda: pending.done or (len(members(srec.signals, 'JobStatsUpdated')) >= 8 and
                                                    members(srec.signals, 'MigrationIteration')),
                           MIGRATION_DEADLINE, 'JobStatsUpdated x8 and MigrationIteration during Perform3')
                self.assertFalse(pending.done and pending.error is None,
                                 'Perform3 completed under 1 MiB/s, before the limit was lifted')
                self.assertEqual(src_dom.prop('JobPhase'), 'perform3')
                self.assertEqual(src_dom.prop('State'), 'running', 'a LIVE migration paused the guest early')
                kind, running = src_dom.call('GetJobStats', 'u', (0,), 'sa{sv}')
                self.assertEqual(kind, 'unbounded')
                self.assertEqual(running.get('phase'), 'perform3', running)
                for key in ('data_total', 'data_processed', 'memory_total', 'time_elapsed', 'progress'):
                    self.assertIn(key, running, 'GetJobStats of a running stream without %r' % key)
                self.assertEqual(dst_dom.call('GetJobStats', 'u', (0,), 'sa{sv}')[0], 'unbounded')
                dcall(src, guest.path, 'MigrateSetMaxSpeed', 'tu', (0, 0))
            m.perform_wait()
            perform_elapsed = pending.elapsed
            self.assertEqual(src_dom.prop('JobPhase'), 'perform3_done')
            self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('paused', 'migration'))
            path, _ = m.finish()
            self.assertEqual(path, guest.path)
            m.confirm()
            # Signals emitted before the replies are in by now; iterate once more.
            srec.matching()
            drec.matching()
            ssig, dsig = list(srec.signals), list(drec.signals)

        guest.serials.append(harness.SerialLog(dst_serial_path))
        guest.host = dst
        dst_dom = harness.Domain(dst, guest.path)
        self.assertEqual(dst_dom.prop('Name'), final)
        if flags & PAUSED:
            # PAUSED: the guest waits on the destination until Resume.
            self.assertEqual((dst_dom.prop('State'), dst_dom.prop('StateReason')), ('paused', 'migration'))
            wait_until(lambda: not pid_alive(src_pid), DEADLINE, 'the source QEMU (pid %d) to exit' % src_pid)
            before = guest.serial.text()
            holds_for(lambda: guest.serial.text() == before, 2.0,
                      'the destination console staying silent while the guest is paused')
            self.assertIsNone(guest.serial.last_counter(), 'the guest counted on the destination while paused')
            dst_dom.resume()
            self.assertEqual((dst_dom.prop('State'), dst_dom.prop('StateReason')), ('running', 'unpaused'))
        last, first = assert_moved(self, guest, src_serial, guest.serial, src_pid, boot)
        if not flags & PAUSED:
            self.assertEqual((dst_dom.prop('State'), dst_dom.prop('StateReason')), ('running', 'migrated'))
        self.assertEqual(dst_dom.prop('JobType'), 'none')
        pids = guest.qemu_pids()
        self.assertEqual(len(pids), 1, 'expected exactly one QEMU of the guest, found %r' % pids)
        self.assertIn(guest.serial.path, ' '.join(proc_cmdline(pids[0]) or []),
                      'the QEMU left is not the destination\'s')

        # The source's job, as its signals tell it.
        self.assertEqual(phases_seen(ssig), ['begin3', 'perform3', 'perform3_done', 'confirm3', 'none'],
                         'JobPhase sequence on the source')
        self.assertEqual(phases_seen(dsig), ['prepare', 'finish3', 'none'], 'JobPhase sequence on the destination')
        self.assertEqual(job_types_seen(ssig), ['migration-out', 'none'], 'JobType sequence on the source')
        self.assertEqual(job_types_seen(dsig), ['migration-in', 'none'], 'JobType sequence on the destination')
        prog = progress_seen(ssig)
        self.assertTrue(prog, 'no JobProgress change on the source')
        assert_monotonic(self, prog, 'JobProgress on the source')
        self.assertTrue(all(0 <= p < 100 for p in prog), 'JobProgress out of 0..99 while the job ran: %r' % prog)
        # 100 when the job has succeeded, and it stays so: the last change
        # the source announced, and the destination's property now.
        ended = [snap['JobProgress'] for changed, snap in property_trace(ssig) if 'JobProgress' in changed]
        self.assertEqual(ended[-1], 100.0, 'JobProgress on the source after the job: %r' % ended)
        self.assertEqual(dst_dom.prop('JobProgress'), 100.0, 'JobProgress on the destination after the job')
        stats = members(ssig, 'JobStatsUpdated')
        iters = [s.args[0] for s in members(ssig, 'MigrationIteration')]
        if speedup:
            self.assertGreaterEqual(len(stats), 8)
            self.assertTrue(iters, 'no MigrationIteration on the source')
        if iters:
            self.assertGreaterEqual(iters[0], 1)
            assert_monotonic(self, iters, 'MigrationIteration')
        assert_monotonic(self, [s.args[0]['progress'] for s in stats], 'the progress key of JobStatsUpdated')
        for s in stats:
            st = s.args[0]
            for key in ('phase', 'progress', 'time_elapsed', 'operation'):
                self.assertIn(key, st, 'JobStatsUpdated without %r: %r' % (key, st))
            self.assertEqual(st['phase'], 'perform3')
        if check_stats_rate and stats:
            # At most 4 a second: counted over the time Perform3 ran, with slack
            # for a signal at each end.
            self.assertLessEqual(len(stats), 4 * perform_elapsed + 2,
                                 '%d JobStatsUpdated in %.1f s of Perform3: more than 4 a second'
                                 % (len(stats), perform_elapsed))
        done = members(ssig, 'JobCompleted')
        self.assertEqual(len(done), 1, 'JobCompleted on the source: %r' % done)
        self.assertIs(done[0].args[0]['success'], True, done[0].args[0])
        self.assertEqual(done[0].args[0]['errmsg'], '')
        self.assertEqual(done[0].args[0]['progress'], 100.0)
        ddone = members(dsig, 'JobCompleted')
        self.assertEqual(len(ddone), 1, 'JobCompleted on the destination: %r' % ddone)
        self.assertIs(ddone[0].args[0]['success'], True, ddone[0].args[0])
        kind, dstats = dst_dom.call('GetJobStats', 'u', (1,), 'sa{sv}')
        self.assertEqual(kind, 'completed')
        self.assertIn('downtime', dstats, 'no real downtime on the destination: %r' % dstats)
        # Finish3's cookie told the source what QEMU there cannot see (libvirt's Confirm3).
        self.assertEqual(done[0].args[0].get('downtime'), dstats['downtime'],
                         'the source reports a downtime other than the one the destination measured')
        self.assertIs(dstats['success'], True)
        self.assertEqual(dst_dom.call('GetJobStats', 'u', (0,), 'sa{sv}')[0], 'none')
        log('migrated %s %s -> %s (%s): Perform3 %.1f s, %d JobStatsUpdated, iterations %r, '
            'JobProgress %r, source counter ended at %d, destination went on at %d, downtime %s ms'
            % (guest.name, src.name, dst.name, form, perform_elapsed, len(stats), iters,
               prog, last, first, dstats.get('downtime')))
        return dict(src_signals=ssig, dst_signals=dsig, last=last, first=first, perform_elapsed=perform_elapsed,
                    src_pid=src_pid, boot=boot, migration=m, source_completed=done[0].args[0],
                    destination_stats=dstats)


def main():
    announce_accel()
    harness.main()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    print(__doc__)
