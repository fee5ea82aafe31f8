#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Recovery of a job from its journal after kill -9 of the source daemon in
perform3_done (docs/recovery.md): the restarted daemon restores the job and
waits for the client's Confirm3 — success stops the source QEMU, cancelled
resumes the guest there — unless the recorded driving client has left the
bus, when the client-gone rule ends it (outcome unknown, the guest stays
paused), and within phase_timeout even if it is still there; a connected
client that is slow is never timed out. Protocol 2: a destination restarted
in finish2 keeps and resumes the only copy; a source restarted after
Perform2's stream resumes the guest (the client fails Finish2).

Some cases edit the journal while the daemon is down, to stand for a kill -9
between two steps too close together to hit from outside (e.g. finish2 is
journaled and `cont` sent in the same main-loop turn)."""

import json
import os
import time

import migtest
from migtest import (MigrationTestCase, MigGuest, Managed, assert_runs_here, assert_moved, snapshot_before,
                     recorder, members, wait_until, holds_for, pid_alive, log, harness, mcall, Pending, LIVE, DEADLINE,
                     MIGRATION_DEADLINE)


def edit_journal(host, guest, **changes):
    """While @host's daemon is down: sets keys of @guest's status file (its job journal)."""
    path = os.path.join(host.state_dir, 'status', guest.uuid + '.json')
    with open(path) as f:
        status = json.load(f)
    log('journal of %s on %s: %r -> %r' % (guest.name, host.name,
                                           {k: status.get(k) for k in changes}, changes))
    status.update(changes)
    with open(path + '.tmp', 'w') as f:
        json.dump(status, f)
    os.rename(path + '.tmp', path)


def performed_by(tc, client):
    """A guest whose migration @client drove through Perform3 (the source
    in perform3_done): (guest, Managed, source QEMU pid)."""
    g = MigGuest(tc, tc.src)
    _, pid = snapshot_before(g)
    m = Managed(tc, g, tc.src, tc.dst, dest_xml=g.xml(serial_path=g.next_serial_path()))
    m.begin(client=client)
    m.prepare()
    m.perform_start(client=client)
    m.perform_wait()
    return g, m, pid


def outcome_unknown_then_resume(tc, g, m, pid, what):
    """The source's restored job ends failed, "outcome unknown", with the
    guest paused on its QEMU; then the operator's way out, as the message
    says: the destination never ran the guest (no Finish3), so it is
    cancelled there and resumed here."""
    src_dom = g.dom(tc.src)
    wait_until(lambda: src_dom.prop('JobType') == 'none', DEADLINE, what)
    kind, stats = src_dom.call('GetJobStats', 'u', (1,), 'sa{sv}')
    log('%s: %s: %s' % (what, kind, stats.get('errmsg')))
    tc.assertEqual(kind, 'failed')
    tc.assertIn('outcome unknown', stats['errmsg'])
    tc.assertEqual(src_dom.prop('State'), 'paused')
    tc.assertTrue(pid_alive(pid))
    tc.assertEqual(m.finish(cancelled=True)[0], '/')
    src_dom.resume()
    assert_runs_here(tc, g, tc.src, [pid], ' after the operator resumed it')
    g.destroy()


class RestartInPerform3Done(MigrationTestCase):

    def performed(self, client=None):
        """Begin3, Prepare3 and Perform3 done (driven by @client on the
        source's bus), then kill -9 of the source daemon and a restart.
        Returns (guest, managed, boot, source QEMU pid)."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        m = Managed(self, g, self.src, self.dst, dest_xml=g.xml(serial_path=g.next_serial_path()))
        m.begin(client=client)
        m.prepare()
        m.perform_start(client=client)
        m.perform_wait()
        src_dom = g.dom(self.src)
        self.assertEqual((src_dom.prop('JobPhase'), src_dom.prop('State')), ('perform3_done', 'paused'))
        self.src.restart(kill=True)
        self.assertTrue(pid_alive(pid), 'the source QEMU died with its daemon')
        return g, m, boot, pid

    def test_protocol2(self):
        """kill -9 of the source daemon after the stream of a managed Perform2
        completed (journal: perform3_done, protocol 2), restart: the client saw
        Perform2 fail and calls Finish2 with a failure, so nobody sends
        Confirm3: the source resumes the guest at once (libvirt's PERFORM2)
        instead of waiting paused for ever."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        m = Managed(self, g, self.src, self.dst, dest_xml=g.xml(serial_path=g.next_serial_path()))
        m.begin()
        m.prepare()
        m.perform()
        self.assertEqual(g.dom(self.src).prop('JobPhase'), 'perform3_done')
        self.src.kill()
        edit_journal(self.src, g, job_protocol=2)
        self.src.start()
        src_dom = g.dom(self.src)
        wait_until(lambda: src_dom.prop('JobType') == 'none' and src_dom.prop('State') == 'running', DEADLINE,
                   'the source to resume the guest after a restart in Perform2')
        # Finish2 with a failure, as the client of protocol 2 does.
        self.assertEqual(m.finish(cancelled=True)[0], '/')
        assert_runs_here(self, g, self.src, [pid], ' after a restart of the source in Perform2')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()

    def assert_restored(self, g):
        src_dom = g.dom(self.src)
        props = src_dom.props()
        self.assertEqual((props['JobType'], props['JobPhase']), ('migration-out', 'perform3_done'),
                         'the restarted daemon did not restore the job from its journal: %r' % props)
        self.assertEqual(props['State'], 'paused')

    def test_confirm_success(self):
        """kill -9 of the source daemon in perform3_done, restart: the job is
        back in perform3_done; Finish3 runs the guest on the destination and
        the client's Confirm3Params stops the source QEMU: one QEMU left."""
        g, m, boot, pid = self.performed()
        src_serial = g.serial
        self.assert_restored(g)
        path, _ = m.finish()
        self.assertEqual(path, g.path)
        m.confirm()
        wait_until(lambda: not pid_alive(pid), DEADLINE, 'Confirm3 to stop the source QEMU')
        dst_serial = harness.SerialLog(g.next_serial_path())
        g.serials.append(dst_serial)
        g.host = self.dst
        assert_moved(self, g, src_serial, dst_serial, pid, boot)
        self.assertEqual(len(g.qemu_pids()), 1, 'QEMU processes left: %r' % g.qemu_pids())
        src_dom = g.dom(self.src)
        self.assertEqual(src_dom.prop('JobType'), 'none')
        self.assertEqual(src_dom.call('GetJobStats', 'u', (1,), 'sa{sv}')[0], 'completed')
        assert_runs_here(self, g, self.dst)
        g.destroy()

    def test_confirm_cancelled(self):
        """The same restart; Finish3 cancelled kills the incoming QEMU and
        the client's Confirm3Params cancelled resumes the guest on the source."""
        g, m, boot, pid = self.performed()
        self.assert_restored(g)
        self.assertEqual(m.finish(cancelled=True)[0], '/')
        m.confirm(cancelled=True)
        assert_runs_here(self, g, self.src, [pid], ' after Confirm3 cancelled of the restored job')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()

    def test_client_gone(self):
        """The client that drove the job left the bus while the source daemon
        was down: after the restart the client-gone rule ends the restored
        job at once (failed, outcome unknown); the guest stays paused there."""
        other = harness.Client(self.src.bus.address, 'vanishing-client')
        self.addCleanup(other.close)
        g, m, pid = performed_by(self, other)
        self.src.kill()
        other.close()
        self.src.start()
        outcome_unknown_then_resume(self, g, m, pid, 'the restored job of the vanished client to end')


class RestoredDeadline(MigrationTestCase):
    source_config = {'migration': {'phase_timeout': 3}}

    def test_deadline_with_client(self):
        """A restored job has phase_timeout even though its driving client is
        still on the bus: the client's call failed with the daemon and it may
        never come back. The job ends (outcome unknown), the guest paused."""
        other = harness.Client(self.src.bus.address, 'lingering-client')
        self.addCleanup(other.close)
        g, m, pid = performed_by(self, other)
        self.src.restart(kill=True)
        outcome_unknown_then_resume(self, g, m, pid,
                                    'the restored job of a client still on the bus to reach its deadline')


class RestartInFinish2(MigrationTestCase):

    def test_destination_keeps_guest(self):
        """Protocol 2: Perform2 stopped the source QEMU; the destination daemon
        is killed in finish2 and restarted: the incoming QEMU is the only
        copy, so it is resumed (StateReason migrated), never killed, and the
        guest goes on with its memory intact (libvirt's FINISH2)."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        src_serial = g.serial
        dst_serial_path = g.next_serial_path()
        xml = g.dom(self.src).xml().replace(src_serial.path, dst_serial_path)
        cookie, uri = mcall(self.dst, 'Prepare2', 'sstsu', (xml, '', 0, '', LIVE), 'ays')
        Pending(self.src.connect(), g.path, harness.DOMAIN_IFACE, 'Perform2', 'aysstu',
                (bytes(cookie), uri, '', 0, LIVE), '').wait(MIGRATION_DEADLINE)
        wait_until(lambda: not pid_alive(pid), DEADLINE, 'Perform2 to stop the source QEMU')
        dst_pids = g.qemu_pids()
        self.assertEqual(len(dst_pids), 1)
        # A kill -9 between journaling finish2 and Finish2's `cont`.
        self.dst.kill()
        edit_journal(self.dst, g, job_phase='finish2')
        self.dst.start()
        dst_dom = g.dom(self.dst)
        dst_dom.wait_state('running', DEADLINE, reason='migrated')
        self.assertEqual(dst_dom.prop('JobType'), 'none')
        self.assertTrue(pid_alive(dst_pids[0]), 'the restarted destination killed the only copy')
        dst_serial = harness.SerialLog(dst_serial_path)
        g.serials.append(dst_serial)
        g.host = self.dst
        assert_moved(self, g, src_serial, dst_serial, pid, boot)
        g.destroy()


class RestartInBegin3(MigrationTestCase):

    def test_job_completed(self):
        """kill -9 of the source daemon in begin3, restart: the restarted
        daemon forgets the job and says so once its bus name is owned (a
        client's sender=org.example.Migration1 rule hears it): exactly one
        JobCompleted, failed, naming the phase; GetJobStats(1) has it; the
        guest runs on untouched."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        m = Managed(self, g, self.src, self.dst, dest_xml=g.xml(serial_path=g.next_serial_path()))
        m.begin()
        src_dom = g.dom(self.src)
        self.assertEqual(src_dom.prop('JobPhase'), 'begin3')
        srec = recorder(self.src, g.path)
        self.addCleanup(srec.close)
        self.src.restart(kill=True)
        done = wait_until(lambda: members(srec.signals, 'JobCompleted'), DEADLINE,
                          'JobCompleted for the begin3 job of the killed daemon')
        stats = done[0].args[0]
        log('begin3 job after the restart: %r' % (stats.get('errmsg'),))
        self.assertFalse(stats['success'])
        self.assertIn('The daemon restarted during phase begin3', stats['errmsg'])
        self.assertEqual(src_dom.prop('JobType'), 'none')
        kind, last = src_dom.call('GetJobStats', 'u', (1,), 'sa{sv}')
        self.assertEqual((kind, last.get('errmsg')), ('failed', stats['errmsg']))
        holds_for(lambda: len(members(srec.signals, 'JobCompleted')) == 1, 2, 'exactly one JobCompleted')
        assert_runs_here(self, g, self.src, [pid], ' after the begin3 job was forgotten')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()


class SlowClient(MigrationTestCase):
    # A deadline far shorter than the pauses of the client below.
    source_config = {'migration': {'phase_timeout': 3}}
    destination_config = {'migration': {'phase_timeout': 3}}

    def test_no_deadline_while_connected(self):
        """phase_timeout=3 and a driving client that stays on the bus but
        takes 7 s between phases: neither job is ended, and the migration
        completes with that client's Finish3 and Confirm3 (libvirt acts only
        when the client leaves)."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        src_serial = g.serial
        dst_serial_path = g.next_serial_path()
        m = Managed(self, g, self.src, self.dst, dest_xml=g.xml(serial_path=dst_serial_path))
        src_dom = g.dom(self.src)
        pause = 7.0  # more than twice the deadline

        def jobs_alive(src_phase, dst_phase=None):
            if src_dom.prop('JobPhase') != src_phase:
                return False
            return dst_phase is None or harness.Domain(self.dst, g.path).prop('JobPhase') == dst_phase

        with recorder(self.src, g.path) as srec, recorder(self.dst, g.path) as drec:
            m.begin()
            holds_for(lambda: jobs_alive('begin3'), pause, 'the source job to wait in begin3')
            m.prepare()
            holds_for(lambda: jobs_alive('begin3', 'prepare'), pause, 'both jobs to wait after Prepare3')
            m.perform()
            holds_for(lambda: jobs_alive('perform3_done', 'prepare'), pause, 'both jobs to wait after Perform3')
            path, _ = m.finish()
            self.assertEqual(path, g.path)
            holds_for(lambda: jobs_alive('perform3_done'), pause, 'the source job to wait for Confirm3')
            m.confirm()
            srec.matching()
            drec.matching()
            early = [s for s in srec.signals + drec.signals
                     if s.member == 'JobCompleted' and s.args[0]['success'] is not True]
        self.assertEqual(early, [], 'a job ended without success: %r' % [s.args[0] for s in early])
        dst_serial = harness.SerialLog(dst_serial_path)
        g.serials.append(dst_serial)
        g.host = self.dst
        assert_moved(self, g, src_serial, dst_serial, pid, boot)
        self.assertEqual(len(g.qemu_pids()), 1, 'QEMU processes left: %r' % g.qemu_pids())
        g.destroy()


if __name__ == '__main__':
    migtest.main()
