#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the migration-feature tests (tests/integration/features).

Built on ../harness.py (imported from the parent directory): two hosts with
their own buses and daemons, the counting test guest, condition-based waits.
This module adds:

- hosts whose incoming QEMU listens on 127.0.0.1 ([migration] address; the
  harness' host names do not resolve), with extra configuration per test;
- the accelerator: KVM when /dev/kvm works (harness.domain_type(), MD_ACCEL
  forces it), the same guests under both;
- asynchronous calls (Perform replies when the stream has ended; signals are
  dispatched and recorded meanwhile);
- a driver for the five v3 phases in the ...Params form with any flags and
  typed parameters, the protocol 2 calls, and the proofs that a live
  migration happened (the counter goes on on the destination's console,
  same boot, memory check clean, source QEMU gone);
- the QEMU settings a job reports in its statistics (qemu.* keys).
"""

import contextlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PARENT = os.path.dirname(HERE)
sys.path.insert(0, PARENT)
# Appended: the migration directory's test_*.py must not shadow ours.
sys.path.append(os.path.join(PARENT, 'migration'))

import harness  # noqa: E402
import migtest  # noqa: E402
from harness import (BUS_NAME, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH,  # noqa: E402,F401
                     DEADLINE, BOOT_DEADLINE, CALL_TIMEOUT_MS, TIMEOUT_FACTOR,
                     WaitTimeout, wait_until, holds_for, pid_alive, proc_cmdline, find_qemu_pids,
                     domain_path, dbus_error_name, dbus_error_message, log)
# The flags, calls and signal helpers are the migration tests' (re-exported).
from migtest import (LIVE, PEER2PEER, PERSIST_DEST, UNDEFINE_SOURCE, PAUSED, CHANGE_PROTECTION,  # noqa: E402,F401
                     UNSAFE, OFFLINE, COMPRESSED, AUTO_CONVERGE, POSTCOPY, PARALLEL, SIGNAL_DEADLINE,
                     Pending, dcall, mcall, recorder, members, counter_rises, on_kvm, variant_dict)

GLib = harness.GLib
Gio = harness.Gio

MIGRATION_DEADLINE = 300.0 * TIMEOUT_FACTOR   # a whole migration phase

# A Perform that does not converge: 1 MiB/s (the smallest limit there is)
# and a 1 ms downtime limit, against a guest that rewrites megabytes a
# second. QEMU completes a pre-copy pass only when what is left fits in
# bandwidth x downtime (about 1 KiB here), which never happens while the
# guest runs; so the stream runs until it is aborted, switched to post-copy
# or the limits are lifted (even when compression makes pages tiny).
SLOW_MIB_S = 1
SLOW_DOWNTIME_MS = 1
DEFAULT_DOWNTIME_MS = 300

# QEMU 7.2's defaults, which a plain job sets and a finished job restores.
QEMU_DEFAULTS = {
    'qemu.multifd-channels': 2,
    'qemu.multifd-compression': 'none',
    'qemu.cpu-throttle-initial': 20,
    'qemu.cpu-throttle-increment': 10,
    'qemu.max-postcopy-bandwidth': 0,
    'qemu.cap.multifd': False,
    'qemu.cap.xbzrle': False,
    'qemu.cap.auto-converge': False,
    'qemu.cap.postcopy-ram': False,
}


# ---------------------------------------------------------------------------
# accelerator and guests

def announce_accel():
    # The same guests on both (TCG's RAM is kept off QEMU 7.2's dirty-bitmap grid).
    sys.stderr.write('[feattest] accelerator %s\n' % ('KVM' if on_kvm() else 'TCG'))
    sys.stderr.flush()


def dirty(size):
    """The guest's dirty area, the same under KVM and TCG."""
    return size


def profile(name='normal'):
    """Keyword arguments for harness.guest_xml().

    normal: 64 MiB, 32 MiB dirty: converges without a limit;
    light:  64 MiB, 8 MiB dirty."""
    if name == 'normal':
        return dict(memory_mib=64, cmdline='dirty=%s period=100' % dirty('32M'))
    if name == 'light':
        return dict(memory_mib=64, cmdline='dirty=8M period=100')
    raise ValueError(name)


class FGuest(migtest.MigGuest):
    """migtest's moving guest with this directory's profiles (profile()) and
    the proofs the feature tests take of it."""

    def __init__(self, tc, host, start=True, prof='normal', **kw):
        super().__init__(tc, host, profile=prof, start=start, **kw)

    @staticmethod
    def profile_kw(name):
        return profile(name)

    def moved_to(self, host, serial_path):
        self.serials.append(harness.SerialLog(serial_path))
        self.host = host

    def snapshot(self):
        """(boot id, QEMU pid) of the running guest."""
        self.serial.wait_counter(3, BOOT_DEADLINE)
        boots = self.serial.boot_ids()
        pids = self.qemu_pids()
        assert len(boots) == 1, 'the guest booted %d times: %r' % (len(boots), boots)
        assert len(pids) == 1, 'expected one QEMU of the guest, found %r' % pids
        return boots[0], pids[0]


# ---------------------------------------------------------------------------
# calls

def job_stats(host, path, flags=0):
    kind, stats = dcall(host, path, 'GetJobStats', 'u', (flags,), 'sa{sv}')
    return kind, stats


def settings(stats):
    """The qemu.* keys of job statistics."""
    return {k: v for k, v in stats.items() if k.startswith('qemu.')}


def state_reasons(signals):
    """(State, StateReason) after each Domain PropertiesChanged that changed either."""
    cur, out = {}, []
    for s in signals:
        if s.member != 'PropertiesChanged' or s.args[0] != DOMAIN_IFACE:
            continue
        changed = dict(s.args[1])
        cur.update(changed)
        if 'State' in changed or 'StateReason' in changed:
            out.append((cur.get('State'), cur.get('StateReason')))
    return out


# ---------------------------------------------------------------------------
# the five phases

class Mig:
    """One managed migration of @guest from @src to @dst in the ...Params
    form: this test calls the phases on the two buses and carries the
    cookies. @params (a dict of ('type', value)) go to Begin3, Prepare3 and
    Perform3, as libvirt passes them; the destination gets its own serial
    log through destination_xml."""

    def __init__(self, tc, guest, src, dst, flags=LIVE, params=None, dest_xml=True):
        self.tc, self.guest, self.src, self.dst, self.flags = tc, guest, src, dst, flags
        self.params = dict(params or {})
        self.dst_serial = guest.next_serial_path()
        self.dest_xml = guest.xml(serial_path=self.dst_serial) if dest_xml else None
        self.path = guest.path
        self.xml = self.cookie = self.uri = None
        self.pending = None

    def _params(self, **more):
        p = dict(self.params)
        p.update({k: v for k, v in more.items() if v is not None})
        return variant_dict(p)

    def begin(self):
        p = self._params(destination_xml=('s', self.dest_xml) if self.dest_xml else None)
        xml, cookie = dcall(self.src, self.path, 'Begin3Params', 'a{sv}u', (p, self.flags), 'say')
        self.xml, self.cookie = xml, bytes(cookie)
        return xml

    def prepare(self):
        p = self._params(destination_xml=('s', self.xml))
        cookie, uri = mcall(self.dst, 'Prepare3Params', 'a{sv}ayu', (p, self.cookie, self.flags), 'ays')
        self.cookie, self.uri = bytes(cookie), uri
        return uri

    def perform_start(self):
        p = self._params(migrate_uri=('s', self.uri) if self.uri else None)
        self.pending = Pending(self.src.connect(), self.path, DOMAIN_IFACE, 'Perform3Params', 'sa{sv}ayu',
                               ('', p, self.cookie, self.flags), 'ay')
        return self.pending

    def perform_wait(self):
        (cookie,) = self.pending.wait(MIGRATION_DEADLINE)
        self.cookie = bytes(cookie)
        return self.cookie

    def perform(self):
        self.perform_start()
        return self.perform_wait()

    def finish(self, cancelled=False):
        p = {'destination_name': ('s', self.guest.name)}
        if self.uri:
            p['migrate_uri'] = ('s', self.uri)
        path, cookie = Pending(self.dst.connect(), MANAGER_PATH, MANAGER_IFACE, 'Finish3Params', 'a{sv}ayub',
                               (variant_dict(p), self.cookie or b'', self.flags, cancelled), 'oay').wait()
        if not cancelled:
            self.cookie = bytes(cookie)
        return path

    def confirm(self, cancelled=False):
        dcall(self.src, self.path, 'Confirm3Params', 'a{sv}ayub', ({}, self.cookie or b'', self.flags, cancelled))

    def run(self):
        """All five phases, successfully; the guest then lives on @dst."""
        self.begin()
        self.prepare()
        self.perform()
        path = self.finish()
        self.confirm()
        self.guest.moved_to(self.dst, self.dst_serial)
        return path

    def cancel(self):
        """After a failed or aborted Perform3: libvirt's failure rules."""
        path = self.finish(cancelled=True)
        self.tc.assertEqual(path, '/')
        self.confirm(cancelled=True)


# ---------------------------------------------------------------------------
# proofs

def assert_moved(tc, src_serial, dst_serial, src_pid, boot):
    """The proof of a live migration: migtest's (harness.check_arrival)."""
    return migtest.assert_moved(tc, None, src_serial, dst_serial, src_pid, boot)


def assert_runs_here(tc, guest, host, pid=None, what=''):
    """The guest runs on @host without a job, its counter rising, memory intact."""
    dom = guest.dom(host)
    wait_until(lambda: dom.prop('State') == 'running' and dom.prop('JobType') == 'none', DEADLINE,
               '%s to run on %s without a job%s' % (guest.name, host.name, what))
    if pid is not None:
        tc.assertEqual(guest.qemu_pids(), [pid], 'the guest\'s QEMU processes changed%s' % what)
    counter_rises(tc, guest.serial)
    guest.serial.check_not_corrupt()


# ---------------------------------------------------------------------------
# test cases

def make_host(tc, name, config=None, **kw):
    extra = {'migration': {'address': '127.0.0.1'}}
    for section, keys in (config or {}).items():
        extra.setdefault(section, {}).update(keys)
    return tc.make_host(name, bus=tc.make_bus(name + '-bus', external_ok=False), config_extra=extra, **kw)


class FeatureTestCase(harness.MigrationdTestCase):
    """Two hosts, 'source' and 'destination', each on its own bus."""

    source_config = None
    destination_config = None

    def setUp(self):
        super().setUp()
        self.src = make_host(self, 'source', self.source_config)
        self.dst = make_host(self, 'destination', self.destination_config)

    def assertSettings(self, stats, expected, what):
        got = settings(stats)
        for k, v in expected.items():
            self.assertIn(k, got, '%s: no %r in the job statistics: %r' % (what, k, got))
            self.assertEqual(got[k], v, '%s: %s is %r, expected %r (all: %r)' % (what, k, got[k], v, got))

    def slow_down(self, guest, host=None):
        """MaxSpeed 1 MiB/s and MaxDowntime 1 ms: the next Perform never converges."""
        dom = guest.dom(host)
        dom.call('MigrateSetMaxSpeed', 'tu', (SLOW_MIB_S, 0))
        dom.call('MigrateSetMaxDowntime', 'tu', (SLOW_DOWNTIME_MS, 0))

    def speed_up(self, guest, host=None):
        dom = guest.dom(host)
        dom.call('MigrateSetMaxSpeed', 'tu', (0, 0))
        dom.call('MigrateSetMaxDowntime', 'tu', (DEFAULT_DOWNTIME_MS, 0))

    def wait_streaming(self, m, rec, n_stats=2):
        """Waits until the source reports a running stream (JobStatsUpdated
        with data sent); fails if Perform3 ended meanwhile."""
        def streaming():
            if m.pending.done:
                return True
            stats = members(rec.signals, 'JobStatsUpdated')
            return len(stats) >= n_stats and stats[-1].args[0].get('memory_processed', 0) > 0
        wait_until(streaming, MIGRATION_DEADLINE, 'statistics of a running stream')
        self.assertFalse(m.pending.done, 'Perform3 ended although it could not converge: %r' % (m.pending.error,))
        return members(rec.signals, 'JobStatsUpdated')

    def aborted_job(self, guest, flags, params, expected):
        """A job with @flags/@params on the slowed-down source: its settings
        show in GetJobStats(0) and JobStatsUpdated while Perform3 runs; then
        AbortJob and the failure rules (Finish3, Confirm3 cancelled). The
        guest runs on at the source."""
        boot, pid = guest.snapshot()
        self.slow_down(guest)
        m = Mig(self, guest, self.src, self.dst, flags=flags, params=params)
        with recorder(self.src, guest.path) as rec:
            m.begin()
            m.prepare()
            dst_pid = guest.qemu_pid_with(m.dst_serial)
            self.assertIsNotNone(dst_pid, 'Prepare3 started no incoming QEMU')
            m.perform_start()
            updates = self.wait_streaming(m, rec)
            kind, stats = job_stats(self.src, guest.path, 0)
            self.assertEqual(kind, 'unbounded')
            self.assertSettings(stats, expected, 'GetJobStats(0) during the job')
            self.assertSettings(updates[-1].args[0], expected, 'JobStatsUpdated during the job')
            dcall(self.src, guest.path, 'AbortJob', 'u', (0,))
            with self.tc_error('MigrationAborted'):
                m.perform_wait()
            m.cancel()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
            self.assertIs(done.args[0]['success'], False)
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to be gone')
        self.speed_up(guest)
        assert_runs_here(self, guest, self.src, pid, ' after the aborted job')
        self.assertEqual(guest.serial.boot_ids(), [boot])
        return stats

    def live_migration(self, guest, src, dst, flags=LIVE, params=None, expected=None):
        """A whole live migration; checks the move and, when given, the
        settings in JobCompleted and GetJobStats(1) on the source. Returns
        the source's JobCompleted statistics."""
        boot, pid = guest.snapshot()
        src_serial = guest.serial
        m = Mig(self, guest, src, dst, flags=flags, params=params)
        with recorder(src, guest.path) as rec:
            path = m.run()
            self.assertEqual(path, guest.path)
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
        completed = done.args[0]
        self.assertIs(completed['success'], True, completed)
        assert_moved(self, src_serial, guest.serial, pid, boot)
        dom = guest.dom(dst)
        self.assertEqual((dom.prop('State'), dom.prop('StateReason')), ('running', 'migrated'))
        if expected:
            self.assertSettings(completed, expected, 'JobCompleted of the migration')
            # A transient source domain has gone with its guest: then only the signal tells.
            if guest.path in src.list_domains(0):
                kind, last = job_stats(src, guest.path, 1)
                self.assertEqual(kind, 'completed')
                self.assertSettings(last, expected, 'GetJobStats(1) after the migration')
        return completed

    @contextlib.contextmanager
    def tc_error(self, name, *parts):
        with self.assertDBusError(name, *parts) as ctx:
            yield ctx


def main():
    announce_accel()
    harness.main()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    print(__doc__)
