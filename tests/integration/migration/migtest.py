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

The first four, everything that drives a migration, are in migtest_driver.py;
this module re-exports them and holds what a migration leaves behind (the
JobPhase/JobType/JobProgress traces, assert_moved, snapshot_before) and
MigrationTestCase with migrate_observed(). Tests import this one.
"""

import sys

# migtest_driver first: it puts ../ on sys.path for harness.
from migtest_driver import (
    AUTO_CONVERGE, BUS_NAME, CALL_TIMEOUT_MS, CHANGE_PROTECTION, COMPRESSED, DOMAIN_IFACE, GLib, Gio, HERE, LIVE,
    MANAGER_IFACE, MANAGER_PATH, MIGRATION_DEADLINE, OFFLINE, PARALLEL, PAUSED, PEER2PEER, PERSIST_DEST, POSTCOPY,
    RDMA_PIN_ALL, SIGNAL_DEADLINE, TIMEOUT_FACTOR, TLS, TUNNELLED, UNDEFINE_SOURCE, UNSAFE,
    Managed, MigGuest, Pending, _merge, accel, announce_accel, assert_runs_here, block_image_writes, call,
    counter_rises, dcall, disk_image, disk_xml, domain_path, find_qemu_pids, guest_profile, make_migration_host,
    mcall, on_kvm, proc_cmdline, recorder, variant_dict)
import harness
from harness import BOOT_DEADLINE, DEADLINE, holds_for, log, pid_alive, wait_until

# What the test modules take from here (listed so that pyflakes sees the
# re-exports as used): migtest_driver's names, harness and some of its names,
# and what this module defines.
__all__ = [
    'AUTO_CONVERGE', 'BUS_NAME', 'CALL_TIMEOUT_MS', 'CHANGE_PROTECTION', 'COMPRESSED', 'DOMAIN_IFACE', 'GLib',
    'Gio', 'HERE', 'LIVE', 'MANAGER_IFACE', 'MANAGER_PATH', 'MIGRATION_DEADLINE', 'OFFLINE', 'PARALLEL', 'PAUSED',
    'PEER2PEER', 'PERSIST_DEST', 'POSTCOPY', 'RDMA_PIN_ALL', 'SIGNAL_DEADLINE', 'TIMEOUT_FACTOR', 'TLS',
    'TUNNELLED', 'UNDEFINE_SOURCE', 'UNSAFE',
    'Managed', 'MigGuest', 'Pending', '_merge', 'accel', 'announce_accel', 'assert_runs_here', 'block_image_writes',
    'call', 'counter_rises', 'dcall', 'disk_image', 'disk_xml', 'domain_path', 'find_qemu_pids', 'guest_profile',
    'make_migration_host', 'mcall', 'on_kvm', 'proc_cmdline', 'recorder', 'variant_dict',
    'harness', 'BOOT_DEADLINE', 'DEADLINE', 'holds_for', 'log', 'pid_alive', 'wait_until',
    'property_trace', 'phases_seen', 'job_types_seen', 'progress_seen', 'members', 'assert_monotonic',
    'dst_serial_entries_after', 'assert_moved', 'snapshot_before', 'MigrationTestCase', 'main',
]


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
