#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer-to-peer migration: one MigrateToURI3 call with PEER2PEER on the
source; the source daemon drives the destination through its
migration-bridge (mutual TLS), with libvirt's failure rules."""

import os
import pwd
import re
import signal
import subprocess
import sys
import time

import p2ptest
from p2ptest import (P2PTestCase, LIVE, PEER2PEER, TLS, MIGRATION_DEADLINE, DEADLINE, TIMEOUT_FACTOR,
                     DOMAIN_IFACE, MANAGER_PATH, PEER_RELAY_IFACE, GLib,
                     recorder, members, phases_seen, job_types_seen, progress_seen, assert_monotonic,
                     snapshot_before, wait_until, holds_for, pid_alive, log, harness, error_name, error_message)


def job_stats(host, path, flags=0):
    return host.connect().call(path, DOMAIN_IFACE, 'GetJobStats', 'u', (flags,), 'sa{sv}')


def streaming(host, path):
    """The source's stream runs: GetJobStats says perform3 with data moved."""
    kind, stats = job_stats(host, path)
    return kind == 'unbounded' and stats.get('phase') == 'perform3' and stats.get('memory_processed', 0) > 0


def counter_rises_while(tc, g, by=3):
    before, after = g.serial.wait_advance(by, DEADLINE)
    tc.assertGreater(after, before or 0)


class ThereAndBack(P2PTestCase):

    def there(self, g, src, dst):
        """MigrateToURI3 from @src to @dst under 1 MiB/s until JobStatsUpdated
        came, then without limit; everything the source's bus shows."""
        self.bridge(dst)
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        src_dom = g.dom(src)
        persistent = src_dom.prop('Persistent')
        with recorder(src, g.path) as rec:
            pending, dst_serial = self.migrate_start(g, src, dst, params={'bandwidth': ('t', 1)})
            wait_until(lambda: pending.done or len(members(rec.signals, 'JobStatsUpdated')) >= 4,
                       MIGRATION_DEADLINE, 'JobStatsUpdated x4 on the source during the peer-to-peer Perform')
            self.assertFalse(pending.done, 'MigrateToURI3 ended under 1 MiB/s: %r' % (pending.error,))
            self.assertEqual(src_dom.prop('JobType'), 'migration-out')
            self.assertEqual(src_dom.prop('JobPhase'), 'perform3')
            self.assertEqual(src_dom.prop('State'), 'running', 'a LIVE migration paused the guest early')
            # The destination prepared the incoming guest, driven by the source.
            dst_dom = g.dom(dst)
            self.assertEqual((dst_dom.prop('JobType'), dst_dom.prop('JobPhase')), ('migration-in', 'prepare'))
            g.dom(src).call('MigrateSetMaxSpeed', 'tu', (0, 0))
            pending.wait(MIGRATION_DEADLINE)
            rec.matching()
            signals = list(rec.signals)
        log('MigrateToURI3 %s -> %s took %.1f s' % (src.name, dst.name, pending.elapsed))
        self.moved(g, dst, src_serial, dst_serial, src_pid, boot)
        # A persistent domain stays defined on the source, shut off; a
        # transient one (the guest arrived there by migration) is gone.
        if persistent:
            self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('shutoff', 'migrated'))
        else:
            wait_until(lambda: g.path not in src.list_domains(0), DEADLINE,
                       'the transient domain to leave %s' % src.name)
        self.assertEqual((dst_dom.prop('State'), dst_dom.prop('StateReason')), ('running', 'migrated'))

        # The source's job as its bus told it.
        self.assertEqual(phases_seen(signals), ['begin3', 'perform3', 'perform3_done', 'confirm3', 'none'],
                         'JobPhase sequence on the source')
        self.assertEqual(job_types_seen(signals), ['migration-out', 'none'], 'JobType sequence on the source')
        prog = progress_seen(signals)
        self.assertTrue(prog, 'no JobProgress change on the source')
        assert_monotonic(self, prog, 'JobProgress on the source')
        self.assertTrue(all(0 <= p <= 100 for p in prog), prog)
        stats = members(signals, 'JobStatsUpdated')
        self.assertGreaterEqual(len(stats), 4)
        for s in stats:
            for key in ('phase', 'progress', 'time_elapsed', 'operation'):
                self.assertIn(key, s.args[0], 'JobStatsUpdated without %r: %r' % (key, s.args[0]))
        assert_monotonic(self, [s.args[0]['progress'] for s in stats], 'the progress of JobStatsUpdated')
        done = members(signals, 'JobCompleted')
        self.assertEqual(len(done), 1, 'JobCompleted on the source: %r' % done)
        self.assertIs(done[0].args[0]['success'], True, done[0].args[0])
        self.assertEqual(done[0].args[0]['errmsg'], '')
        self.assertEqual(done[0].args[0]['progress'], 100.0)
        kind, dstats = job_stats(dst, g.path, 1)
        self.assertEqual(kind, 'completed')
        self.assertIn('downtime', dstats)
        self.assertEqual(done[0].args[0].get('downtime'), dstats['downtime'],
                         'the source reports a downtime other than the one the destination measured')

        # The destination heard the phases from the source's certificate, through its bridge.
        dn = p2ptest.Pki.DN[src.cert]
        dlog = self.daemon_log(dst)
        for member in ('Prepare3Params', 'Finish3Params'):
            self.assertIn("%s from peer '%s' through migration-bridge" % (member, dn), dlog)
        self.bridges[dst.name].wait_log(r'Accepted peer 127\.0\.0\.1:\d+ \(%s\)' % dn)
        self.assertIn('with protocol 3 (extensible parameters)', self.daemon_log(src))

    def test_there_and_back(self):
        """A -> B -> A with MigrateToURI3(PEER2PEER), a bridge on each host:
        the counter goes on, the source QEMU is gone, the source's bus shows
        the job (JobPhase, JobProgress, JobStatsUpdated, JobCompleted)."""
        g = self.guest(self.a)
        self.there(g, self.a, self.b)
        self.there(g, self.b, self.a)
        g.destroy()


class PausedSource(P2PTestCase):

    def test_paused_arrives_paused(self):
        """A guest the user paused, migrated peer-to-peer without PAUSED: the
        source daemon adds PAUSED (as libvirt's peer-to-peer source), so it
        arrives paused, silent, and counts on from where it was after Resume."""
        self.bridge(self.b)
        g = self.guest(self.a, profile='light')
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        g.dom(self.a).suspend()
        pending, dst_serial = self.migrate(g, self.a, self.b)
        g.serials.append(harness.SerialLog(dst_serial))
        g.host = self.b
        dst_dom = g.dom(self.b)
        self.assertEqual(dst_dom.prop('State'), 'paused', 'a paused guest arrived %s (%s)'
                         % (dst_dom.prop('State'), dst_dom.prop('StateReason')))
        wait_until(lambda: not pid_alive(src_pid), DEADLINE, 'the source QEMU to exit')
        holds_for(lambda: g.serial.last_counter() is None, 2.0, 'the destination console staying silent')
        dst_dom.resume()
        p2ptest.assert_moved(self, g, src_serial, g.serial, src_pid, boot)
        g.destroy()


class PeerUnreachable(P2PTestCase):
    # Both ends give a silent peer up after 4 s.
    keepalive = (1, 4)

    def diagnose_stuck(self, g, pending, t0, rec, incoming):
        """MigrateToURI3 did not end after the peer was lost: what the
        source's link did, and what an AbortJob of the stream leads to."""
        story = ['MigrateToURI3 still running %.0f s after the destination\'s bridge stopped '
                 '(source JobPhase %s, GetJobStats %s).'
                 % (time.monotonic() - t0, g.dom(self.a).prop('JobPhase'), job_stats(self.a, g.path)[0])]
        closed = re.findall(r'Link to \S+ \(CN=host-b\) closed: [^\n]*', self.daemon_log(self.a))
        story.append('The source\'s link: %s.' % (closed[-1] if closed else 'never closed'))
        log('AbortJob on the source, to see what follows')
        t1 = time.monotonic()
        g.dom(self.a).call('AbortJob', 'u', (0,))
        try:
            pending.wait(60 * TIMEOUT_FACTOR)
            story.append('After AbortJob the call succeeded (!).')
        except harness.WaitTimeout:
            story.append('Even AbortJob did not end the call within 60 s.')
            return ' '.join(story)
        except GLib.Error as e:
            story.append('After AbortJob the call ended %.1f s later with %s: %s.'
                         % (time.monotonic() - t1, error_name(e), error_message(e)))
        dom = g.dom(self.a)
        try:
            wait_until(lambda: dom.prop('JobType') == 'none', 30 * TIMEOUT_FACTOR, 'the source job to end')
            story.append('The source job ended (State %s).' % dom.prop('State'))
        except harness.WaitTimeout:
            story.append('The source job did not end within 30 s of the reply: JobType %s, JobPhase %s, '
                         'State %s, JobCompleted %r.' % (dom.prop('JobType'), dom.prop('JobPhase'),
                                                         dom.prop('State'), members(rec.signals, 'JobCompleted')))
        # The destination's side of it all the same.
        self.bridges['b'].signal(signal.SIGCONT)
        try:
            self.destination_cleaned_up(g, incoming)
            story.append('On b, after SIGCONT, the bridge dropped the peer and the incoming QEMU was killed.')
        except AssertionError as e:
            story.append('On b, after SIGCONT: %s' % e)
        return ' '.join(story)

    def destination_cleaned_up(self, g, incoming):
        self.bridges['b'].wait_log(r'Peer 127\.0\.0\.1:\d+ \(CN=host-a\) is gone', DEADLINE)
        wait_until(lambda: not any(pid_alive(p) for p in incoming), DEADLINE,
                   'the incoming QEMU on b (pid %r) to be killed' % incoming)
        wait_until(lambda: g.path not in self.b.list_domains(0), DEADLINE, 'b to forget the incoming guest')

    def test_peer_unreachable(self):
        """The destination's bridge stops (SIGSTOP) during a slow Perform: the
        source's keepalive (1 s / 4 s here) gives the peer up, the job fails
        with PeerUnreachable saying so, the guest runs on at the source;
        once the bridge runs again (SIGCONT) it drops the peer, its bus
        connection for that peer closes, and the destination's daemon kills
        the incoming QEMU: exactly one QEMU of the guest is left."""
        bridge = self.bridge(self.b)
        g = self.guest(self.a, profile='slow')
        boot, src_pid = snapshot_before(g)
        g.dom(self.a).call('MigrateSetMaxSpeed', 'tu', (1, 0))
        with recorder(self.a, g.path) as rec:
            pending, _ = self.migrate_start(g, self.a, self.b)
            wait_until(lambda: pending.done or streaming(self.a, g.path), MIGRATION_DEADLINE,
                       'the peer-to-peer stream to run')
            self.assertFalse(pending.done, 'MigrateToURI3 ended before the stream ran: %r' % (pending.error,))
            incoming = [p for p in g.qemu_pids() if p != src_pid]
            self.assertEqual(len(incoming), 1, 'expected one incoming QEMU on b, found %r' % incoming)
            bridge.signal(signal.SIGSTOP)
            t0 = time.monotonic()
            log('SIGSTOP to migration-bridge (b), pid %d' % bridge.proc.pid)
            # The keepalive's silence, plus generous slack for the abort of the stream and a busy machine.
            timeout = self.link_keepalive()[1]
            try:
                wait_until(lambda: pending.done, (timeout + 45) * TIMEOUT_FACTOR,
                           'MigrateToURI3 to fail after the bridge stopped')
            except harness.WaitTimeout:
                self.fail(self.diagnose_stuck(g, pending, t0, rec, incoming))
            # The source's keepalive gave the silent peer up, after its configured time-out.
            msg = self.assertMigrateError(pending, 'PeerUnreachable', 'No answer for %d ms' % (timeout * 1000))
            log('MigrateToURI3 failed %.1f s after SIGSTOP: %s' % (time.monotonic() - t0, msg))
            self.assertJobFailed(rec)
        # The guest never left the source.
        self.assertEqual(g.dom(self.a).prop('State'), 'running')
        counter_rises_while(self, g)
        bridge.signal(signal.SIGCONT)
        log('SIGCONT to migration-bridge (b)')
        self.destination_cleaned_up(g, incoming)
        self.assertStaysHere(g, self.a, src_pid, ' after the peer was lost')
        self.assertNothingThere(g, self.b)
        kind, last = job_stats(self.a, g.path, 1)
        self.assertIn(kind, ('failed', 'cancelled'), last)
        self.assertIn(bridge.proc.poll(), (None,), 'the bridge died')
        g.destroy()


class AbortDuringPrepare(P2PTestCase):

    def test_abort_during_prepare(self):
        """AbortJob on the source while the destination prepares (its QEMU
        starts slowly): MigrateToURI3 fails with MigrationAborted, the
        destination throws its incoming guest away, the guest runs on at the
        source, both daemons live on, and the next migration goes through."""
        a, b = self.a, self.b
        slow = os.path.join(self.workdir, 'slow-qemu')
        with open(slow, 'w') as f:
            f.write('#!/bin/sh\n# QEMU, 4 s late: a Prepare that lasts\nsleep 4\nexec %s "$@"\n' % harness.QEMU_BINARY)
        os.chmod(slow, 0o755)
        self.reconfigure(b, extra={'qemu': {'binary': slow}})
        self.bridge(b)
        g = self.guest(a, profile='light')
        boot, pid = snapshot_before(g)
        dom = g.dom(a)
        with recorder(a, g.path) as rec:
            pending, _ = self.migrate_start(g, a, b)
            wait_until(lambda: pending.done or "Prepare3Params from peer 'CN=host-a'" in self.daemon_log(b),
                       MIGRATION_DEADLINE, 'b to prepare')
            self.assertFalse(pending.done, 'MigrateToURI3 ended before Prepare: %r' % (pending.error,))
            self.assertEqual(dom.prop('JobPhase'), 'begin3')
            dom.call('AbortJob', 'u', (0,))
            wait_until(lambda: pending.done, MIGRATION_DEADLINE, 'MigrateToURI3 to end after AbortJob')
            # The source daemon finishes the job's clean-up around the reply: it must survive it.
            holds_for(lambda: a.running() and b.running(), 3.0, 'both daemons running after the abort')
            self.assertMigrateError(pending, 'MigrationAborted')
            wait_until(lambda: members(rec.signals, 'JobCompleted'), DEADLINE, 'JobCompleted on a')
            self.assertIs(members(rec.signals, 'JobCompleted')[0].args[0]['success'], False)
        self.assertStaysHere(g, a, pid, ' after the abort during Prepare')
        wait_until(lambda: g.path not in b.list_domains(0), DEADLINE, 'b to throw the incoming guest away')
        self.assertEqual(job_stats(a, g.path, 1)[0], 'cancelled')
        # Nothing is left that would stand in the way.
        self.migrate_moved(g, a, b)
        a.check_alive()
        g.destroy()


class TlsStream(P2PTestCase):

    def test_tls_stream(self):
        """The TLS flag encrypts the QEMU stream with the [tls] x509
        credentials. b's daemon gets credentials of another CA (ca2) for its
        QEMU while its bridge keeps the right ones, and a trusts both CAs:
        then only b's QEMU refuses, as it cannot verify a's certificate; the
        stream is refused, the job fails, the guest runs on at a. The same
        hosts without TLS migrate fine (it was the stream's TLS that
        refused); with the right credentials on both sides a TLS migration
        completes."""
        a, b = self.a, self.b
        self.reconfigure(a, ca='both-cas')
        self.reconfigure(b, cert='intruder-b', ca='ca2')
        self.bridge(b, config_path=self.write_bridge_config(b))          # host-b and ca
        self.bridge(a)
        # 'light': what is tested is the stream's TLS; a TLS stream under TCG on
        # a loaded machine could not keep up with the normal guest's 32 MiB.
        g = self.guest(a, profile='light')
        boot, pid = snapshot_before(g)
        with recorder(a, g.path) as rec:
            pending, _ = self.migrate_start(g, a, b, flags=LIVE | PEER2PEER | TLS)
            msg = self.assertMigrateError(pending, 'MigrationFailed')
            wait_until(lambda: members(rec.signals, 'JobCompleted'), DEADLINE, 'JobCompleted on a')
            self.assertIs(members(rec.signals, 'JobCompleted')[0].args[0]['success'], False)
            # It got as far as the stream: Perform ran.
            self.assertIn('perform3', phases_seen(rec.signals), msg)
        self.assertIn("Prepare3Params from peer 'CN=host-a'", self.daemon_log(b))
        self.assertStaysHere(g, a, pid, ' after the refused TLS stream')
        wait_until(lambda: g.path not in b.list_domains(0), DEADLINE, 'b to throw the incoming guest away')
        self.assertNothingThere(g, b, ' after the refused TLS stream')

        # Without TLS the same hosts migrate: the refusal was the stream's TLS.
        self.migrate_moved(g, a, b, flags=LIVE | PEER2PEER)

        # b with the right credentials: back to a with TLS.
        self.reconfigure(b)
        self.migrate_moved(g, b, a, flags=LIVE | PEER2PEER | TLS)
        self.assertEqual(g.dom(a).prop('State'), 'running')
        g.destroy()


class UntrustedPeer(P2PTestCase):

    def refused(self, g, pid, what, *parts, bridge_log=None):
        pending, _ = self.migrate_start(g, self.a, self.b)
        msg = self.assertMigrateError(pending, 'PeerRejected', *parts)
        log('%s: %s' % (what, msg))
        self.assertStaysHere(g, self.a, pid, ' (%s)' % what)
        self.assertNothingThere(g, self.b, ' (%s)' % what)
        self.assertNotIn('from peer', self.daemon_log(self.b), 'a call reached b\'s daemon (%s)' % what)
        if bridge_log:
            self.bridges['b'].wait_log(bridge_log)
        return msg

    def test_untrusted_peer(self):
        """The destination's bridge refuses a source with a certificate of
        another CA, one whose DN matches no allowed_peers pattern, and
        everyone when allowed_peers is empty; a source that does not trust
        the bridge's certificate refuses it itself. Each time: PeerRejected,
        nothing started on the destination, the guest runs on at the source.
        Then allowed, the migration goes through."""
        a, b = self.a, self.b
        bridge = self.bridge(b)
        g = self.guest(a)
        boot, pid = snapshot_before(g)

        # The source presents CN=host-a signed by the intruder CA.
        self.reconfigure(a, cert='intruder-a')
        self.refused(g, pid, 'a certificate of another CA', '127.0.0.1',
                     bridge_log=r'Refused peer 127\.0\.0\.1:\d+ \(CN=host-a\): its certificate does not '
                                r'verify against our CA')
        # The source does not trust the CA of the bridge's certificate.
        self.reconfigure(a, ca='ca2')
        self.refused(g, pid, 'the bridge\'s certificate not trusted', '127.0.0.1')
        # The right certificate, but the bridge allows only host-b.
        self.reconfigure(a)
        self.reconfigure(b, restart=False, allowed_peers='CN=host-b')
        bridge.restart()
        self.refused(g, pid, 'a DN not allowed', '127.0.0.1',
                     bridge_log=r'Refused peer 127\.0\.0\.1:\d+ \(CN=host-a\): its DN matches no pattern')
        # Nobody is allowed.
        self.reconfigure(b, restart=False, allowed_peers='')
        bridge.restart()
        bridge.wait_log('allowed_peers is empty')
        self.refused(g, pid, 'an empty allowed_peers', '127.0.0.1',
                     bridge_log=r'Refused peer 127\.0\.0\.1:\d+ \(CN=host-a\): its DN matches no pattern')

        # Allowed by a glob: the same source goes through.
        self.reconfigure(b, restart=False, allowed_peers='CN=nobody;CN=host-?')
        bridge.restart()
        self.migrate_moved(g, a, b)
        g.destroy()


class DirectRefused(P2PTestCase):

    def test_direct_refused(self):
        """A destination URI without PEER2PEER would be libvirt's direct
        migration, which QEMU cannot do: MigrateToURI3, Perform3 and
        Perform3Params refuse it with Unsupported, and nothing changes.
        With PEER2PEER the URI must be migration+tls://HOST[:PORT]
        (InvalidArgs), and the host needs [tls] (Unsupported)."""
        a = self.a
        g = self.guest(a)
        boot, pid = snapshot_before(g)
        dom = g.dom(a)
        uri = 'migration+tls://127.0.0.1:%d' % self.b.bridge_port

        for dconnuri in (uri, ''):
            with self.assertDBusError('Unsupported', 'PEER2PEER'):
                dom.call('MigrateToURI3', 'sa{sv}u', (dconnuri, {}, LIVE))
        # Managed phases with a destination URI: Perform3(Params) refuses it,
        # and the job stays where Begin3 left it.
        _, cookie = dom.call('Begin3Params', 'a{sv}u', ({}, LIVE), 'say')
        with self.assertDBusError('Unsupported', 'PEER2PEER'):
            dom.call('Perform3', 'sayssstu', ('', cookie, uri, 'tcp:127.0.0.1:1', '', 0, LIVE), 'ay')
        with self.assertDBusError('Unsupported', 'PEER2PEER'):
            dom.call('Perform3Params', 'sa{sv}ayu',
                     (uri, {'migrate_uri': GLib.Variant('s', 'tcp:127.0.0.1:1')}, cookie, LIVE), 'ay')
        self.assertEqual((dom.prop('JobType'), dom.prop('JobPhase')), ('migration-out', 'begin3'))
        dom.call('Confirm3Params', 'a{sv}ayub', ({}, b'', LIVE, True))
        self.assertStaysHere(g, a, pid, ' after the refused direct migrations')

        # PEER2PEER without a URI, or with another kind of URI.
        for dconnuri in ('', 'qemu+ssh://127.0.0.1/system', 'migration+tls://127.0.0.1:0',
                         'migration+tls://user@127.0.0.1/path'):
            with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', 'migration+tls://'):
                dom.call('MigrateToURI3', 'sa{sv}u', (dconnuri, {}, LIVE | PEER2PEER))
        # A host without [tls] has no identity to show a peer.
        self.reconfigure(a, tls=False)
        with self.assertDBusError('Unsupported', '[tls]'):
            dom.call('MigrateToURI3', 'sa{sv}u', (uri, {}, LIVE | PEER2PEER))
        self.assertStaysHere(g, a, pid, ' after the refused peer-to-peer migrations')
        self.assertEqual(self.b.list_domains(0), [])
        g.destroy()


class RelayOnlyPeerCalls(P2PTestCase):

    def test_relay_only_peer_calls(self):
        """PeerRelay serves only migration-bridge (the user owning
        org.example.Migration1.Bridge): a local caller gets AccessDenied for
        every method, with or without a bridge running, and nothing
        happens."""
        host = self.b
        uuid = str(__import__('uuid').uuid4())
        name = 'relay-' + uuid[:8]
        host.domain_uuids.add(uuid)
        xml = harness.guest_xml(name, uuid, os.path.join(self.workdir, 'serial-%s.log' % uuid),
                                **p2ptest.migtest.guest_profile('light'))
        dn = 'CN=host-a'
        calls = [
            ('Prepare3Params', 'sa{sv}ayu', (dn, {'destination_xml': GLib.Variant('s', xml)}, b'', LIVE)),
            ('Prepare3', 'ssstaysu', (dn, xml, '', 0, b'', '', LIVE)),
            ('Finish3Params', 'sa{sv}ayub', (dn, {'destination_name': GLib.Variant('s', name)}, b'', LIVE, False)),
            ('Finish3', 'ssaysub', (dn, name, b'', '', LIVE, False)),
            ('Prepare2', 'ssstsu', (dn, xml, '', 0, '', LIVE)),
            ('Finish2', 'ssaysui', (dn, name, b'', '', LIVE, 0)),
            ('AbortIncoming', 'ss', (dn, name)),
        ]

        def all_denied(why):
            for member, sig, args in calls:
                with self.assertDBusError('org.freedesktop.DBus.Error.AccessDenied', why):
                    host.connect().call(MANAGER_PATH, PEER_RELAY_IFACE, member, sig, args)

        # No bridge on this host: nobody may speak for a peer.
        all_denied('migration-bridge')
        # The bridge runs (as uid 65534): root, the daemon's own user, is still not the bridge.
        self.bridge(host)
        all_denied('Only migration-bridge may relay')
        # Another local user neither (one that exists: the bus refuses unknown users).
        other = next((u for u in pwd.getpwall() if u.pw_uid not in (0, p2ptest.NOBODY)), None)
        if os.geteuid() == 0 and other:
            script = (
                'import sys; from gi.repository import Gio, GLib\n'
                'c = Gio.DBusConnection.new_for_address_sync(sys.argv[1], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT'
                ' | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)\n'
                'try:\n'
                '    c.call_sync("org.example.Migration1", "/org/example/Migration1", "%s", "Prepare3Params",'
                ' GLib.Variant("(sa{sv}ayu)", ("CN=host-a", {"destination_xml": GLib.Variant("s", sys.argv[2])}, b"", 1)),'
                ' None, 0, 60000, None)\n'
                '    print("allowed")\n'
                'except GLib.Error as e:\n'
                '    print(Gio.DBusError.get_remote_error(e), e.message)\n' % PEER_RELAY_IFACE)
            p = subprocess.run([p2ptest.SETPRIV, '--reuid=%d' % other.pw_uid, '--regid=%d' % other.pw_gid,
                                '--clear-groups',
                                sys.executable, '-c', script, host.bus.address, xml],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=DEADLINE,
                               env={'PATH': os.environ.get('PATH', '/usr/bin:/bin')})
            out = p.stdout.decode(errors='replace')
            log('uid %d (%s) calling PeerRelay.Prepare3Params: %s' % (other.pw_uid, other.pw_name, out.strip()))
            self.assertTrue(out.startswith('org.freedesktop.DBus.Error.AccessDenied'), out)
        # Nothing happened.
        self.assertEqual(host.list_domains(0), [])
        self.assertEqual(p2ptest.find_qemu_pids(uuid), [])
        self.assertNotIn('from peer', self.daemon_log(host))


if __name__ == '__main__':
    p2ptest.main()
