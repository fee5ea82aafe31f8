#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Jobs nobody drives any more, and the cap on concurrent jobs: max_jobs,
a driving client that leaves the bus (a slow one that stays is in
test_recovery.SlowClient)."""

import json
import time
import uuid as uuidlib

import migtest
from migtest import (MigrationTestCase, MigGuest, Managed, assert_runs_here, snapshot_before, recorder,
                     wait_until, pid_alive, log, harness, DEADLINE, SIGNAL_DEADLINE)


class MaxJobs(MigrationTestCase):
    source_kw = {'max_jobs': 1}
    destination_kw = {'max_jobs': 1}

    def test_max_jobs(self):
        """[migration] max_jobs=1: a second domain's Begin3 while a job exists is JobActive naming max_jobs."""
        a = MigGuest(self, self.src, name='max-jobs-a')
        b = MigGuest(self, self.src, name='max-jobs-b')
        _, pid_a = snapshot_before(a)
        _, pid_b = snapshot_before(b)
        ma = Managed(self, a, self.src, self.dst, dest_xml=a.xml(serial_path=a.next_serial_path()))
        mb = Managed(self, b, self.src, self.dst, dest_xml=b.xml(serial_path=b.next_serial_path()))
        ma.begin()
        for form in ('params', 'plain'):
            mb.form = form
            with self.assertDBusError('JobActive', 'max_jobs') as ctx:
                mb.begin()
            log('second job refused: %s' % ctx.message)
        self.assertEqual(b.dom(self.src).prop('JobType'), 'none')
        self.assertEqual(a.dom(self.src).prop('JobPhase'), 'begin3')
        # Once the first job has ended, the second may start.
        ma.confirm(cancelled=True, cookie=b'')
        mb.form = 'params'
        mb.begin()
        self.assertEqual(b.dom(self.src).prop('JobType'), 'migration-out')
        with self.assertDBusError('JobActive', 'max_jobs'):
            ma.begin()
        mb.confirm(cancelled=True, cookie=b'')

        # The destination's cap counts incoming jobs: a's Prepare3 takes the
        # one slot, b's (a cookie from a third host) is refused and leaves
        # nothing behind.
        ma.begin()
        ma.prepare()
        foreign = json.dumps({
            'format': 'migrationd-cookie', 'version': 1, 'name': b.name, 'uuid': b.uuid,
            'hostname': 'elsewhere.example', 'host_uuid': str(uuidlib.uuid4()), 'protocol': 3,
            'features': []}).encode()
        with self.assertDBusError('JobActive', 'max_jobs'):
            mb.prepare(cookie=foreign, xml=b.xml(serial_path=b.next_serial_path()))
        # A refused Prepare3 leaves nothing here ("If Prepare3 fails, nothing
        # of the migration is left here").
        self.assertEqual(self.dst.list_domains(0), [a.path],
                         'the refused Prepare3 of b left a domain on the destination: %r' %
                         [harness.Domain(self.dst, p).props() for p in self.dst.list_domains(0) if p != a.path])
        self.assertEqual(b.qemu_pids(), [pid_b])
        ma.finish(cancelled=True)
        ma.confirm(cancelled=True, cookie=b'')
        wait_until(lambda: a.qemu_pids() == [pid_a], DEADLINE, 'the incoming QEMU of a to go')
        self.assertEqual(self.dst.list_domains(0), [])

        assert_runs_here(self, a, self.src, [pid_a])
        assert_runs_here(self, b, self.src, [pid_b])
        a.destroy()
        b.destroy()


class ClientVanishes(MigrationTestCase):
    # Far beyond the test's deadlines: only the client's leaving can end the jobs.
    source_config = {'migration': {'phase_timeout': 3600}}
    destination_config = {'migration': {'phase_timeout': 3600}}

    def test_client_vanishes(self):
        """The client that called Begin3 (source) or Prepare3 (destination)
        leaves the bus: the job is cancelled at once, not after phase_timeout;
        the incoming QEMU is killed and its domain removed; the guest runs on."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        src_dom = g.dom(self.src)

        # Source: Begin3 on a connection of its own, which then closes.
        other = harness.Client(self.src.bus.address, 'vanishing-source-client')
        self.addCleanup(other.close)
        m = Managed(self, g, self.src, self.dst, dest_xml=g.xml(serial_path=g.next_serial_path()))
        with recorder(self.src, g.path) as rec:
            m.begin(client=other)
            self.assertEqual(src_dom.prop('JobType'), 'migration-out')
            t0 = time.monotonic()
            other.close()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE,
                                'JobCompleted after the driving client left')
            took = time.monotonic() - t0
        log('source job ended %.1f s after its client left: %s' % (took, done.args[0]['errmsg']))
        self.assertLess(took, 60.0)
        self.assertIs(done.args[0]['success'], False)
        self.assertIn('left the bus', done.args[0]['errmsg'])
        self.assertEqual(src_dom.call('GetJobStats', 'u', (1,), 'sa{sv}')[0], 'cancelled')
        assert_runs_here(self, g, self.src, [pid], ' after the source client left')

        # Destination: Begin3 from the test's own connection, Prepare3 from
        # one of its own on the destination's bus, which then closes.
        other = harness.Client(self.dst.bus.address, 'vanishing-destination-client')
        self.addCleanup(other.close)
        dst_serial = g.next_serial_path()
        m = Managed(self, g, self.src, self.dst, dest_xml=g.xml(serial_path=dst_serial))
        m.begin()
        m.prepare(client=other)
        dst_pid = g.qemu_pid_with(dst_serial)
        self.assertIsNotNone(dst_pid, 'Prepare3 started no incoming QEMU')
        dst_dom = g.dom(self.dst)
        self.assertEqual(dst_dom.prop('JobType'), 'migration-in')
        with recorder(self.dst, g.path) as drec, \
                self.dst.connect().record(iface=harness.OBJECT_MANAGER_IFACE, member='InterfacesRemoved') as orec:
            t0 = time.monotonic()
            other.close()
            done = drec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE,
                                 'JobCompleted on the destination after its client left')
            wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to be killed')
            orec.wait_for(lambda s: s.args[0] == g.path, SIGNAL_DEADLINE, 'InterfacesRemoved of the incoming domain')
            took = time.monotonic() - t0
        log('destination job ended and its QEMU was gone %.1f s after its client left' % took)
        self.assertLess(took, 60.0)
        self.assertIs(done.args[0]['success'], False)
        with self.assertDBusError('NoSuchDomain'):
            self.dst.lookup_uuid(g.uuid)
        # The source's job is still ours to end (failure rule for a failed Prepare/Perform).
        self.assertEqual(src_dom.prop('JobPhase'), 'begin3')
        m.confirm(cancelled=True, cookie=b'')
        assert_runs_here(self, g, self.src, [pid], ' after the destination client left')
        g.destroy()


class VanishInPrepare(MigrationTestCase):
    source_config = {'migration': {'phase_timeout': 3600}}
    destination_config = {'migration': {'phase_timeout': 3600}}

    def test_vanish_in_prepare(self):
        """The client that called Prepare3 leaves before the reply, while the
        incoming QEMU starts: nothing of the migration is left on the
        destination, and the destination daemon lives on."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        dst_serial = g.next_serial_path()
        m = Managed(self, g, self.src, self.dst, dest_xml=g.xml(serial_path=dst_serial))
        m.begin()
        for attempt, when in enumerate(('at once', 'once QEMU runs')):
            other = harness.Client(self.dst.bus.address, 'vanishing-client-%d' % attempt)
            self.addCleanup(other.close)
            p = {'destination_xml': ('s', m.xml)}
            migtest.Pending(other, harness.MANAGER_PATH, harness.MANAGER_IFACE, 'Prepare3Params', 'a{sv}ayu',
                            (migtest.variant_dict(p), m.cookie, migtest.LIVE), 'ays')
            # The call must have reached the daemon before we leave.
            wait_until(lambda: g.path in self.dst.list_domains(0), DEADLINE, 'the incoming domain to appear')
            if when != 'at once':
                wait_until(lambda: g.qemu_pid_with(dst_serial), DEADLINE, 'the incoming QEMU to start')
            other.close()
            wait_until(lambda: self.dst.list_domains(0) == [] and g.qemu_pid_with(dst_serial) is None,
                       DEADLINE, 'the destination to drop the incoming domain and its QEMU (%s)' % when)
            self.dst.check_alive()
            self.assertEqual(g.qemu_pids(), [pid], 'QEMU processes left after the client left (%s)' % when)
            # The destination is usable again: the same guest can be prepared there.
            self.assertEqual(self.dst.manager_props()['HostUUID'], self.dst.host_uuid)
        self.assertEqual(g.dom(self.src).prop('JobPhase'), 'begin3')
        m.confirm(cancelled=True, cookie=b'')
        assert_runs_here(self, g, self.src, [pid], ' after the Prepare3 clients left')

        # And a migration to the destination still works afterwards.
        self.migrate_observed(g, self.src, self.dst)
        g.destroy()


if __name__ == '__main__':
    migtest.main()
