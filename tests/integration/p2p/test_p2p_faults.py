#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer-to-peer migration when the way to the peer breaks during Perform:
the destination's bridge killed, the network link between the hosts cut.
Each ends with the guest running on exactly one host, its counter rising,
and a next migration over the mended way succeeds."""

import contextlib
import os
import shutil
import signal
import subprocess

import p2ptest
import test_p2p
from gi.repository import GLib
from p2ptest import (P2PTestCase, MIGRATION_DEADLINE, DEADLINE, holds_for,
                     recorder, snapshot_before, wait_until, pid_alive, log, harness)


class BreakDuringPerform(P2PTestCase):
    """A slow peer-to-peer stream from A to B, broken by break_link()."""

    # Both ends of the link give a silent peer up after 4 s.
    keepalive = (1, 4)

    def break_during_perform(self, break_link, mend_link, cause):
        """Breaks the way to B while the stream runs; the call fails with
        PeerUnreachable saying @cause (how the source learnt it); the guest
        runs on at A, B kills its incoming QEMU; after mend_link() the guest
        moves to B."""
        self.bridge(self.b)
        g = self.guest(self.a, profile='slow')
        boot, src_pid = snapshot_before(g)
        g.dom(self.a).call('MigrateSetMaxSpeed', 'tu', (1, 0))
        with recorder(self.a, g.path) as rec:
            pending, _ = self.migrate_start(g, self.a, self.b)
            wait_until(lambda: pending.done or test_p2p.streaming(self.a, g.path), MIGRATION_DEADLINE,
                       'the peer-to-peer stream to run')
            self.assertFalse(pending.done, 'MigrateToURI3 ended before the stream ran: %r' % (pending.error,))
            incoming = [p for p in g.qemu_pids() if p != src_pid]
            self.assertEqual(len(incoming), 1, 'expected one incoming QEMU on b, found %r' % incoming)
            break_link()
            wait_until(lambda: pending.done, MIGRATION_DEADLINE, 'MigrateToURI3 to fail after the way to the peer broke')
            self.assertMigrateError(pending, 'PeerUnreachable', cause)
            self.assertJobFailed(rec)

        # The guest never left A; B let its incoming guest go.
        self.assertEqual(g.dom(self.a).prop('State'), 'running')
        test_p2p.counter_rises_while(self, g)
        wait_until(lambda: not any(pid_alive(p) for p in incoming), DEADLINE,
                   'the incoming QEMU on b (pid %r) to be killed' % incoming)
        wait_until(lambda: g.path not in self.b.list_domains(0), DEADLINE, 'b to forget the incoming guest')
        self.assertStaysHere(g, self.a, src_pid, ' after the way to the peer broke')
        self.assertNothingThere(g, self.b)

        # Mended, the same guest moves: nothing was left half-done on either host.
        mend_link()
        g.dom(self.a).call('MigrateSetMaxSpeed', 'tu', (0, 0))
        self.migrate_moved(g, self.a, self.b)
        g.destroy()


class BridgeKilled(BreakDuringPerform):

    def test_bridge_killed_during_perform(self):
        """SIGKILL to B's bridge during Perform: the source's link closes at
        once (PeerUnreachable), the stream stops, the guest runs on at A; the
        bridge's bus connection for the peer closes with it, so B kills the
        incoming QEMU. A restarted bridge (as systemd's socket would) takes
        the next migration."""
        def kill():
            bridge = self.bridges['b']
            log('SIGKILL to migration-bridge (b), pid %d' % bridge.proc.pid)
            bridge.signal(signal.SIGKILL)
            bridge.proc.wait(DEADLINE)

        # The closed link itself tells, not the keepalive's silence.
        self.break_during_perform(kill, lambda: self.bridges['b'].restart(), 'was closed by')


class Namespaces:
    """Network namespaces NAME-a and NAME-b joined by a veth pair, addresses
    ADDRESS['a'] and ADDRESS['b']; each host's daemon (so its QEMUs) and
    bridge run in its own. Everything made here goes in delete()."""

    ADDRESS = {'a': '10.77.0.1', 'b': '10.77.0.2'}

    def __init__(self):
        tag = os.getpid() % 100000
        self.ns = {h: 'md-test-%d-%s' % (tag, h) for h in 'ab'}
        self.veth = {h: 'mdt%d%s' % (tag, h) for h in 'ab'}     # at most 15 characters

    @staticmethod
    def _ip(*args):
        p = subprocess.run(['ip'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise RuntimeError('ip %s: %s' % (' '.join(args), p.stdout.decode(errors='replace').strip()))

    def create(self):
        for h in 'ab':
            self._ip('netns', 'add', self.ns[h])
        self._ip('link', 'add', self.veth['a'], 'type', 'veth', 'peer', 'name', self.veth['b'])
        for h in 'ab':
            self._ip('link', 'set', self.veth[h], 'netns', self.ns[h])
            self._ip('-n', self.ns[h], 'addr', 'add', self.ADDRESS[h] + '/24', 'dev', self.veth[h])
            self._ip('-n', self.ns[h], 'link', 'set', 'lo', 'up')
            self._ip('-n', self.ns[h], 'link', 'set', self.veth[h], 'up')
        log('network namespaces %s (%s) and %s (%s), a veth pair between them' % (
            self.ns['a'], self.ADDRESS['a'], self.ns['b'], self.ADDRESS['b']))

    def delete(self):
        # The veth pair goes with its namespaces.
        for h in 'ab':
            with contextlib.suppress(RuntimeError):
                self._ip('netns', 'delete', self.ns[h])

    def link(self, up):
        log('link %s of host a: %s' % (self.veth['a'], 'up' if up else 'down'))
        self._ip('-n', self.ns['a'], 'link', 'set', self.veth['a'], 'up' if up else 'down')

    NFT_TABLE = 'migrationd_test_cut'

    def nft(self, drop):
        """Drops (or no more) every packet between the hosts, in A's namespace."""
        if drop:
            rules = ('table inet %s {\n'
                     ' chain out { type filter hook output priority 0; ip daddr %s drop; }\n'
                     ' chain in { type filter hook input priority 0; ip saddr %s drop; }\n'
                     '}\n' % (self.NFT_TABLE, self.ADDRESS['b'], self.ADDRESS['b']))
            argv = ['nft', '-f', '-']
        else:
            rules, argv = None, ['nft', 'delete', 'table', 'inet', self.NFT_TABLE]
        log('nftables in %s: %s' % (self.ns['a'], 'drop everything to and from b' if drop else 'table deleted'))
        p = subprocess.run(['ip', 'netns', 'exec', self.ns['a']] + argv, input=(rules or '').encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise RuntimeError('nft: %s' % p.stdout.decode(errors='replace').strip())


class LinkCut(BreakDuringPerform):
    """Hosts A and B in two network namespaces; the stream and the peer
    link cross the veth pair between them, and the test cuts it."""

    def setUp(self):
        if os.geteuid() != 0:
            harness.skip_everything('SKIPPED LOUDLY: the link-cut tests need root for network namespaces')
        for tool in ('ip', 'nft', 'nsenter'):
            if not shutil.which(tool):
                harness.skip_everything('SKIPPED LOUDLY: %s is missing (iproute2, nftables, util-linux)' % tool)
        self.net = Namespaces()
        self.addCleanup(self.net.delete)
        try:
            self.net.create()
        except RuntimeError as e:
            harness.skip_everything('SKIPPED LOUDLY: cannot make network namespaces here: %s' % e)
        super().setUp()

    def host_address(self, name):
        return Namespaces.ADDRESS[name]

    def host_netns(self, name):
        return self.net.ns[name]

    def silence(self):
        """No FIN, no RST: only the source's keepalive can tell."""
        return 'No answer for %d ms' % (self.link_keepalive()[1] * 1000)

    def test_link_down(self):
        """A's end of the veth pair set down during Perform."""
        self.break_during_perform(lambda: self.net.link(False), lambda: self.net.link(True), self.silence())

    def test_link_dropped(self):
        """nftables in A's namespace drops every packet to and from B during Perform."""
        self.break_during_perform(lambda: self.net.nft(True), lambda: self.net.nft(False), self.silence())


@contextlib.contextmanager
def destination_stopped_after_stream(tc, g):
    """Starts a peer-to-peer migration of @g from A to B held at 1 MiB/s,
    stops B's daemon (SIGSTOP) once the stream runs, lifts the limit and
    waits until the stream is over; B's daemon goes on (SIGCONT) when the
    block ends. Yields (pending MigrateToURI3, B's serial path, A's domain)."""
    src_dom = g.dom(tc.a)
    src_dom.call('MigrateSetMaxSpeed', 'tu', (1, 0))
    pending, dst_serial = tc.migrate_start(g, tc.a, tc.b)
    wait_until(lambda: pending.done or test_p2p.streaming(tc.a, g.path), MIGRATION_DEADLINE,
               'the peer-to-peer stream to run')
    tc.assertFalse(pending.done, 'MigrateToURI3 ended before the stream ran: %r' % (pending.error,))
    os.kill(tc.b.proc.pid, signal.SIGSTOP)
    try:
        src_dom.call('MigrateSetMaxSpeed', 'tu', (0, 0))
        wait_until(lambda: pending.done or src_dom.prop('JobPhase') != 'perform3', MIGRATION_DEADLINE,
                   'the stream to complete')
        yield pending, dst_serial, src_dom
    finally:
        os.kill(tc.b.proc.pid, signal.SIGCONT)


class SlowFinish(P2PTestCase):
    """The destination daemon answers Finish3 late (SIGSTOP while the stream
    runs, SIGCONT three phase_timeouts after it completed). The source daemon
    drives its own job, so no deadline ends it; once Finish3 answers, Confirm3
    stops the source QEMU. (Before: the deadline ended the source job as
    "outcome unknown", and the missing job at Confirm3 was reported as
    success with the paused source QEMU left next to the running one.)"""

    a_config = {'migration': {'phase_timeout': 3}}
    b_config = {'migration': {'phase_timeout': 3}}

    def test_slow_finish(self):
        self.bridge(self.b)
        g = self.guest(self.a)
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        with destination_stopped_after_stream(self, g) as (pending, dst_serial, src_dom):
            holds_for(lambda: not pending.done, 9.0, 'MigrateToURI3 to wait for the stopped destination')
        pending.wait(MIGRATION_DEADLINE + 60)
        self.moved(g, self.b, src_serial, dst_serial, src_pid, boot)
        g.destroy()


class FinishUnanswered(P2PTestCase):
    """The stream completed and Finish3 went to the destination, but its
    answer never comes back: the destination daemon is stopped (SIGSTOP)
    with Finish3 queued, and its bridge is killed. The destination may run
    the guest once it goes on, so the source must not resume it: the job
    ends "outcome unknown" with the guest paused at A. (Before: the source
    took the lost answer for a failed Finish, confirmed cancelled and
    resumed the guest at A: two running copies whenever B had run Finish3,
    as libvirt risks too, leaving it to lock managers.) What B does next
    depends on which it reads first, Finish3 or the bridge's disconnection
    (usually the latter: it kills the incoming QEMU); either way the guest
    runs on at most one host, and the operator's step (destroy the paused
    copy, or resume it where nothing runs) leaves exactly one."""

    a_config = {'migration': {'phase_timeout': 30}}

    def test_finish_unanswered(self):
        bridge = self.bridge(self.b)
        g = self.guest(self.a)
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        with destination_stopped_after_stream(self, g) as (pending, dst_serial, src_dom):
            self.assertFalse(pending.done, 'MigrateToURI3 ended at the stream: %r' % (pending.error,))
            self.assertEqual(src_dom.prop('JobPhase'), 'perform3_done')
            log('SIGKILL to migration-bridge (b), pid %d, with Finish3 queued at the stopped daemon'
                % bridge.proc.pid)
            bridge.signal(signal.SIGKILL)
            bridge.proc.wait(DEADLINE)
            self.assertMigrateError(pending, 'PeerUnreachable', 'may run there', 'stays paused here')
            self.assertEqual((src_dom.prop('State'), src_dom.prop('JobType')), ('paused', 'none'))
        dst_dom = g.dom(self.b)

        def dst_prop(name):
            try:
                return dst_dom.prop(name)
            except GLib.Error:
                return None          # the transient incoming domain has gone
        wait_until(lambda: dst_prop('JobType') in (None, 'none'), DEADLINE, 'the destination to settle its job')
        if dst_prop('State') == 'running':
            # B ran Finish3: the guest runs there, and only there.
            holds_for(lambda: src_dom.prop('State') == 'paused', 3.0, 'the source to stay paused')
            log('B resumed the guest; the operator destroys the paused copy at A')
            src_dom.call('Destroy', 'u', (0,))
            self.moved(g, self.b, src_serial, dst_serial, src_pid, boot)
        else:
            # B never resumed it: the paused copy at A is the only one.
            log('B did not resume the guest; the operator resumes it at A')
            self.assertEqual(src_dom.prop('State'), 'paused')
            src_dom.call('Resume', 'u', (0,))
            wait_until(lambda: src_dom.prop('State') == 'running', DEADLINE, 'the guest to run at A')
            self.assertEqual(g.qemu_pids(), [src_pid])
            p2ptest.counter_rises(self, g.serial)
        bridge.restart()        # as systemd's socket would; it then stops cleanly
        g.destroy()


if __name__ == '__main__':
    p2ptest.main()
