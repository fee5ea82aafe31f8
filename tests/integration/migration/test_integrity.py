#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A migration job holds its domain (issue 10, hole 1): Start, Suspend,
Resume, Shutdown, Undefine and DefineXML answer JobActive naming the job, on
the source and on the destination; Destroy ends the job. A guest the user
paused stays paused (hole 5): migrationctl adds PAUSED, so it arrives paused,
and a cancelled migration leaves it paused on the source."""

import glob
import json
import os
import subprocess

import migtest
from migtest import (MigrationTestCase, MigGuest, Managed, LIVE, assert_moved, assert_runs_here, snapshot_before,
                     dcall, holds_for, wait_until, pid_alive, log, harness, DEADLINE, MIGRATION_DEADLINE)


def refused_while_held(tc, host, guest, dom, job, what):
    """Every lifecycle call on @dom answers JobActive naming @job ('TYPE job in phase PHASE')."""
    # Resume first: the call that let a guest run twice.
    for method in ('Resume', 'Suspend', 'Shutdown', 'Undefine', 'Start'):
        with tc.assertDBusError('JobActive', guest.name, job) as ctx:
            dom.call(method, 'u', (0,))
        log('%s %s: %s' % (what, method, ctx.message))
    with tc.assertDBusError('JobActive', guest.name, job):
        host.define(guest.xml(title='changed during the job'))


class JobHolds(MigrationTestCase):

    def test_resume_source_after_perform(self):
        """The stream has completed (perform3_done, QEMU postmigrate): Resume on
        the paused source is refused; after Finish3 the guest runs on the
        destination only and the source never counted again."""
        g = MigGuest(self, self.src, profile='light')
        boot, pid = snapshot_before(g)
        src_serial = g.serial
        dst_path = g.next_serial_path()
        m = Managed(self, g, self.src, self.dst, flags=LIVE, dest_xml=g.xml(serial_path=dst_path))
        src_dom = g.dom(self.src)
        m.begin()
        m.prepare()
        m.perform()
        self.assertEqual((src_dom.prop('State'), src_dom.prop('JobPhase')), ('paused', 'perform3_done'))
        stopped_at = src_serial.text()
        refused_while_held(self, self.src, g, src_dom, 'migration-out job in phase perform3_done', 'perform3_done')
        # The calls of a running guest, in Begin3: refused as well.
        g2 = MigGuest(self, self.src, profile='light')
        g2_dom = g2.dom(self.src)
        m2 = Managed(self, g2, self.src, self.dst, flags=LIVE)
        m2.begin()
        refused_while_held(self, self.src, g2, g2_dom, 'migration-out job in phase begin3', 'begin3')
        self.assertEqual(g2_dom.prop('State'), 'running')
        m2.confirm(cancelled=True)
        self.assertEqual(g2_dom.prop('JobType'), 'none')
        g2.destroy()
        self.assertEqual(src_dom.prop('State'), 'paused', 'a refused call let the source run')
        holds_for(lambda: src_serial.text() == stopped_at, 2.0, 'the source console staying silent')
        m.finish()
        m.confirm()
        g.serials.append(harness.SerialLog(dst_path))
        g.host = self.dst
        self.assertEqual(src_serial.text(), stopped_at, 'the source counted after Perform3: the guest ran twice')
        assert_moved(self, g, src_serial, g.serial, pid, boot)
        g.destroy()

    def test_resume_destination_in_prepare(self):
        """The incoming domain during Prepare: Resume (and the other calls) are
        refused, the guest does not run there; Destroy ends the incoming job
        and Confirm3(cancelled) lets it run on at the source."""
        g = MigGuest(self, self.src, profile='light')
        boot, pid = snapshot_before(g)
        dst_path = g.next_serial_path()
        m = Managed(self, g, self.src, self.dst, flags=LIVE, dest_xml=g.xml(serial_path=dst_path))
        m.begin()
        m.prepare()
        dst_dom = g.dom(self.dst)
        dst_pid = g.qemu_pid_with(dst_path)
        self.assertIsNotNone(dst_pid, 'no incoming QEMU')
        refused_while_held(self, self.dst, g, dst_dom, 'migration-in job in phase prepare', 'prepare')
        self.assertEqual((dst_dom.prop('State'), dst_dom.prop('JobType')), ('paused', 'migration-in'))
        holds_for(lambda: not os.path.exists(dst_path) or os.path.getsize(dst_path) == 0, 2.0,
                  'the incoming guest staying silent')
        with migtest.recorder(self.dst, g.path) as rec:
            dst_dom.destroy()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', migtest.SIGNAL_DEADLINE, 'JobCompleted')
        self.assertIs(done.args[0]['success'], False)
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to exit')
        m.confirm(cancelled=True)
        assert_runs_here(self, g, self.src, [pid], ' after the cancelled migration')
        g.destroy()


def job_journal(host, uuid):
    """The job fields of @uuid's status file on @host (the journal a restart reads)."""
    for path in glob.glob(os.path.join(host.dir, '**', uuid + '.json'), recursive=True):
        with open(path) as f:
            status = json.load(f)
        if 'job_type' in status:
            return status
    return {}


class PausedSource(MigrationTestCase):

    def ctl(self, *args):
        argv = [harness.MIGRATIONCTL] + [str(a) for a in args]
        env = dict(os.environ)
        for k in ('DBUS_SYSTEM_BUS_ADDRESS', 'DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS'):
            env.pop(k, None)
        log('running ' + ' '.join(argv))
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           timeout=MIGRATION_DEADLINE, text=True)
        log('  rc %d, stdout %r, stderr %r' % (p.returncode, p.stdout, p.stderr))
        return p

    def test_migrationctl_arrives_paused(self):
        """migrationctl migrate of a guest the user paused: it arrives paused and
        counts on from where it was after Resume there."""
        g = MigGuest(self, self.src, profile='light')
        boot, pid = snapshot_before(g)
        src_serial = g.serial
        g.dom(self.src).suspend()
        dst_path = g.next_serial_path()
        xml = os.path.join(self.workdir, 'dest.xml')
        with open(xml, 'w') as f:
            f.write(g.xml(serial_path=dst_path))
        p = self.ctl('--bus', self.src.bus.address, 'migrate', g.name, '--to-bus', self.dst.bus.address,
                     '--live', '--xml', xml)
        self.assertEqual(p.returncode, 0, p.stderr)
        g.serials.append(harness.SerialLog(dst_path))
        g.host = self.dst
        dst_dom = g.dom(self.dst)
        self.assertEqual(dst_dom.prop('State'), 'paused', 'a paused guest arrived %s (%s)'
                         % (dst_dom.prop('State'), dst_dom.prop('StateReason')))
        wait_until(lambda: not pid_alive(pid), DEADLINE, 'the source QEMU to exit')
        holds_for(lambda: g.serial.last_counter() is None, 2.0, 'the destination console staying silent')
        dst_dom.resume()
        assert_moved(self, g, src_serial, g.serial, pid, boot)
        g.destroy()

    def test_cancel_keeps_paused(self):
        """A paused guest whose migration is cancelled after Perform3 stays paused
        on the source (its reason as before), and runs on after Resume."""
        g = MigGuest(self, self.src, profile='light')
        boot, pid = snapshot_before(g)
        src_dom = g.dom(self.src)
        src_dom.suspend()
        self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('paused', 'user'))
        stopped_at = g.serial.text()
        m = Managed(self, g, self.src, self.dst, flags=LIVE, dest_xml=g.xml(serial_path=g.next_serial_path()))
        m.begin()
        journal = job_journal(self.src, g.uuid)
        self.assertEqual((journal.get('job_type'), journal.get('paused_before')), ('migration-out', True),
                         'the job journal does not say the guest was paused before the job: %r'
                         % {k: v for k, v in journal.items() if k != 'xml'})
        m.prepare()
        m.perform()
        m.cookie = None
        m.finish(cancelled=True)
        m.confirm(cancelled=True)
        wait_until(lambda: src_dom.prop('JobType') == 'none', DEADLINE, 'the job to end')
        self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('paused', 'user'),
                         'the cancelled migration changed the state of a paused guest')
        holds_for(lambda: g.serial.text() == stopped_at, 2.0, 'the paused guest staying silent')
        src_dom.resume()
        assert_runs_here(self, g, self.src, [pid], ' after Resume')
        g.destroy()


if __name__ == '__main__':
    migtest.main()
