#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""POSTCOPY and Domain.MigrateStartPostCopy: a guest that does not converge
in pre-copy completes after the switch; StateReason 'postcopy' on both
sides; after the switch a failure never kills the destination (paused,
'postcopy-failed') and Confirm3 cancelled does not resume the source; and
`migrationctl migrate --postcopy-after` end to end.

The guest does not converge: it rewrites its 16 MiB dirty area far faster
than the pre-copy stream's 4 MiB/s (under KVM it dirties about 7,000 pages,
28 MB, a second), so every pre-copy pass leaves most of the area to send
again. The tests show it: the second pass (memory_iteration 2) starts with a
large memory_remaining. (A 16 MiB area instead of 64, and 4 MiB/s rather
than 1: the first pass takes area-size / speed seconds, and the proof is the
same. Post-copy keeps 1 MiB/s where a test acts while it runs.)"""

import json
import os
import signal
import subprocess
import time

import feattest
from feattest import (FeatureTestCase, FGuest, LIVE, POSTCOPY, Mig, dirty, members, recorder, dcall, Pending,
                      DOMAIN_IFACE,
                      job_stats, state_reasons, assert_moved, wait_until, holds_for, pid_alive, log,
                      MIGRATION_DEADLINE, SIGNAL_DEADLINE, DEADLINE)
import harness

AREA = dirty('16M')
AREA_BYTES = int(AREA[:-1]) << 20


class Postcopy(FeatureTestCase):

    def guest(self):
        return FGuest(self, self.src, memory_mib=64, cmdline='dirty=%s period=100' % AREA)

    def start_non_converging(self, g, params=None):
        """Begin3, Prepare3 and a POSTCOPY Perform3 at 4 MiB/s; returns once the
        stream has shown that it does not converge (a second pass that starts
        with most of the area left to send). Returns (mig, source recorder,
        destination recorder, the statistics that show it)."""
        g.dom(self.src).call('MigrateSetMaxSpeed', 'tu', (4, 0))
        m = Mig(self, g, self.src, self.dst, flags=LIVE | POSTCOPY, params=params)
        srec = recorder(self.src, g.path)
        drec = recorder(self.dst, g.path)
        self.addCleanup(srec.close)
        self.addCleanup(drec.close)
        m.begin()
        m.prepare()
        m.perform_start()

        def second_pass():
            if m.pending.done:
                return True
            for s in members(srec.signals, 'JobStatsUpdated'):
                st = s.args[0]
                if st.get('memory_iteration', 0) >= 2 and 'memory_remaining' in st:
                    return st
            return None
        st = wait_until(second_pass, MIGRATION_DEADLINE, 'a second pre-copy pass (memory_iteration 2)')
        self.assertFalse(m.pending.done, 'Perform3 ended in pre-copy: %r' % (m.pending.error,))
        log('pass %d starts with memory_remaining %d (dirty area %d), memory_dirty_rate %r'
            % (st['memory_iteration'], st['memory_remaining'], AREA_BYTES, st.get('memory_dirty_rate')))
        self.assertGreaterEqual(st['memory_remaining'], AREA_BYTES // 4,
                                'the second pass has little left to send: the guest would converge')
        self.assertFalse([r for r in state_reasons(srec.signals) if r[1] == 'postcopy'],
                         'post-copy before MigrateStartPostCopy')
        self.assertEqual(g.dom(self.src).prop('State'), 'running')
        self.assertEqual(g.dom(self.src).prop('JobPhase'), 'perform3')
        kind, stats = job_stats(self.src, g.path, 0)
        self.assertIs(stats.get('qemu.cap.postcopy-ram'), True, stats)
        return m, srec, drec, st

    def switch(self, g, srec, drec):
        """MigrateStartPostCopy; waits for StateReason 'postcopy' on both sides."""
        t0 = time.monotonic()
        dcall(self.src, g.path, 'MigrateStartPostCopy', 'u', (0,))
        srec.wait_for(harness.properties_changed(g.path, harness.DOMAIN_IFACE, StateReason='postcopy'),
                      SIGNAL_DEADLINE, 'StateReason postcopy on the source')
        drec.wait_for(harness.properties_changed(g.path, harness.DOMAIN_IFACE, StateReason='postcopy'),
                      SIGNAL_DEADLINE, 'StateReason postcopy on the destination')
        took = time.monotonic() - t0
        log('post-copy on both sides %.1f s after MigrateStartPostCopy' % took)
        return took

    def test_switch(self):
        """A non-converging pre-copy completes after MigrateStartPostCopy: 'postcopy'
        on both sides, the counter goes on, source QEMU gone."""
        g = self.guest()
        boot, pid = g.snapshot()
        src_serial = g.serial
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 0)})
        switch_took = self.switch(g, srec, drec)
        m.perform_wait()
        path = m.finish()
        self.assertEqual(path, g.path)
        m.confirm()
        srec.matching()
        src_states, dst_states = state_reasons(srec.signals), state_reasons(drec.signals)
        self.assertIn(('paused', 'postcopy'), src_states)
        self.assertIn(('running', 'postcopy'), dst_states)
        g.moved_to(self.dst, m.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        dst_dom = g.dom(self.dst)
        self.assertEqual(dst_dom.prop('State'), 'running')
        self.assertEqual(dst_dom.prop('JobType'), 'none')
        self.assertEqual(g.dom(self.src).prop('StateReason'), 'migrated')
        done = members(srec.signals, 'JobCompleted')
        self.assertEqual(len(done), 1)
        self.assertIs(done[0].args[0]['success'], True, done[0].args[0])
        log('source states %r; destination states %r; postcopy requests %r'
            % (src_states, dst_states, done[0].args[0].get('memory_postcopy_requests')))
        # The downtime ends when the guest runs at the destination, not with
        # the post-copy stream; both hosts report the one the destination saw.
        ddone = members(drec.signals, 'JobCompleted')
        downtime = ddone[0].args[0].get('downtime')
        self.assertIsInstance(downtime, int, ddone[0].args[0])
        self.assertLessEqual(downtime, switch_took * 1000 + 50, 'downtime beyond the switch to post-copy')
        self.assertEqual(done[0].args[0].get('downtime'), downtime, 'the source reports another downtime')
        g.destroy()

    def test_postcopy_bandwidth(self):
        """bandwidth.postcopy reaches QEMU: qemu.max-postcopy-bandwidth in bytes/s."""
        g = self.guest()
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 3)})
        kind, stats = job_stats(self.src, g.path, 0)
        self.assertEqual(stats.get('qemu.max-postcopy-bandwidth'), 3 << 20, stats)
        dcall(self.src, g.path, 'AbortJob', 'u', (0,))
        with self.assertDBusError('MigrationAborted'):
            m.perform_wait()
        m.cancel()
        g.dom(self.src).call('MigrateSetMaxSpeed', 'tu', (0, 0))
        feattest.assert_runs_here(self, g, self.src)
        g.destroy()

    def test_source_lost(self):
        """The source QEMU dies after the switch: the destination keeps the guest,
        paused with StateReason 'postcopy-failed'; the failure rules do not kill it."""
        g = self.guest()
        boot, pid = g.snapshot()
        # A slow post-copy phase, so that it is still running when the source dies.
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 1)})
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.switch(g, srec, drec)
        self.assertFalse(m.pending.done, 'the post-copy phase ended at once')
        os.kill(pid, signal.SIGKILL)
        with self.assertDBusError('MigrationFailed'):
            m.perform_wait()
        dst_dom = g.dom(self.dst)
        dst_dom.wait_state('paused', SIGNAL_DEADLINE, reason='postcopy-failed')
        self.assertTrue(pid_alive(dst_pid), 'the destination QEMU was killed')
        # The failure rules of the client: Finish3 and Confirm3 cancelled.
        m.finish(cancelled=True)
        try:
            m.confirm(cancelled=True)
        except harness.GLib.Error as e:
            # The source's job ended with its QEMU; there is nothing to confirm.
            self.assertEqual(harness.dbus_error_name(e), harness.ERROR_PREFIX + 'OperationInvalid', str(e))
        holds_for(lambda: pid_alive(dst_pid) and dst_dom.prop('State') == 'paused'
                  and dst_dom.prop('StateReason') == 'postcopy-failed', 3.0,
                  'the destination keeping the guest, paused, postcopy-failed')
        self.assertEqual(g.dom(self.src).prop('State'), 'shutoff')
        g.moved_to(self.dst, m.dst_serial)
        g.destroy()

    def test_finish_cancelled_stops(self):
        """Finish3(cancelled) on the destination after the switch: the guest is
        kept there (only it has the newest state) and really stopped, QEMU's
        `stop` (issue 10, hole 6): paused, 'postcopy-failed', its console
        silent, its QEMU alive."""
        g = self.guest()
        boot, pid = g.snapshot()
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 1)})
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.switch(g, srec, drec)
        self.assertFalse(m.pending.done, 'the post-copy phase ended at once')
        dst_serial = harness.SerialLog(m.dst_serial)
        dst_serial.wait_advance(2, MIGRATION_DEADLINE)
        self.assertFalse(m.pending.done, 'the post-copy phase ended before Finish3(cancelled)')
        self.assertEqual(m.finish(cancelled=True), '/')
        dst_dom = g.dom(self.dst)
        self.assertEqual((dst_dom.prop('State'), dst_dom.prop('StateReason')), ('paused', 'postcopy-failed'))
        # One line may be under way when `stop` lands.
        stopped_at = dst_serial.last_counter()
        holds_for(lambda: dst_serial.last_counter() <= stopped_at + 1, 4.0,
                  'the destination guest staying stopped after Finish3(cancelled)')
        self.assertTrue(pid_alive(dst_pid), 'the destination QEMU was killed')
        self.assertEqual(dst_dom.prop('JobType'), 'none')
        # The source cannot finish either now: its QEMU goes, the guest stays on the destination.
        os.kill(pid, signal.SIGKILL)
        with self.assertDBusError('MigrationFailed'):
            m.perform_wait()
        g.moved_to(self.dst, m.dst_serial)
        g.destroy()

    def test_destination_lost(self):
        """The destination QEMU dies after the switch: the source stays paused with
        StateReason 'postcopy-failed'; Confirm3 cancelled does not resume it."""
        g = self.guest()
        boot, pid = g.snapshot()
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 1)})
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.switch(g, srec, drec)
        self.assertFalse(m.pending.done, 'the post-copy phase ended at once')
        os.kill(dst_pid, signal.SIGKILL)
        with self.assertDBusError('MigrationFailed'):
            m.perform_wait()
        src_dom = g.dom(self.src)
        src_dom.wait_state('paused', SIGNAL_DEADLINE, reason='postcopy-failed')
        self.assertEqual(m.finish(cancelled=True), '/')
        m.confirm(cancelled=True)
        last = g.serial.last_counter()
        holds_for(lambda: src_dom.prop('State') == 'paused' and src_dom.prop('StateReason') == 'postcopy-failed'
                  and pid_alive(pid), 3.0, 'the source staying paused (postcopy-failed)')
        self.assertEqual(g.serial.last_counter(), last, 'the source guest ran again after the switch')
        self.assertEqual(src_dom.prop('JobType'), 'none')
        g.destroy()

    def paused_everywhere(self, g, src_pid, dst_pid, last, what):
        """Both QEMUs alive, both domains paused (postcopy-failed on
        @what's side at least), the counter no further than @last."""
        src_dom, dst_dom = g.dom(self.src), g.dom(self.dst)
        holds_for(lambda: pid_alive(src_pid) and pid_alive(dst_pid) and src_dom.prop('State') == 'paused'
                  and dst_dom.prop('State') == 'paused' and g.serial.last_counter() == last, 3.0,
                  'both QEMUs kept and paused, the source not running again (%s)' % what)

    def destroy_both(self, g, dst_serial):
        dcall(self.src, g.path, 'Destroy', 'u', (0,))
        g.moved_to(self.dst, dst_serial)
        g.destroy()

    def test_destination_restart(self):
        """kill -9 of the destination daemon after the switch to post-copy, and a
        restart: the journal says post-copy, so the destination QEMU is kept,
        paused (postcopy-failed), never killed; Finish3 then fails without
        killing it, Confirm3 cancelled leaves the source paused; once the
        stream has completed, the guest resumed on the destination goes on
        with its memory intact."""
        g = self.guest()
        boot, pid = g.snapshot()
        src_serial = g.serial
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 1)})
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.switch(g, srec, drec)
        self.assertFalse(m.pending.done, 'the post-copy phase ended at once')
        self.dst.restart(kill=True)
        self.assertTrue(pid_alive(dst_pid), 'the destination QEMU is gone after the restart')
        dst_dom = g.dom(self.dst)
        dst_dom.wait_state('paused', SIGNAL_DEADLINE, reason='postcopy-failed')
        self.assertEqual((dst_dom.prop('JobType'), dst_dom.prop('JobPhase')), ('migration-in', 'postcopy'))
        holds_for(lambda: pid_alive(dst_pid), 3.0, 'the restarted destination daemon keeping its QEMU')
        # The stream runs QEMU to QEMU: the source's Perform3 sees its end.
        try:
            m.perform_wait()
            performed = None
        except harness.GLib.Error as e:
            performed = e
        log('Perform3 after the destination restarted: %r' % (performed and harness.dbus_error_message(performed)))
        with self.assertDBusError('MigrationFailed', 'postcopy-failed'):
            m.finish()
        self.assertTrue(pid_alive(dst_pid), 'Finish3 killed the destination QEMU')
        m.confirm(cancelled=True)
        src_dom = g.dom(self.src)
        self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('paused', 'postcopy-failed'))
        self.assertEqual(dst_dom.prop('StateReason'), 'postcopy-failed')
        last = src_serial.last_counter()
        self.paused_everywhere(g, pid, dst_pid, last, 'destination restarted')
        self.assertEqual((src_dom.prop('JobType'), dst_dom.prop('JobType')), ('none', 'none'))
        if performed is None:
            # The stream completed: the destination has the whole guest.
            dst_dom.resume()
            dst_serial = harness.SerialLog(m.dst_serial)
            try:
                harness.check_arrival(src_serial, dst_serial)
            except harness.ArrivalFailed as e:
                self.fail(str(e))
            self.assertEqual({b for _, b in dst_serial.entries()}, {boot})
        self.destroy_both(g, m.dst_serial)

    def source_restart_in_postcopy(self, restart):
        """Switches a non-converging migration to post-copy, then @restart()s
        the source daemon: the source QEMU is neither cancelled nor resumed
        from its stale memory; it stays paused (postcopy-failed) with its job
        restored, which Confirm3 cancelled ends; the destination keeps the guest."""
        g = self.guest()
        boot, pid = g.snapshot()
        src_serial = g.serial
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 1)})
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.switch(g, srec, drec)
        self.assertFalse(m.pending.done, 'the post-copy phase ended at once')
        last = src_serial.last_counter()
        restart(g)
        self.assertTrue(pid_alive(pid), 'the source QEMU is gone after the restart')
        src_dom = g.dom(self.src)
        src_dom.wait_state('paused', SIGNAL_DEADLINE, reason='postcopy-failed')
        self.assertEqual((src_dom.prop('JobType'), src_dom.prop('JobPhase')), ('migration-out', 'perform3'))
        holds_for(lambda: src_dom.prop('State') == 'paused' and src_serial.last_counter() == last, 5.0,
                  'the source staying paused after the restart (no migrate_cancel + cont)')
        with self.assertRaises(harness.GLib.Error):
            m.perform_wait()
        self.assertEqual(m.finish(cancelled=True), '/')
        self.assertTrue(pid_alive(dst_pid), 'Finish3 cancelled killed the destination QEMU in post-copy')
        m.confirm(cancelled=True)
        self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('paused', 'postcopy-failed'))
        self.assertEqual(src_dom.prop('JobType'), 'none')
        self.assertEqual(src_serial.last_counter(), last, 'the source guest ran again after the switch')
        self.assertTrue(pid_alive(dst_pid))
        self.destroy_both(g, m.dst_serial)

    def test_source_restart(self):
        """kill -9 of the source daemon after the switch to post-copy, and a
        restart (source_restart_in_postcopy)."""
        self.source_restart_in_postcopy(lambda g: self.src.restart(kill=True))

    def edit_journal(self, host, g, **changes):
        """While @host's daemon is down: sets keys of @g's status file (its job
        journal), to stand for a kill -9 before the daemon journaled a step
        QEMU has already taken."""
        path = os.path.join(host.state_dir, 'status', g.uuid + '.json')
        with open(path) as f:
            status = json.load(f)
        log('journal on %s: %r -> %r' % (host.name, {k: status.get(k) for k in changes}, changes))
        status.update(changes)
        with open(path + '.tmp', 'w') as f:
            json.dump(status, f)
        os.rename(path + '.tmp', path)

    def test_source_restart_journal_behind(self):
        """kill -9 of the source daemon after QEMU switched to post-copy but
        before the daemon journaled anything of it (journal: pre-copy,
        running): recovery asks QEMU (query-migrate says postcopy-active), so
        the source is neither cancelled nor resumed; paused, postcopy-failed."""
        def restart(g):
            self.src.kill()
            self.edit_journal(self.src, g, job_postcopy=False, job_postcopy_requested=False, state='running',
                              reason='booted')
            self.src.start()
        self.source_restart_in_postcopy(restart)

    def test_destination_restart_in_prepare(self):
        """kill -9 of the destination daemon in post-copy with a journal that
        still says prepare (not post-copy) while the saved StateReason says
        postcopy: the evidence counts in prepare too; the destination QEMU,
        the newest copy, is kept paused (postcopy-failed), never killed."""
        g = self.guest()
        boot, pid = g.snapshot()
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 1)})
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.switch(g, srec, drec)
        self.assertFalse(m.pending.done, 'the post-copy phase ended at once')
        self.dst.kill()
        self.edit_journal(self.dst, g, job_phase='prepare', job_postcopy=False)
        self.dst.start()
        self.assertTrue(pid_alive(dst_pid), 'the destination QEMU is gone after the restart')
        dst_dom = g.dom(self.dst)
        dst_dom.wait_state('paused', SIGNAL_DEADLINE, reason='postcopy-failed')
        self.assertEqual((dst_dom.prop('JobType'), dst_dom.prop('JobPhase')), ('migration-in', 'prepare'))
        holds_for(lambda: pid_alive(dst_pid), 3.0, 'the restarted destination daemon keeping its QEMU')
        try:
            m.perform_wait()
        except harness.GLib.Error as e:
            log('Perform3 after the destination restarted: %s' % harness.dbus_error_message(e))
        with self.assertDBusError('MigrationFailed', 'postcopy-failed'):
            m.finish()
        self.assertTrue(pid_alive(dst_pid), 'Finish3 killed the destination QEMU')
        m.confirm(cancelled=True)
        self.assertEqual(dst_dom.prop('StateReason'), 'postcopy-failed')
        self.assertEqual(dst_dom.prop('JobType'), 'none')
        self.destroy_both(g, m.dst_serial)

    def test_abort_refused(self):
        """AbortJob after the switch is refused (OperationInvalid, as libvirt: the guest
        runs on the destination and a cancel would lose it); the migration completes."""
        g = self.guest()
        boot, pid = g.snapshot()
        src_serial = g.serial
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 2)})
        self.switch(g, srec, drec)
        self.assertFalse(m.pending.done, 'the post-copy phase ended at once')
        try:
            dcall(self.src, g.path, 'AbortJob', 'u', (0,))
            refused = None
        except harness.GLib.Error as e:
            refused = e
        try:
            m.perform_wait()
            performed = None
        except harness.GLib.Error as e:
            performed = e
        dst_dom = g.dom(self.dst)
        log('AbortJob in post-copy: %r; Perform3: %r; destination %s/%s' % (
            refused and harness.dbus_error_message(refused), performed and harness.dbus_error_message(performed),
            dst_dom.prop('State'), dst_dom.prop('StateReason')))
        self.assertIsNotNone(refused, 'AbortJob in post-copy succeeded (Perform3: %r, destination %s/%s)' % (
            performed and harness.dbus_error_message(performed), dst_dom.prop('State'), dst_dom.prop('StateReason')))
        self.assertEqual(harness.dbus_error_name(refused), harness.ERROR_PREFIX + 'OperationInvalid')
        self.assertIsNone(performed, 'Perform3 failed after a refused AbortJob')
        self.assertEqual(m.finish(), g.path)
        m.confirm()
        g.moved_to(self.dst, m.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()

    def test_abort_refused_once_requested(self):
        """AbortJob queued right behind MigrateStartPostCopy on the same
        connection (so it is handled before QEMU reports the switch) is
        refused too: once the switch is asked for, QEMU may take it at any
        moment; the migration completes in post-copy."""
        g = self.guest()
        boot, pid = g.snapshot()
        src_serial = g.serial
        m, srec, drec, _ = self.start_non_converging(g, {'bandwidth.postcopy': ('t', 2)})
        client = self.src.connect()
        switch = Pending(client, g.path, DOMAIN_IFACE, 'MigrateStartPostCopy', 'u', (0,), '')
        abort = Pending(client, g.path, DOMAIN_IFACE, 'AbortJob', 'u', (0,), '')
        switch.wait(SIGNAL_DEADLINE)
        try:
            abort.wait(SIGNAL_DEADLINE)
            refused = None
        except harness.GLib.Error as e:
            refused = e
        try:
            m.perform_wait()
            performed = None
        except harness.GLib.Error as e:
            performed = e
        log('AbortJob behind MigrateStartPostCopy: %r; Perform3: %r' % (
            refused and harness.dbus_error_message(refused), performed and harness.dbus_error_message(performed)))
        self.assertIsNotNone(refused, 'AbortJob right after MigrateStartPostCopy succeeded (Perform3: %r)' % (
            performed and harness.dbus_error_message(performed)))
        self.assertEqual(harness.dbus_error_name(refused), harness.ERROR_PREFIX + 'OperationInvalid')
        self.assertIsNone(performed, 'Perform3 failed after a refused AbortJob')
        self.assertEqual(m.finish(), g.path)
        m.confirm()
        g.moved_to(self.dst, m.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()

    def test_migrationctl_postcopy_at_once(self):
        """migrationctl migrate --postcopy-after 0: the switch waits for QEMU's stream, then happens."""
        self.test_migrationctl_postcopy_after(after='0')

    def test_migrationctl_postcopy_after(self, after='2'):
        """migrationctl migrate --postcopy-after 2 --bandwidth 1: switches, says so, exit 0."""
        g = self.guest()
        boot, pid = g.snapshot()
        src_serial = g.serial
        dst_serial = g.next_serial_path()
        xml_file = os.path.join(self.workdir, 'dest.xml')
        with open(xml_file, 'w') as f:
            f.write(g.xml(serial_path=dst_serial))
        argv = [harness.MIGRATIONCTL, '--no-ask-password', '--bus', self.src.bus.address, 'migrate', g.name,
                '--to-bus', self.dst.bus.address, '--live', '--bandwidth', '1', '--postcopy-after', after,
                '--xml', xml_file]
        with recorder(self.src, g.path) as srec, recorder(self.dst, g.path) as drec:
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_until(lambda: proc.poll() is not None, MIGRATION_DEADLINE, 'migrationctl to exit')
            out, err = proc.communicate()
            log('migrationctl took %.1f s: exit %d\n%s%s' % (time.monotonic() - t0, proc.returncode, out, err))
            self.assertEqual(proc.returncode, 0, 'migrationctl failed: %s%s' % (out, err))
            srec.matching()
            drec.matching()
            self.assertIn(('paused', 'postcopy'), state_reasons(srec.signals))
            self.assertIn(('running', 'postcopy'), state_reasons(drec.signals))
        self.assertRegex(out, r"Switched the migration of '%s' to post-copy after \d+\.\ds" % g.name)
        self.assertNotIn('Failed', err)
        self.assertRegex(out, r"Migrated '%s' to " % g.name)
        g.moved_to(self.dst, dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()


if __name__ == '__main__':
    feattest.main()
