#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon restarts (SIGTERM, SIGKILL); guests and definitions outlive it."""

import json
import os
import signal

from gi.repository import Gio, GLib

import harness
from harness import SingleHostTestCase, DEADLINE, pid_alive, wait_until


class Restart(SingleHostTestCase):

    def _guest_survives(self, kill):
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        g.serial.wait_counter(3)
        pids = dom.qemu_pids()
        self.assertEqual(len(pids), 1)
        boots = g.serial.boot_ids()
        self.assertEqual(len(boots), 1)

        if kill:
            self.host.kill()
        else:
            self.host.stop()
        # The daemon is gone, the guest is not: its counter keeps rising.
        self.assertTrue(pid_alive(pids[0]), 'QEMU died with the daemon')
        g.serial.wait_advance(3)
        self.host.start()

        dom = self.host.lookup(g.name)
        self.assertEqual(dom.path, g.dom.path)
        props = dom.props()
        self.assertEqual(props['State'], 'running')
        self.assertEqual(props['UUID'], g.uuid)
        self.assertTrue(props['Persistent'])
        self.assertEqual(props['JobType'], 'none')
        self.assertEqual(dom.qemu_pids(), pids, 'the QEMU process changed across the restart')
        self.assertEqual(self.host.list_domains(harness.LIST_ACTIVE), [dom.path])
        g.serial.wait_advance(3)
        self.assertEqual(g.serial.boot_ids(), boots, 'the guest rebooted')
        g.serial.assert_continuous()

        # The daemon really has the guest back: it controls it through QMP.
        dom.suspend()
        self.assertEqual(dom.state, 'paused')
        dom.resume()
        self.assertEqual(dom.state, 'running')
        g.serial.wait_advance(2)
        dom.destroy()
        wait_until(lambda: not pid_alive(pids[0]), DEADLINE, 'QEMU to exit after Destroy')
        self.assertEqual(dom.state, 'shutoff')

    def test_sigterm_guest_survives(self):
        """SIGTERM the daemon while a guest runs: same QEMU, running, counter rising."""
        self._guest_survives(kill=False)

    def test_sigkill_guest_survives(self):
        """SIGKILL the daemon while a guest runs: same QEMU, running, counter rising."""
        self._guest_survives(kill=True)

    def test_paused_guest_survives(self):
        """A paused guest stays paused across a restart and resumes afterwards."""
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        pids = dom.qemu_pids()
        dom.suspend()
        self.host.restart()
        self.assertEqual(dom.state, 'paused')
        self.assertEqual(dom.qemu_pids(), pids)
        at = g.serial.last_counter()
        dom.resume()
        self.assertEqual(dom.state, 'running')
        g.serial.wait_counter(at + 3)
        g.serial.assert_continuous()
        dom.destroy()
        wait_until(lambda: not pid_alive(pids[0]), DEADLINE, 'QEMU to exit after Destroy')

    def test_guest_gone_while_down(self):
        """A guest whose QEMU died while the daemon was down is shut off after the restart."""
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        pids = dom.qemu_pids()
        self.host.stop()
        os.kill(pids[0], signal.SIGKILL)
        wait_until(lambda: not pid_alive(pids[0]), DEADLINE, 'QEMU to die')
        self.host.start()
        dom = self.host.lookup(g.name)
        self.assertEqual(dom.state, 'shutoff')
        self.assertTrue(dom.prop('Persistent'))
        self.assertEqual(self.host.list_domains(harness.LIST_ACTIVE), [])
        # And it can be started again.
        dom.start()
        g.serial.wait_counter(1)
        pids2 = dom.qemu_pids()
        dom.destroy()
        wait_until(lambda: not any(pid_alive(p) for p in pids2), DEADLINE, 'QEMU to exit after Destroy')

    def test_sigkill_while_starting(self):
        """SIGKILL the daemon while a guest's QEMU starts (held at a FIFO gate
        before it execs QEMU): the early status record lets the restarted
        daemon find that QEMU and kill it, as libvirt does with a QEMU that
        was not fully started; the domain is shut off (StateReason failed)
        and starts again, with one QEMU."""
        gate = os.path.join(self.workdir, 'qemu-gate')
        os.mkfifo(gate, 0o600)
        self.addCleanup(lambda: os.path.exists(gate) and os.unlink(gate))
        wrapper = os.path.join(self.workdir, 'gated-qemu')
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\n# QEMU once the test removes the gate\n'
                    '[ -p %s ] && read _ < %s\nexec %s "$@"\n' % (gate, gate, harness.QEMU_BINARY))
        os.chmod(wrapper, 0o755)
        self.host.config_extra = {'qemu': {'binary': wrapper}}
        self.host.write_config()
        self.host.restart()
        g = self.make_guest(self.host)
        record = os.path.join(self.host.state_dir, 'status', g.uuid + '.json')

        def held():
            return [pid for pid in (int(e) for e in os.listdir('/proc') if e.isdigit())
                    if (harness.proc_cmdline(pid) or [''])[1:2] == [wrapper]
                    and g.uuid in (harness.proc_cmdline(pid) or []) and pid_alive(pid)]

        def early_record():
            try:
                with open(record) as f:
                    return json.load(f)
            except FileNotFoundError:
                return None

        # A failure before the restarted daemon kills it would leave the
        # shell blocked at the gate for good (teardown looks for QEMUs only).
        self.addCleanup(lambda: [harness.kill_and_reap(p) for p in held()])
        replies = []
        self.host.connect().conn.call(harness.BUS_NAME, g.dom.path, harness.DOMAIN_IFACE, 'Start',
                                      GLib.Variant('(u)', (0,)), None, Gio.DBusCallFlags.NONE, -1, None,
                                      lambda conn, res: replies.append(res))
        wait_until(lambda: held() or replies, DEADLINE, 'the QEMU to wait at the gate')
        pids = held()
        self.assertEqual(len(pids), 1, 'the QEMU held at the gate: %r (Start answered: %r)' % (pids, replies))
        # Written before the child may exec (the spawn gate): there once the wrapper shows.
        early = early_record()
        self.assertTrue(early and early.get('starting') and early.get('pid') == pids[0],
                        'no early status record naming the starting QEMU: %r' % (early,))

        self.host.kill()
        self.assertTrue(pid_alive(pids[0]), 'the starting QEMU died with the daemon')
        self.host.start()
        wait_until(lambda: not pid_alive(pids[0]), DEADLINE, 'the restarted daemon to kill the starting QEMU')
        self.assertIn('did not survive: its QEMU had not finished starting; killed', open(self.host.stderr_path).read())
        dom = self.host.lookup(g.name)
        self.assertEqual((dom.state, dom.prop('StateReason')), ('shutoff', 'failed'))
        self.assertFalse(os.path.exists(record), 'the early status record outlived its QEMU')

        os.unlink(gate)
        dom.start()
        g.serial.wait_counter(1)
        started = dom.qemu_pids()
        self.assertEqual(len(started), 1, 'QEMUs of the guest: %r' % (started,))
        dom.destroy()
        wait_until(lambda: not any(pid_alive(p) for p in started), DEADLINE, 'QEMU to exit after Destroy')

    def test_definitions_survive(self):
        """Definitions survive SIGTERM and SIGKILL restarts; an undefined one stays gone."""
        a = self.make_guest(self.host, name='keep-a')
        b = self.make_guest(self.host, name='keep-b', title='second', memory_mib=96)
        xml_a, xml_b = a.dom.xml(), b.dom.xml()
        paths = sorted([a.dom.path, b.dom.path])

        self.host.restart()
        self.assertEqual(self.host.list_domains(0), paths)
        self.assertEqual(self.host.lookup('keep-a').xml(), xml_a)
        self.assertEqual(self.host.lookup_uuid(b.uuid).xml(), xml_b)
        self.assertEqual(self.host.lookup('keep-b').state, 'shutoff')
        self.assertTrue(self.host.lookup('keep-b').prop('Persistent'))

        a.dom.undefine()
        self.host.restart(kill=True)
        self.assertEqual(self.host.list_domains(0), [b.dom.path])
        with self.assertDBusError('NoSuchDomain'):
            self.host.lookup('keep-a')
        self.assertEqual(self.host.lookup('keep-b').xml(), xml_b)
        # The survivor is usable.
        b.dom.start()
        b.serial.wait_counter(1)
        pids = b.dom.qemu_pids()
        b.dom.destroy()
        wait_until(lambda: not any(pid_alive(p) for p in pids), DEADLINE, 'QEMU to exit after Destroy')


if __name__ == '__main__':
    harness.main()
