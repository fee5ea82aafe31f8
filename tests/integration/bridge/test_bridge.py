#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""migration-bridge: mutual TLS, the allow-list, the relay to the local
migrationd (GetCapabilities to the Manager, the phases to PeerRelay with the
peer's DN), nothing else relayed, socket activation, keepalive."""

import os
import signal
import subprocess
import sys
import time

import bridgetest
from bridgetest import BridgeTestCase, Pki, NOBODY, PEER_PROCESS, SOCKET_ACTIVATE
import harness
from harness import GLib, ERROR_PREFIX, DEADLINE, TIMEOUT_FACTOR, wait_until, log


class Relay(BridgeTestCase):

    def test_get_capabilities(self):
        """Through the bridge, as uid 65534 without capabilities, on a bus
        connection of the peer's own."""
        self.bridge.start()
        if os.geteuid() == 0:
            self.assertEqual(self.bridge.credentials(), (NOBODY, 0))
        self.assertEqual(len(self.bridge.connections()), 1)

        peer = self.peer().open()
        caps = peer.call('GetCapabilities')[0]
        self.assertEqual(caps['host_uuid'], self.host.host_uuid)
        self.assertEqual(caps['hostname'], self.host.hostname)
        self.bridge.wait_log(r'Accepted peer %s \(%s\)' % (peer.local_address, Pki.DN['host-b']))
        # The bridge's own connection and the peer's.
        self.assertEqual(len(self.bridge.connections()), 2)

        # When the peer goes, so does its bus connection.
        client = self.host.connect()
        mine = set(self.bridge.connections())
        with client.record(iface='org.freedesktop.DBus', member='NameOwnerChanged') as rec:
            peer.close()
            rec.wait_for(lambda s: s.args[0] in mine and s.args[2] == '', DEADLINE,
                         "the peer's bus connection to go")
        self.assertEqual(len(self.bridge.connections()), 1)

    def test_prepare_relayed_to_peer_relay(self):
        """A malformed cookie comes back as the daemon's InvalidCookie,
        unchanged: the call went to PeerRelay (the bridge may call it) with
        the peer's DN. (Against a daemon without PeerRelay the error would be
        UnknownInterface.)"""
        self.bridge.start()
        peer = self.peer().open()
        direct = None
        try:
            self.host.manager_call('Prepare3Params', 'a{sv}ayu', ({}, b'not a cookie', 1), 'ays')
        except GLib.Error as e:
            direct = (harness.dbus_error_name(e), harness.dbus_error_message(e))
        self.assertEqual(direct[0], ERROR_PREFIX + 'InvalidCookie')

        with self.assertDBusError('InvalidCookie') as ctx:
            peer.call('Prepare3Params', 'a{sv}ayu', ({}, b'not a cookie', 1))
        self.assertEqual(ctx.message, direct[1])
        # The daemon saw the peer's identity.
        wait_until(lambda: "Prepare3Params from peer '%s'" % Pki.DN['host-b'] in
                   open(self.host.stderr_path, errors='replace').read(), DEADLINE,
                   "migrationd to log the peer's DN")

        # The other phase methods reach the daemon too (their own errors).
        with self.assertDBusError('InvalidCookie'):
            peer.call('Prepare3', 'sstaysu', ('<domain/>', '', 0, b'x', '', 1))
        with self.assertDBusError('NoSuchDomain'):
            peer.call('AbortIncoming', 's', ('no-such-guest',))
        # A wrong signature stops at the bridge.
        with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs'):
            peer.call('Prepare3Params', 'a{sv}u', ({}, 1))

    def test_nothing_else_relayed(self):
        self.bridge.start()
        peer = self.peer().open()
        xml = harness.guest_xml('not-through-the-bridge', kernel='/nonexistent')
        with self.assertDBusError('org.freedesktop.DBus.Error.UnknownMethod'):
            peer.call('DefineXML', 's', (xml,))
        with self.assertDBusError('org.freedesktop.DBus.Error.UnknownMethod'):
            peer.call('ListDomains', 'u', (0,))
        with self.assertDBusError('org.freedesktop.DBus.Error.UnknownObject'):
            peer.call('Start', 'u', (0,), path=harness.domain_path('6f6a2c3e-0d3b-4f0a-9c44-2e9b1c0d7a11'),
                      iface=harness.DOMAIN_IFACE)
        # PeerRelay itself is not exported to peers: they cannot name a DN.
        with self.assertDBusError('org.freedesktop.DBus.Error.UnknownMethod', 'PeerRelay'):
            peer.call('Prepare3Params', 'sa{sv}ayu', ('O=Example,CN=host-a', {}, b'', 1),
                      iface=bridgetest.PEER_RELAY_IFACE)
        self.assertEqual(self.host.list_domains(), [])
        # The link still works.
        self.assertEqual(peer.call('GetCapabilities')[0]['host_uuid'], self.host.host_uuid)


class Refusals(BridgeTestCase):

    def test_other_ca(self):
        self.bridge.start()
        self.assertRefused('intruder', why='does not verify against our CA')
        self.assertEqual(len(self.bridge.connections()), 1)

    def test_dn_not_allowed(self):
        self.bridge.start()
        self.assertRefused('host-c', why='allowed_peers')
        # The allowed one still gets in.
        self.assertEqual(self.peer().open().call('GetCapabilities')[0]['host_uuid'], self.host.host_uuid)

    def test_no_certificate(self):
        self.bridge.start()
        self.assertRefused(None, why='no certificate')


class EmptyAllowList(BridgeTestCase):
    allowed_peers = ''

    def test_refuses_everyone(self):
        self.bridge.start()
        self.bridge.wait_log(r'allowed_peers is empty')
        self.assertRefused('host-b', why='allowed_peers')
        self.assertRefused('host-c', why='allowed_peers')


class SocketActivation(BridgeTestCase):

    def test_serves_passed_socket(self):
        if not SOCKET_ACTIVATE:
            harness.skip_everything('systemd-socket-activate is missing; install systemd')
        self.bridge.start(socket_activated=True)
        # The first connection starts the bridge on the passed socket.
        peer = self.peer().open()
        self.assertEqual(peer.call('GetCapabilities')[0]['host_uuid'], self.host.host_uuid)
        self.bridge.wait_log(r'Serving peers on the socket passed by systemd \(fd 3\)')
        self.assertFalse('Serving peers on 127.0.0.1' in self.bridge.log())
        if os.geteuid() == 0:
            self.assertEqual(self.bridge.credentials(), (NOBODY, 0))


class Configuration(harness.MigrationdTestCase):

    def test_bad_configuration(self):
        """A bad configuration stops the bridge at once (exit status 1) with
        a message that names the key or file."""
        pki = Pki(self.workdir)
        tls = '[tls]\nca=%s\ncert=%s\nkey=%s\n' % (pki.path('ca'), pki.path('host-a'), pki.path('host-a', 'key'))
        missing = os.path.join(self.workdir, 'missing.key')
        cases = [
            ('', '[tls] ca is required'),
            ('[tls]\nca=%s\n' % pki.path('ca'), '[tls] cert is missing'),
            ('[tls]\nca=%s\ncert=%s\n' % (pki.path('ca'), pki.path('host-a')), '[tls] key is missing'),
            ('[tls]\nca=%s\ncert=%s\nkey=%s\n' % (pki.path('ca'), pki.path('host-a'), missing), missing),
            ('[tls]\nca=%s\ncert=%s\nkey=%s\n' % (missing, pki.path('host-a'), pki.path('host-a', 'key')),
             missing),
            (tls + '[bridge]\nlisten=localhost:16519\n', '[bridge] listen'),
            (tls + '[bridge]\nkeepalive_interval=15\n', '[bridge] keepalive_interval'),
            (tls + '[bridge]\nkeepalive_timeout=0\n', '[bridge] keepalive_timeout'),
            (None, 'Failed to read configuration'),
        ]
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + os.path.join(self.workdir, 'no-bus'))
        for i, (text, mentions) in enumerate(cases):
            path = os.path.join(self.workdir, 'bridge-%d.conf' % i)
            if text is not None:
                with open(path, 'w') as f:
                    f.write(text)
            p = subprocess.run([bridgetest.BRIDGE, '--config', path], env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=DEADLINE)
            out = p.stdout.decode(errors='replace') + p.stderr.decode(errors='replace')
            self.assertEqual(p.returncode, 1, 'case %d: %r' % (i, out))
            self.assertIn(mentions, out, 'case %d' % i)


class Keepalive(BridgeTestCase):
    keepalive = (1, 3)

    def test_silent_peer_dropped(self):
        """A peer that stops answering (SIGSTOP) is dropped within
        keepalive_timeout (+ slack), and so is its bus connection."""
        self.bridge.start()
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
        proc = subprocess.Popen([sys.executable, '-c', PEER_PROCESS, bridgetest.HERE, self.pki.dir, str(self.port)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                preexec_fn=harness._set_pdeathsig)
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        ready, address, host_uuid = proc.stdout.readline().decode().split()
        self.assertEqual((ready, host_uuid), ('ready', self.host.host_uuid))
        wait_until(lambda: len(self.bridge.connections()) == 2, DEADLINE, "the peer's bus connection")
        peer_names = set(self.bridge.connections())

        # Alive while it answers: longer than the time-out, pings go by.
        harness.holds_for(lambda: 'is gone' not in self.bridge.log(), 4.5, 'the peer staying connected')

        client = self.host.connect()
        with client.record(iface='org.freedesktop.DBus', member='NameOwnerChanged') as rec:
            os.kill(proc.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            line = self.bridge.wait_log(r'Peer %s \(%s\) is gone: No answer for 3000 ms' % (
                address, Pki.DN['host-b']), timeout=3 + 3 * TIMEOUT_FACTOR)
            log('bridge, %.1f s after SIGSTOP:' % (time.monotonic() - stopped), line.group(0))
            gone = rec.wait_for(lambda s: s.args[0] in peer_names and s.args[2] == '', DEADLINE,
                                "the peer's bus connection to go")
            log('bus connection %s left' % gone.args[0])
        os.kill(proc.pid, signal.SIGCONT)


if __name__ == '__main__':
    bridgetest.main()
