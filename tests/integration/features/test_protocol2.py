#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Migration protocol 2: Manager.Prepare2, Domain.Perform2, Manager.Finish2.
On success the source QEMU is stopped by Perform2 (StateReason migrated);
when Perform2 fails the guest runs on at the source and Finish2 with
retcode 1 kills the incoming guest; a host whose protocol_versions leave 2
out refuses the calls with ProtocolMismatch."""

import os
import signal
import socket

import feattest
import migtest
from feattest import (FeatureTestCase, FGuest, LIVE, Pending, members, recorder, dcall, mcall, job_stats,
                      assert_moved, assert_runs_here, wait_until, pid_alive, log, find_qemu_pids,
                      MIGRATION_DEADLINE, SIGNAL_DEADLINE, DEADLINE)
import harness


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class V2:
    """The three calls, carrying cookie and URI."""

    def __init__(self, tc, g, src, dst, flags=LIVE):
        self.tc, self.g, self.src, self.dst, self.flags = tc, g, src, dst, flags
        self.dst_serial = g.next_serial_path()
        self.cookie = self.uri = None
        self.pending = None

    def prepare(self, edit=None):
        # Protocol 2 has no Begin: the source's XML, with the serial log of the "other host".
        xml = self.g.dom(self.src).xml()
        self.tc.assertIn(self.g.serial.path, xml)
        xml = xml.replace(self.g.serial.path, self.dst_serial)
        if edit:
            xml = edit(xml)
        cookie, uri = mcall(self.dst, 'Prepare2', 'sstsu', (xml, '', 0, '', self.flags), 'ays')
        self.cookie, self.uri = bytes(cookie), uri
        self.tc.assertRegex(uri, r'^tcp:127\.0\.0\.1:\d+$')
        return uri

    def perform_start(self, uri=None):
        self.pending = Pending(self.src.connect(), self.g.path, harness.DOMAIN_IFACE, 'Perform2', 'aysstu',
                               (self.cookie, uri or self.uri, '', 0, self.flags), '')
        return self.pending

    def perform_wait(self):
        return self.pending.wait(MIGRATION_DEADLINE)

    def finish(self, retcode):
        (path,) = mcall(self.dst, 'Finish2', 'saysui', (self.g.name, self.cookie, self.uri, self.flags, retcode), 'o')
        return path


class Protocol2(FeatureTestCase):

    def test_success(self):
        """Prepare2, Perform2, Finish2: the counter goes on, the source QEMU is gone, StateReason migrated."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        src_serial = g.serial
        v = V2(self, g, self.src, self.dst)
        with recorder(self.src, g.path) as srec:
            v.prepare()
            dst_dom = g.dom(self.dst)
            self.assertEqual((dst_dom.prop('JobType'), dst_dom.prop('State')), ('migration-in', 'paused'))
            v.perform_start()
            v.perform_wait()
            # On success Perform2 has stopped the source guest itself.
            src_dom = g.dom(self.src)
            wait_until(lambda: not pid_alive(pid), DEADLINE, 'the source QEMU to exit after Perform2')
            self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('shutoff', 'migrated'))
            self.assertEqual(src_dom.prop('JobType'), 'none')
            path = v.finish(0)
            self.assertEqual(path, g.path)
            done = srec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
            self.assertIs(done.args[0]['success'], True, done.args[0])
        g.moved_to(self.dst, v.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        self.assertEqual((dst_dom.prop('State'), dst_dom.prop('StateReason')), ('running', 'migrated'))
        self.assertEqual(dst_dom.prop('JobType'), 'none')
        self.assertIs(src_dom.prop('Persistent'), True)
        self.assertEqual(job_stats(self.src, g.path, 1)[0], 'completed')
        self.assertEqual(job_stats(self.dst, g.path, 1)[0], 'completed')
        g.destroy()

    def test_finish_resume_fails(self):
        """Finish2 cannot start the guest (another process write-locks the
        destination's disk image): Perform2 stopped the source already, so
        the destination keeps the guest paused (libvirt's protocol-2 rule)
        instead of killing the only copy; once the lock is gone, Resume lets
        it go on from where it stopped, memory intact."""
        src_img = migtest.disk_image(self, 'source-disk.img')
        dst_img = migtest.disk_image(self, 'destination-disk.img')
        g = FGuest(self, self.src, devices_extra=migtest.disk_xml(src_img))
        boot, pid = g.snapshot()
        src_serial = g.serial
        v = V2(self, g, self.src, self.dst)
        v.prepare(edit=lambda xml: xml.replace(src_img, dst_img))
        dst_pid = g.qemu_pid_with(v.dst_serial)
        self.assertIsNotNone(dst_pid, 'Prepare2 started no incoming QEMU')
        release = migtest.block_image_writes(self, dst_img)
        v.perform_start()
        v.perform_wait()
        wait_until(lambda: not pid_alive(pid), DEADLINE, 'the source QEMU to exit after Perform2')
        with self.assertDBusError('MigrationFailed', 'lock', 'paused'):
            v.finish(0)
        dst_dom = g.dom(self.dst)
        self.assertEqual((dst_dom.prop('State'), dst_dom.prop('JobType')), ('paused', 'none'))
        self.assertTrue(pid_alive(dst_pid), 'the destination killed the only copy of the guest')
        self.assertEqual(find_qemu_pids(g.uuid), [dst_pid])
        self.assertEqual(job_stats(self.dst, g.path, 1)[0], 'failed')
        release()
        dst_dom.resume()
        g.moved_to(self.dst, v.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()

    def assert_failed_and_cleaned(self, g, v, pid, boot, dst_pid, error):
        with self.assertDBusError(error):
            v.perform_wait()
        # Protocol 2's rule, applied by Perform2 itself: the guest runs on here.
        assert_runs_here(self, g, self.src, pid, ' after the failed Perform2')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.serial.assert_continuous()
        self.assertEqual(v.finish(1), '/')
        if dst_pid is not None:
            wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to be killed')
        self.assertEqual([p for p in find_qemu_pids(g.uuid) if p != pid], [])
        self.assertEqual(self.dst.list_domains(0), [])
        assert_runs_here(self, g, self.src, pid, ' after Finish2(retcode=1)')
        self.assertIn(job_stats(self.src, g.path, 1)[0], ('failed', 'cancelled'))

    def test_bad_uri(self):
        """Perform2 to a URI where nobody listens fails; the source guest runs on;
        Finish2 with retcode 1 kills the incoming guest, which was still waiting."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        v = V2(self, g, self.src, self.dst)
        v.prepare()
        dst_pid = g.qemu_pid_with(v.dst_serial)
        self.assertIsNotNone(dst_pid, 'Prepare2 started no incoming QEMU')
        v.perform_start('tcp:127.0.0.1:%d' % free_port())
        with self.assertDBusError('MigrationFailed'):
            v.perform_wait()
        self.assertTrue(pid_alive(dst_pid), 'the incoming QEMU died before Finish2')
        self.assertEqual(g.dom(self.dst).prop('JobType'), 'migration-in')
        # The incoming QEMU still waits: both QEMUs exist until Finish2.
        assert_runs_here(self, g, self.src, None, ' after the failed Perform2')
        self.assertEqual(sorted(g.qemu_pids()), sorted([pid, dst_pid]))
        self.assertEqual(v.finish(1), '/')
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to be killed by Finish2')
        self.assertEqual(self.dst.list_domains(0), [])
        assert_runs_here(self, g, self.src, pid, ' after Finish2(retcode=1)')
        self.assertEqual(g.serial.boot_ids(), [boot])
        self.assertIn(job_stats(self.src, g.path, 1)[0], ('failed', 'cancelled'))
        g.destroy()

    def start_slow(self, g):
        self.slow_down(g)
        v = V2(self, g, self.src, self.dst)
        rec = recorder(self.src, g.path)
        self.addCleanup(rec.close)
        v.prepare()
        dst_pid = g.qemu_pid_with(v.dst_serial)
        self.assertIsNotNone(dst_pid)
        v.perform_start()
        self.wait_streaming(v, rec)
        return v, rec, dst_pid

    def test_destination_killed(self):
        """The destination QEMU killed during a slow Perform2: MigrationFailed, the
        guest runs on at the source, Finish2(retcode=1) cleans up."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        v, rec, dst_pid = self.start_slow(g)
        os.kill(dst_pid, signal.SIGKILL)
        self.speed_up(g)
        self.assert_failed_and_cleaned(g, v, pid, boot, dst_pid, 'MigrationFailed')
        g.destroy()

    def test_abort(self):
        """AbortJob during a slow Perform2: MigrationAborted, the guest runs on at the
        source, Finish2(retcode=1) leaves nothing on the destination."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        v, rec, dst_pid = self.start_slow(g)
        dcall(self.src, g.path, 'AbortJob', 'u', (0,))
        self.speed_up(g)
        self.assert_failed_and_cleaned(g, v, pid, boot, dst_pid, 'MigrationAborted')
        g.destroy()


class Protocol2Refused(FeatureTestCase):
    source_config = {'migration': {'protocol_versions': '3-params,3'}}
    destination_config = {'migration': {'protocol_versions': '3-params,3'}}

    def test_refused(self):
        """protocol_versions=3-params,3: Prepare2, Perform2 and Finish2 give ProtocolMismatch; nothing starts."""
        self.assertEqual(sorted(self.dst.manager_props()['ProtocolVersions']), [3])
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        xml = g.dom(self.src).xml().replace(g.serial.path, g.next_serial_path())
        with self.assertDBusError('ProtocolMismatch', '2', 'protocol_versions'):
            mcall(self.dst, 'Prepare2', 'sstsu', (xml, '', 0, '', LIVE), 'ays')
        self.assertEqual(self.dst.list_domains(0), [])
        self.assertEqual(find_qemu_pids(g.uuid), [pid])
        with recorder(self.src, g.path) as rec:
            with self.assertDBusError('ProtocolMismatch', '2'):
                dcall(self.src, g.path, 'Perform2', 'aysstu', (b'x', 'tcp:127.0.0.1:1', '', 0, LIVE))
            rec.matching()
            self.assertFalse([s for s in rec.signals if s.member == 'PropertiesChanged' and 'JobType' in s.args[1]],
                             'a refused Perform2 started a job')
        self.assertEqual(g.dom(self.src).prop('JobType'), 'none')
        with self.assertDBusError('ProtocolMismatch', '2'):
            mcall(self.dst, 'Finish2', 'saysui', (g.name, b'', '', LIVE, 1), 'o')
        # Protocol 3 works between the same hosts.
        m = feattest.Mig(self, g, self.src, self.dst)
        src_serial = g.serial
        m.run()
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()


if __name__ == '__main__':
    feattest.main()
