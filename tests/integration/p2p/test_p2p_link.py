#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The kept peer link: the source daemon keeps one authenticated link per
peer, shared by every migration there and by Manager.ConnectPeer; it dials
again once the link is lost, and closes it after [peer] idle_timeout."""

import json
import os
import re
import signal
import subprocess

import p2ptest
import test_p2p
from p2ptest import (P2PTestCase, DEADLINE, MANAGER_PATH, MANAGER_IFACE, GLib, snapshot_before, wait_until, log,
                     error_name, error_message)

CONNECTED = r'Connected to peer migration\+tls://127\.0\.0\.1:%d '
ACCEPTED = r'Accepted peer 127\.0\.0\.1:\d+ \(%s\)'


class LinkTestCase(P2PTestCase):

    def uri(self, host):
        return 'migration+tls://127.0.0.1:%d' % host.bridge_port

    def connect_peer(self, src, dst, uri=None):
        """Manager.ConnectPeer on @src to @dst's bridge: the preflight."""
        preflight, = src.connect().call(MANAGER_PATH, MANAGER_IFACE, 'ConnectPeer', 's', (uri or self.uri(dst),),
                                        'a{sv}')
        log('ConnectPeer %s -> %s: %r' % (src.name, dst.name, preflight))
        return preflight

    def assertConnectError(self, src, dst, name, *parts, uri=None):
        try:
            self.connect_peer(src, dst, uri)
        except GLib.Error as e:
            got, msg = error_name(e), error_message(e)
            log('ConnectPeer failed as expected: %s: %s' % (got, msg))
            self.assertEqual(got, 'org.example.Migration1.Error.' + name, msg)
            for part in parts:
                self.assertIn(part.lower(), msg.lower())
            return msg
        self.fail('ConnectPeer succeeded; expected %s' % name)

    def dials(self, src, dst):
        """How often @src's daemon set up a link to @dst's bridge (its log)."""
        return len(re.findall(CONNECTED % dst.bridge_port, self.daemon_log(src)))

    def accepted(self, src, dst):
        """How many links from @src @dst's bridge accepted (its whole log)."""
        return len(re.findall(ACCEPTED % p2ptest.Pki.DN[src.cert], self.bridges[dst.name].log(whole=True)))


class Reuse(LinkTestCase):

    def test_migrations_share_one_link(self):
        """Two guests move A -> B one after the other, then back B -> A at
        the same time: each direction sets up exactly one link (one
        handshake in the source's log and in the destination bridge's),
        and ConnectPeer afterwards says the link was reused."""
        a, b = self.a, self.b
        self.bridge(a)
        self.bridge(b)
        g1, g2 = self.guest(a), self.guest(a)

        self.migrate_moved(g1, a, b)
        self.migrate_moved(g2, a, b)
        self.assertEqual((self.dials(a, b), self.accepted(a, b)), (1, 1),
                         'two migrations A -> B set up more than one link (source dials, bridge accepts)')

        # Concurrently: both wait for the one dial, or share its link.
        moves = []
        for g in (g1, g2):
            boot, pid = snapshot_before(g)
            src_serial = g.serial
            pending, dst_serial = self.migrate_start(g, b, a)
            moves.append((g, pending, src_serial, dst_serial, pid, boot))
        for g, pending, src_serial, dst_serial, pid, boot in moves:
            pending.wait(p2ptest.MIGRATION_DEADLINE + 60)
            self.moved(g, a, src_serial, dst_serial, pid, boot)
        self.assertEqual((self.dials(b, a), self.accepted(b, a)), (1, 1),
                         'two concurrent migrations B -> A set up more than one link')

        pre = self.connect_peer(a, b)
        self.assertIs(pre['link_reused'], True)
        self.assertEqual(pre['links_dialed'], 1)
        self.assertEqual(self.dials(a, b), 1)
        for g in (g1, g2):
            g.destroy()


class Redial(LinkTestCase):

    def test_redial_after_bridge_killed(self):
        """The bridge that held the kept link is killed: the source forgets
        the link at once; the next migration there dials again, through the
        restarted bridge, and the guest moves."""
        a, b = self.a, self.b
        bridge = self.bridge(b)
        g = self.guest(a)
        self.assertIs(self.connect_peer(a, b)['link_reused'], False)
        self.assertIs(self.connect_peer(a, b)['link_reused'], True)

        log('SIGKILL to migration-bridge (b), pid %d' % bridge.proc.pid)
        bridge.signal(signal.SIGKILL)
        bridge.proc.wait(DEADLINE)
        wait_until(lambda: re.search(r'Lost the link to peer %s' % re.escape(self.uri(b)), self.daemon_log(a)),
                   DEADLINE, "a's daemon to notice that its link to b is lost")
        self.assertConnectError(a, b, 'PeerUnreachable')
        bridge.restart()

        self.migrate_moved(g, a, b)
        self.assertEqual(self.dials(a, b), 2, 'the migration after the loss did not dial again')
        self.assertIs(self.connect_peer(a, b)['link_reused'], True)
        g.destroy()


class IdleClose(LinkTestCase):

    a_config = {'peer': {'idle_timeout': 2}}

    def test_idle_close(self):
        """A link unused for [peer] idle_timeout (2 s here) is closed: the
        source logs it, the bridge sees the peer go, and the next
        ConnectPeer dials a new one."""
        a, b = self.a, self.b
        bridge = self.bridge(b)
        pre = self.connect_peer(a, b)
        self.assertEqual((pre['link_reused'], pre['links_dialed']), (False, 1))
        wait_until(lambda: re.search(r'Closing the link to peer %s \(CN=host-b\): unused for 2 s'
                                     % re.escape(self.uri(b)), self.daemon_log(a)),
                   DEADLINE, "a's daemon to close its idle link to b")
        bridge.wait_log(r'Peer 127\.0\.0\.1:\d+ \(CN=host-a\) is gone')
        pre = self.connect_peer(a, b)
        self.assertEqual((pre['link_reused'], pre['links_dialed']), (False, 2))


class Preflight(LinkTestCase):

    def test_connect_peer(self):
        """ConnectPeer to a good peer answers its facts and a usable
        verdict; to a bridge whose certificate this host does not trust,
        PeerRejected; to nothing, PeerUnreachable; a bad URI, InvalidArgs."""
        a, b = self.a, self.b
        self.bridge(b)
        pre = self.connect_peer(a, b)
        want = {'uri': self.uri(b), 'peer_dn': 'CN=host-b', 'protocol': '3-params', 'same_host': False,
                'usable': True, 'problems': [], 'link_reused': False,
                'hostname': b.connect().get(MANAGER_PATH, MANAGER_IFACE, 'Hostname'),
                'host_uuid': b.connect().get(MANAGER_PATH, MANAGER_IFACE, 'HostUUID')}
        self.assertEqual({k: pre.get(k) for k in want}, want)
        self.assertIn(3, pre['protocol_versions'])
        self.assertIn('peer2peer', pre['features'])
        self.assertGreater(pre['free_ports'], 0)
        self.assertRegex(pre['peer_address'], r'^127\.0\.0\.1:%d$' % b.bridge_port)

        # Nobody listens there.
        ports = p2ptest.harness.PortBlock()
        self.addCleanup(ports.release)
        self.assertConnectError(a, b, 'PeerUnreachable', uri='migration+tls://127.0.0.1:%d' % ports.port_min)
        try:
            self.connect_peer(a, b, uri='http://127.0.0.1/')
            self.fail('ConnectPeer took an http URI')
        except GLib.Error as e:
            self.assertEqual(error_name(e), 'org.freedesktop.DBus.Error.InvalidArgs', error_message(e))

        # A source that trusts only the intruder CA: b's bridge is untrusted.
        self.reconfigure(a, ca='ca2')
        self.assertConnectError(a, b, 'PeerRejected', '127.0.0.1')

    def test_protocol_mismatch_not_usable(self):
        """A peer that shares no protocol with this host is reachable but
        not usable: protocol is empty and problems says why."""
        a, b = self.a, self.b
        self.bridge(b)
        self.reconfigure(a, extra={'migration': {'protocol_versions': '2'}})
        self.reconfigure(b, extra={'migration': {'protocol_versions': '3-params,3'}})
        pre = self.connect_peer(a, b)
        self.assertEqual((pre['protocol'], pre['usable']), ('', False))
        self.assertTrue(any('share no migration protocol' in p for p in pre['problems']), pre['problems'])


class AbortIncomingOwner(LinkTestCase):

    def test_abort_incoming_only_own(self):
        """PeerRelay.AbortIncoming ends only an incoming job the calling
        bridge connection drives: the kept link makes the source send it by
        name, so another connection of the bridge (another peer) naming a
        guest that arrives from A is told there is none of its own, and the
        migration goes on and completes."""
        a, b = self.a, self.b
        self.bridge(b)
        g = self.guest(a, profile='slow')
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        g.dom(a).call('MigrateSetMaxSpeed', 'tu', (1, 0))
        pending, dst_serial = self.migrate_start(g, a, b)
        wait_until(lambda: pending.done or test_p2p.streaming(a, g.path), p2ptest.MIGRATION_DEADLINE,
                   'the peer-to-peer stream to run')
        self.assertFalse(pending.done, 'MigrateToURI3 ended before the stream ran: %r' % (pending.error,))

        # As the bridge's user (the relay checks it), on a connection of its own.
        argv = ['busctl', '--address=' + b.bus.address, 'call', 'org.example.Migration1',
                MANAGER_PATH, 'org.example.Migration1.PeerRelay', 'AbortIncoming', 'ss', 'CN=host-c', g.name]
        if os.geteuid() == 0:
            argv = [p2ptest.SETPRIV, '--reuid=%d' % p2ptest.NOBODY, '--regid=%d' % p2ptest.NOBODY,
                    '--clear-groups'] + argv
        res = subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE)
        log('AbortIncoming from another connection: rc %d, %s%s' % (res.returncode, res.stdout, res.stderr))
        self.assertNotEqual(res.returncode, 0, 'AbortIncoming of a job another connection drives succeeded')
        self.assertIn('no incoming migration from this peer', res.stderr)

        g.dom(a).call('MigrateSetMaxSpeed', 'tu', (0, 0))
        pending.wait(p2ptest.MIGRATION_DEADLINE + 60)
        self.moved(g, b, src_serial, dst_serial, src_pid, boot)
        g.destroy()


class BusyBridge(LinkTestCase):

    # The link stays however long the test takes: only its migrations end it.
    a_config = {'peer': {'idle_timeout': 3600}}

    def test_finish_waits_for_a_busy_bridge(self):
        """The destination's bridge takes at most 16 calls in flight per
        link, and the kept link carries every migration and ConnectPeer to
        that peer. Finish refused as LimitsExceeded was never relayed: the
        source sends it again once the bridge has room, instead of giving
        up and leaving B's incoming QEMU (the whole stream received)
        waiting for a Finish on a link that stays open. The guest moves."""
        a, b = self.a, self.b
        bridge = self.bridge(b)
        g = self.guest(a, profile='slow')
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        g.dom(a).call('MigrateSetMaxSpeed', 'tu', (1, 0))
        pending, dst_serial = self.migrate_start(g, a, b)
        wait_until(lambda: pending.done or test_p2p.streaming(a, g.path), p2ptest.MIGRATION_DEADLINE,
                   'the peer-to-peer stream to run')
        self.assertFalse(pending.done, 'MigrateToURI3 ended before the stream ran: %r' % (pending.error,))

        # B's daemon stops answering; 16 ConnectPeer fill the bridge's calls for the link.
        b.proc.send_signal(signal.SIGSTOP)
        self.addCleanup(lambda: b.proc.send_signal(signal.SIGCONT))
        relayed = len(re.findall(r'Relaying GetCapabilities of CN=host-a', bridge.log(whole=True)))
        checks = [p2ptest.Pending(a.connect(), MANAGER_PATH, MANAGER_IFACE, 'ConnectPeer', 's', (self.uri(b),),
                                  'a{sv}') for _ in range(16)]
        wait_until(lambda: len(re.findall(r'Relaying GetCapabilities of CN=host-a', bridge.log(whole=True)))
                   >= relayed + 16, DEADLINE, "b's bridge to hold 16 calls of a")

        # The stream ends; Finish finds the bridge full.
        g.dom(a).call('MigrateSetMaxSpeed', 'tu', (0, 0))
        wait_until(lambda: pending.done or re.search(r'bridge of .* is busy; Finish again', self.daemon_log(a)),
                   p2ptest.MIGRATION_DEADLINE, "a to find b's bridge busy at Finish")
        self.assertFalse(pending.done, 'MigrateToURI3 ended at a busy bridge: %r' % (pending.error,))
        b.proc.send_signal(signal.SIGCONT)
        pending.wait(p2ptest.MIGRATION_DEADLINE + 60)
        self.moved(g, b, src_serial, dst_serial, src_pid, boot)
        wait_until(lambda: all(c.done for c in checks), DEADLINE, 'the ConnectPeer calls to end')
        g.destroy()



class PrepareAnswerLost(LinkTestCase):

    # A's calls to B time out after CALL_TIMEOUT s; the link stays however long the test takes.
    CALL_TIMEOUT = int(10 * p2ptest.TIMEOUT_FACTOR)
    a_config = {'peer': {'idle_timeout': 3600, 'call_timeout': CALL_TIMEOUT}}

    def gated_qemu(self):
        """B's QEMU binary: QEMU held back while the FIFO gate exists, until
        the test opens it for writing (or B kills the waiting process)."""
        gate = os.path.join(self.workdir, 'qemu-gate')
        os.mkfifo(gate, 0o600)
        wrapper = os.path.join(self.workdir, 'gated-qemu')
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\n# QEMU once the test opens the gate: a Prepare that lasts until then\n'
                    '[ -p %s ] && read _ < %s\nexec %s "$@"\n' % (gate, gate, p2ptest.harness.QEMU_BINARY))
        os.chmod(wrapper, 0o755)
        self.addCleanup(self.open_gate, gate)
        return wrapper, gate

    @staticmethod
    def open_gate(gate):
        """Removes the gate (later launches pass at once) and lets a waiting QEMU go."""
        if not os.path.exists(gate):
            return
        fd = None
        try:
            fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            pass                # nobody waits at it
        os.unlink(gate)
        if fd is not None:
            os.close(fd)

    @staticmethod
    def held_qemu(wrapper, uuid):
        """PIDs of the gated QEMU of guest @uuid (the wrapper's shell, which
        becomes QEMU once the gate opens), alive."""
        harness = p2ptest.harness
        pids = []
        for entry in os.listdir('/proc'):
            argv = harness.proc_cmdline(int(entry)) if entry.isdigit() else None
            if argv and wrapper in argv[:2] and any(uuid in a for a in argv) and harness.pid_alive(int(entry)):
                pids.append(int(entry))
        return pids

    @staticmethod
    def status_record(host, uuid):
        """@host's status record of guest @uuid (parsed), None if it has none."""
        try:
            with open(os.path.join(host.state_dir, 'status', uuid + '.json')) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def lose_prepare_answer(self, meanwhile=lambda g, pending: None):
        """A migrates a guest to B, whose QEMU waits at the gate, so B's
        Prepare outlasts A's call_timeout; meanwhile() runs once B has the
        Prepare. MigrateToURI3 fails with the time-out only once A has B's
        answer to AbortIncoming (A logs it before answering its caller); B
        has ended its job, aborted, and killed its QEMU that was still
        starting (held at the closed gate) before answering, and forgets the
        guest. The guest runs on at A, and the next migration moves it over
        the same link."""
        a, b = self.a, self.b
        wrapper, gate = self.gated_qemu()
        self.reconfigure(b, extra={'qemu': {'binary': wrapper}})
        self.bridge(b)
        g = self.guest(a, profile='light')
        boot, src_pid = snapshot_before(g)
        with p2ptest.recorder(a, g.path) as rec, p2ptest.recorder(b, g.path) as drec:
            pending, _ = self.migrate_start(g, a, b)
            wait_until(lambda: pending.done or "Prepare3Params from peer 'CN=host-a'" in self.daemon_log(b),
                       p2ptest.MIGRATION_DEADLINE, 'b to prepare')
            self.assertFalse(pending.done, 'MigrateToURI3 ended before Prepare: %r' % (pending.error,))
            wait_until(lambda: pending.done or self.held_qemu(wrapper, g.uuid), DEADLINE,
                       "b's QEMU to wait at the gate")
            held = self.held_qemu(wrapper, g.uuid)
            self.assertEqual(len(held), 1, 'the QEMU held at the gate: %r' % (held,))
            # The early record (docs/recovery.md), with Prepare's journal.
            early = wait_until(lambda: self.status_record(b, g.uuid), DEADLINE, "b's early status record")
            self.assertEqual((early.get('starting'), early.get('pid'), early.get('job_type'), early.get('job_phase')),
                             (True, held[0], 'migration-in', 'prepare'), early)
            meanwhile(g, pending)
            wait_until(lambda: pending.done, self.CALL_TIMEOUT + DEADLINE, 'MigrateToURI3 to fail')
            # B killed it when AbortIncoming ended the job, not once QEMU's monitor came up.
            self.assertTrue(os.path.exists(gate), 'the gate was opened')
            self.assertFalse(p2ptest.harness.pid_alive(held[0]),
                             "b's starting QEMU (pid %d) outlived AbortIncoming's answer" % held[0])
            self.assertMigrateError(pending, 'PeerUnreachable', 'Prepare', 'timed out')
            self.assertRegex(self.daemon_log(a), r"The answer of migration\+tls://\S+ to Prepare was lost")
            self.assertIn("aborted the incoming migration of '%s'" % g.name, self.daemon_log(a))
            self.assertIn("AbortIncoming of '%s' from peer 'CN=host-a'" % g.name, self.daemon_log(b))
            self.assertJobFailed(rec)
            wait_until(lambda: p2ptest.members(drec.signals, 'JobCompleted'), DEADLINE, 'JobCompleted on b')
            dst_done = [m.args[0] for m in p2ptest.members(drec.signals, 'JobCompleted')]
            self.assertEqual([d['success'] for d in dst_done], [False], dst_done)
            self.assertIn('aborted', dst_done[0]['errmsg'])
        self.assertNotIn('Failed to have', self.daemon_log(a))
        wait_until(lambda: g.path not in b.list_domains(0), DEADLINE, 'b to forget the incoming guest')
        self.assertTrue(os.path.exists(gate), 'the gate was opened')
        # Gone with the QEMU it named: a restart of b must find nothing to kill.
        self.assertIsNone(self.status_record(b, g.uuid), "b kept the early status record of the killed QEMU")

        self.open_gate(gate)
        self.assertStaysHere(g, a, src_pid, ' after the lost Prepare answer')
        self.assertNothingThere(g, b, ' after the lost Prepare answer')
        self.assertEqual(g.serial.boot_ids(), [boot])
        dials = self.dials(a, b)
        self.migrate_moved(g, a, b)
        self.assertEqual(self.dials(a, b), dials, 'the link was dialed again')
        g.destroy()

    def test_abort_then_another_begin(self):
        """AbortJob on A while B's Prepare waits (its QEMU at the gate), then
        another client's Begin3 on A: the guest has a new job, not the
        peer-to-peer migration's. When B's Prepare answers, A's migration
        must not go on with that job: MigrateToURI3 fails with
        MigrationAborted, the other client's job stays in begin3, the guest
        runs on at A and B throws its incoming guest away."""
        a, b = self.a, self.b
        wrapper, gate = self.gated_qemu()
        self.reconfigure(b, extra={'qemu': {'binary': wrapper}})
        self.bridge(b)
        g = self.guest(a, profile='light')
        boot, src_pid = snapshot_before(g)
        dom = g.dom(a)
        pending, _ = self.migrate_start(g, a, b)
        wait_until(lambda: pending.done or self.held_qemu(wrapper, g.uuid), p2ptest.MIGRATION_DEADLINE,
                   "b's QEMU to wait at the gate")
        self.assertFalse(pending.done, 'MigrateToURI3 ended before Prepare: %r' % (pending.error,))
        dom.call('AbortJob', 'u', (0,))
        wait_until(lambda: dom.prop('JobType') == 'none', DEADLINE, "the migration's job to end on a")
        dom.call('Begin3Params', 'a{sv}u', ({}, p2ptest.LIVE), 'say')
        self.assertEqual((dom.prop('JobType'), dom.prop('JobPhase')), ('migration-out', 'begin3'))
        self.assertFalse(pending.done, 'MigrateToURI3 ended before B answered Prepare: %r' % (pending.error,))
        self.open_gate(gate)
        self.assertMigrateError(pending, 'MigrationAborted')
        # The other client's job is untouched: still in begin3, nothing streamed.
        self.assertEqual((dom.prop('JobType'), dom.prop('JobPhase')), ('migration-out', 'begin3'))
        wait_until(lambda: g.path not in b.list_domains(0), DEADLINE, 'b to throw the incoming guest away')
        dom.call('AbortJob', 'u', (0,))
        self.assertStaysHere(g, a, src_pid, ' after the abort and the other Begin3')
        self.assertNothingThere(g, b, ' after the abort and the other Begin3')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()

    def test_prepare_answer_lost(self):
        """The lost Prepare answer (lose_prepare_answer) on a quiet link:
        the kept link stays open for other migrations, so only
        AbortIncoming ends B's incoming job."""
        self.lose_prepare_answer()

    def test_abort_incoming_waits_for_a_busy_bridge(self):
        """... while B's bridge holds its 16 calls in flight for the link
        (B's daemon stopped: the Prepare and 15 ConnectPeer): AbortIncoming
        is refused as LimitsExceeded and sent again each second, and
        MigrateToURI3 waits, until B's daemon goes on and the bridge has
        room. (Before, it was sent once without waiting for an answer, and
        the refusal left B's incoming job waiting.)"""
        a, b = self.a, self.b

        def fill_bridge(g, pending):
            bridge = self.bridges['b']
            relayed = len(re.findall(r'Relaying GetCapabilities of CN=host-a', bridge.log(whole=True)))
            b.proc.send_signal(signal.SIGSTOP)
            self.addCleanup(lambda: b.proc.send_signal(signal.SIGCONT))
            checks = [p2ptest.Pending(a.connect(), MANAGER_PATH, MANAGER_IFACE, 'ConnectPeer', 's', (self.uri(b),),
                                      'a{sv}') for _ in range(15)]
            wait_until(lambda: len(re.findall(r'Relaying GetCapabilities of CN=host-a', bridge.log(whole=True)))
                       >= relayed + 15, DEADLINE, "b's bridge to hold the Prepare and 15 calls of a")
            wait_until(lambda: pending.done or re.search(r'bridge of .* is busy; AbortIncoming again',
                                                         self.daemon_log(a)),
                       self.CALL_TIMEOUT + DEADLINE, "a to find b's bridge busy at AbortIncoming")
            self.assertFalse(pending.done, 'MigrateToURI3 ended at a busy bridge: %r' % (pending.error,))
            self.assertNotIn('Relaying AbortIncoming', bridge.log(whole=True))
            b.proc.send_signal(signal.SIGCONT)
            wait_until(lambda: all(c.done for c in checks), DEADLINE, 'the ConnectPeer calls to end')

        self.lose_prepare_answer(fill_bridge)


if __name__ == '__main__':
    p2ptest.main()
