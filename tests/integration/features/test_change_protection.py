#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""CHANGE_PROTECTION: from Begin3 to the end of the job, DefineXML over the
domain and Undefine are refused with JobActive (a migration holds it); since
issue 10 every migration job holds its domain so, with the flag or without,
on the source and on the destination; Destroy still works and ends the job."""

import feattest
from feattest import (FeatureTestCase, FGuest, LIVE, CHANGE_PROTECTION, Mig, members, recorder, dcall,
                      job_stats, assert_moved, assert_runs_here, wait_until, pid_alive, SIGNAL_DEADLINE,
                      DEADLINE)

PROTECTED = ('JobActive', 'migration', 'holds')
INACTIVE = 1 << 1      # GetXMLDesc: the persistent definition


class ChangeProtection(FeatureTestCase):

    def assert_protected(self, g, host, what):
        dom = g.dom(host)
        before = dom.xml(INACTIVE)
        with self.assertDBusError(*PROTECTED) as ctx:
            host.define(g.xml(title='changed %s' % what))
        self.assertIn(g.name, ctx.message, 'the message does not name the domain (%s)' % what)
        with self.assertDBusError(*PROTECTED):
            dom.undefine()
        self.assertEqual(dom.xml(INACTIVE), before, 'a refused DefineXML changed the domain (%s)' % what)
        self.assertIs(dom.prop('Persistent'), True, 'a refused Undefine removed the definition (%s)' % what)

    def assert_changeable(self, g, host, undefine=True, what=''):
        """DefineXML over the domain works (title changed), then Undefine (when asked)."""
        dom = g.dom(host)
        title = 'changed after %s' % what
        self.assertEqual(host.define(g.xml(title=title)).path, g.path)
        self.assertIs(dom.prop('Persistent'), True)
        self.assertIn(title, dom.xml(INACTIVE))
        if undefine:
            running = dom.prop('State') != 'shutoff'
            dom.undefine()
            if running:
                self.assertIs(dom.prop('Persistent'), False)
            else:
                with self.assertDBusError('NoSuchDomain'):
                    host.lookup_uuid(g.uuid)

    def test_until_confirm(self):
        """Refused from Begin3 through Perform3 and Finish3 until Confirm3; then
        allowed on the source's definition and on the destination's copy."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        src_serial = g.serial
        m = Mig(self, g, self.src, self.dst, flags=LIVE | CHANGE_PROTECTION)
        m.begin()
        self.assert_protected(g, self.src, 'in begin3')
        m.prepare()
        self.assert_protected(g, self.src, 'in begin3 after prepare')
        self.slow_down(g)
        with recorder(self.src, g.path) as rec:
            m.perform_start()
            self.wait_streaming(m, rec)
            self.assert_protected(g, self.src, 'during perform3')
            self.speed_up(g)
            m.perform_wait()
        self.assertEqual(g.dom(self.src).prop('JobPhase'), 'perform3_done')
        self.assert_protected(g, self.src, 'in perform3_done')
        m.finish()
        self.assert_protected(g, self.src, 'after finish3')
        m.confirm()
        g.moved_to(self.dst, m.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        src_dom = g.dom(self.src)
        self.assertEqual((src_dom.prop('State'), src_dom.prop('JobType')), ('shutoff', 'none'))
        # The guest runs on the destination (transient there): its copy can be defined.
        self.assert_changeable(g, self.dst, undefine=False, what='confirm3 (destination)')
        # The source's definition, shut off, is free again.
        self.assert_changeable(g, self.src, undefine=True, what='confirm3 (source)')
        g.destroy()

    def test_after_cancel(self):
        """Confirm3 cancelled after Begin3 ends the protection; the guest runs on."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        m = Mig(self, g, self.src, self.dst, flags=LIVE | CHANGE_PROTECTION)
        m.begin()
        self.assert_protected(g, self.src, 'in begin3')
        m.confirm(cancelled=True)
        self.assertEqual(g.dom(self.src).prop('JobType'), 'none')
        self.assert_changeable(g, self.src, undefine=True, what='a cancelled Confirm3')
        assert_runs_here(self, g, self.src, pid, ' after the cancel')
        g.destroy()

    def test_after_abort(self):
        """AbortJob during Perform3: still protected until the failure rules have
        run (Finish3 and Confirm3 cancelled), then allowed."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        self.slow_down(g)
        m = Mig(self, g, self.src, self.dst, flags=LIVE | CHANGE_PROTECTION)
        with recorder(self.src, g.path) as rec:
            m.begin()
            m.prepare()
            m.perform_start()
            self.wait_streaming(m, rec)
            dcall(self.src, g.path, 'AbortJob', 'u', (0,))
            with self.assertDBusError('MigrationAborted'):
                m.perform_wait()
            self.assertEqual(g.dom(self.src).prop('JobType'), 'migration-out')
            self.assert_protected(g, self.src, 'after the aborted stream')
            m.cancel()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
            self.assertIs(done.args[0]['success'], False)
        self.speed_up(g)
        self.assert_changeable(g, self.src, undefine=False, what='the abort')
        assert_runs_here(self, g, self.src, pid, ' after the abort')
        g.dom(self.src).undefine()
        g.destroy()

    def test_without_flag(self):
        """Without CHANGE_PROTECTION the job holds the domain all the same
        (libvirt's VIR_JOB_MODIFY): DefineXML and Undefine are refused on the
        source and over the incoming domain; the migration completes."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        m = Mig(self, g, self.src, self.dst, flags=LIVE)
        m.begin()
        self.assert_protected(g, self.src, 'begin3 without the flag')
        m.prepare()
        with self.assertDBusError(*PROTECTED):
            self.dst.define(g.xml(title='over an incoming domain'))
        self.assertEqual(g.dom(self.src).prop('JobPhase'), 'begin3', 'a refused call disturbed the job')
        src_serial = g.serial
        m.perform()
        m.finish()
        m.confirm()
        g.moved_to(self.dst, m.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()

    def test_destroy_cancels(self):
        """Destroy during a protected Perform3 works: the job ends (JobCompleted
        success=false), the incoming guest goes; the definition is free again."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        self.slow_down(g)
        m = Mig(self, g, self.src, self.dst, flags=LIVE | CHANGE_PROTECTION)
        with recorder(self.src, g.path) as rec:
            m.begin()
            m.prepare()
            dst_pid = g.qemu_pid_with(m.dst_serial)
            m.perform_start()
            self.wait_streaming(m, rec)
            self.assert_protected(g, self.src, 'during perform3')
            g.dom(self.src).destroy()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
            self.assertIs(done.args[0]['success'], False, done.args[0])
            self.assertTrue(done.args[0]['errmsg'])
            with self.assertDBusError('MigrationFailed'):
                m.perform_wait()
        wait_until(lambda: not pid_alive(pid), DEADLINE, 'the source QEMU to exit')
        src_dom = g.dom(self.src)
        self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('shutoff', 'destroyed'))
        self.assertEqual(src_dom.prop('JobType'), 'none')
        self.assertIn(job_stats(self.src, g.path, 1)[0], ('failed', 'cancelled'))
        # The destination: Finish3 cancelled leaves nothing behind.
        self.assertEqual(m.finish(cancelled=True), '/')
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to exit')
        self.assertEqual(self.dst.list_domains(0), [])
        self.speed_up(g)
        self.assert_changeable(g, self.src, undefine=True, what='Destroy')


if __name__ == '__main__':
    feattest.main()
