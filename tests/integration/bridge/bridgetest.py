#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the migration-bridge tests (tests/integration/bridge).

Built on ../harness.py (imported from the parent directory): a host (private
bus + migrationd) and, next to it, a migration-bridge from the build tree
running as uid 65534 (setpriv, no groups, no capabilities) on 127.0.0.1 with
a port of its own, with certificates made by certtool for the test:

    ca        the CA of all hosts
    host-a    the bridge's identity (SAN 127.0.0.1 and localhost)
    host-b    a peer the bridge allows ("*CN=host-b")
    host-c    a peer signed by the CA whose DN is not allowed
    ca2       another CA, and intruder, a peer signed by it

Peers are Python: Gio.SocketClient -> Gio.TlsClientConnection (our client
certificate, validation against the CA) -> Gio.DBusConnection over the TLS
stream (AUTHENTICATION_CLIENT, no message bus: the bridge is the other end).
GDBus cannot use EXTERNAL over TLS; the bridge's sd-bus server accepts
ANONYMOUS, which GDBus falls back to.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: the parent's test_*.py must not shadow ours.
if os.path.dirname(HERE) not in sys.path:
    sys.path.append(os.path.dirname(HERE))

import harness  # noqa: E402
from certs import CERTTOOL, make_cert  # noqa: E402
from harness import MANAGER_IFACE, MANAGER_PATH, DEADLINE, TIMEOUT_FACTOR, wait_until, log  # noqa: E402

GLib = harness.GLib
Gio = harness.Gio

BRIDGE = os.environ.get('MD_BRIDGE')
BRIDGE_NAME = 'org.example.Migration1.Bridge'
PEER_RELAY_IFACE = 'org.example.Migration1.PeerRelay'
NOBODY = 65534
SETPRIV = shutil.which('setpriv') or '/usr/bin/setpriv'
SOCKET_ACTIVATE = shutil.which('systemd-socket-activate')
CALL_MS = int(60_000 * TIMEOUT_FACTOR)


# ---------------------------------------------------------------------------
# certificates

class Pki:
    """The test's certificates, readable by uid 65534 (test keys only)."""

    DN = {'host-a': 'O=Example,CN=host-a', 'host-b': 'O=Example,CN=host-b',
          'host-c': 'O=Example,CN=host-c', 'intruder': 'O=Example,CN=intruder'}

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, 'pki')
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        make_cert(self.dir, 'ca', 'Test CA', organization='Example')
        for name in ('host-a', 'host-b', 'host-c'):
            make_cert(self.dir, name, name, 'ca', organization='Example')
        make_cert(self.dir, 'ca2', 'Other CA', organization='Example')
        make_cert(self.dir, 'intruder', 'intruder', 'ca2', organization='Example')
        for f in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, f), 0o644)

    def path(self, name, ext='pem'):
        return os.path.join(self.dir, '%s.%s' % (name, ext))


# ---------------------------------------------------------------------------
# the bridge

class Bridge:
    """migration-bridge for @host: on its bus, with the host's configuration
    file (or @config_path), in the host's network namespace if it has one,
    as uid 65534 (no groups, no new privileges) when we are root; either
    listening itself or under systemd-socket-activate. One log file across
    restarts; log() and wait_log() look at the current start's part."""

    def __init__(self, host, port, config_path=None):
        self.host = host
        self.port = port
        self.config_path = config_path or host.config_path
        self.log_path = os.path.join(host.dir, 'migration-bridge.log')
        self.proc = None
        self.starts = 0
        self._log_offset = 0

    @property
    def uri(self):
        return 'migration+tls://%s:%d' % (getattr(self.host, 'address', '127.0.0.1'), self.port)

    def argv(self):
        argv = [BRIDGE, '--config', self.config_path]
        if os.geteuid() == 0:
            argv = [SETPRIV, '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups',
                    '--no-new-privs'] + argv
        return self.host.in_netns(argv)

    def env(self):
        env = dict(os.environ)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.host.bus.address
        for k in ('DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS', 'DBUS_STARTER_BUS_TYPE',
                  'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'):
            env.pop(k, None)
        env['G_MESSAGES_DEBUG'] = 'migration-bridge migrationd-peer'
        env.setdefault('G_DEBUG', 'fatal-criticals')
        if env.get('ASAN_OPTIONS'):
            # GCC 12's LeakSanitizer crashes scanning the dynamic TLS of the
            # dlopen()ed GnuTLS unless __tls_get_addr is left alone.
            env['ASAN_OPTIONS'] += ':intercept_tls_get_addr=0'
        return env

    def start(self, socket_activated=False):
        assert self.proc is None
        env = self.env()
        argv = self.argv()
        if socket_activated:
            # Listens now, execs the bridge (same pid, LISTEN_PID=it) on the
            # first connection, with the socket as fd 3: systemd's protocol.
            passed = ['-E%s=%s' % (k, env[k]) for k in ('DBUS_SYSTEM_BUS_ADDRESS', 'G_MESSAGES_DEBUG',
                                                       'G_DEBUG', 'ASAN_OPTIONS', 'UBSAN_OPTIONS',
                                                       'LSAN_OPTIONS') if k in env]
            argv = [SOCKET_ACTIVATE, '-l', '127.0.0.1:%d' % self.port] + passed + argv
        self.starts += 1
        with open(self.log_path, 'ab') as f:
            f.write(b'\n===== start #%d of migration-bridge (%s) at %s =====\n' % (
                self.starts, self.host.name.encode(), time.strftime('%H:%M:%S').encode()))
            f.flush()
            self._log_offset = f.tell()
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                         stderr=subprocess.STDOUT, close_fds=True,
                                         preexec_fn=harness._set_pdeathsig)
        if socket_activated:
            wait_until(lambda: self._check_alive() and 'Listening on' in self.log(), DEADLINE,
                       'systemd-socket-activate to listen')
        else:
            self.wait_ready()
        return self

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError('migration-bridge (%s) exited (%s); log:\n%s' %
                                 (self.host.name, harness.describe_status(self.proc.returncode), self.log()))
        return True

    def wait_ready(self):
        client = self.host.connect()
        wait_until(lambda: self._check_alive() and 'Serving peers on' in self.log()
                   and client.name_has_owner(BRIDGE_NAME), DEADLINE,
                   'migration-bridge (%s) to serve' % self.host.name)

    def log(self, whole=False):
        """What the bridge wrote since its last start (@whole: ever)."""
        try:
            with open(self.log_path, 'rb') as f:
                if not whole:
                    f.seek(self._log_offset)
                return f.read().decode(errors='replace')
        except FileNotFoundError:
            return ''

    def wait_log(self, pattern, timeout=None, what=None):
        """Waits for a log line matching the regular expression @pattern."""
        rx = re.compile(pattern)
        return wait_until(lambda: self._check_alive() and rx.search(self.log()), timeout or DEADLINE,
                          what or 'migration-bridge (%s) to log %r' % (self.host.name, pattern))

    def _status(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            return dict(line.split(':', 1) for line in f if ':' in line)

    def credentials(self):
        """(effective uid, effective capabilities) of the running bridge."""
        status = self._status()
        return int(status['Uid'].split()[1]), int(status['CapEff'].strip(), 16)

    def groups(self):
        """Its supplementary groups."""
        return self._status()['Groups'].split()

    def connections(self):
        """Unique names on the bus that belong to the bridge's process."""
        client = self.host.connect()
        names = client.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'ListNames', None, (), 'as',
                            dest='org.freedesktop.DBus')[0]
        mine = []
        for n in names:
            if not n.startswith(':'):
                continue
            with contextlib.suppress(GLib.Error):
                if client.name_owner_pid(n) == self.proc.pid:
                    mine.append(n)
        return sorted(mine)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM (after SIGCONT, in case a test stopped it); its exit status."""
        if self.proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGCONT)
        status = harness.stop_process(self.proc, DEADLINE)
        self.proc = None
        return status

    def restart(self):
        status = self.stop()
        self.start()
        return status


# ---------------------------------------------------------------------------
# peers

class Refused(Exception):
    pass


class Peer:
    """A TLS D-Bus client of the bridge, as peer host @name (None: no
    certificate), trusting CA @ca."""

    def __init__(self, pki, port, name='host-b', ca='ca'):
        client = Gio.SocketClient.new()
        client.set_enable_proxy(False)
        self.tcp = client.connect_to_host('127.0.0.1', port, None)
        # As the daemon's side of a link (src/peer/peer-handshake.c): no Nagle.
        self.tcp.get_socket().set_option(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_address = '127.0.0.1:%d' % self.tcp.get_local_address().get_port()
        self.tls = Gio.TlsClientConnection.new(self.tcp, Gio.NetworkAddress.new('127.0.0.1', port))
        if name:
            self.tls.set_certificate(Gio.TlsCertificate.new_from_files(pki.path(name), pki.path(name, 'key')))
        self.tls.set_database(Gio.TlsFileDatabase.new(pki.path(ca)))
        self.conn = None

    def open(self):
        """Handshake and D-Bus authentication; raises Refused if the bridge
        says no (during the handshake or, TLS 1.3, right after it)."""
        try:
            self.tls.handshake(None)
            self.conn = Gio.DBusConnection.new_sync(self.tls, None, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT,
                                                    None, None)
            self.conn.set_exit_on_close(False)
            # One round trip: the bridge kept us.
            self.conn.call_sync(None, '/', 'org.freedesktop.DBus.Peer', 'Ping', None, None,
                                Gio.DBusCallFlags.NONE, CALL_MS, None)
        except GLib.Error as e:
            raise Refused(e.message) from None
        return self

    def call(self, method, sig=None, args=(), path=MANAGER_PATH, iface=MANAGER_IFACE):
        params = GLib.Variant('(%s)' % sig, tuple(args)) if sig else None
        reply = self.conn.call_sync(None, path, iface, method, params, None, Gio.DBusCallFlags.NONE, CALL_MS, None)
        return reply.unpack() if reply is not None else ()

    def close(self):
        with contextlib.suppress(GLib.Error):
            if self.conn is not None and not self.conn.is_closed():
                self.conn.close_sync(None)
        with contextlib.suppress(GLib.Error):
            self.tcp.close(None)


# A peer in a process of its own, to be stopped with SIGSTOP (a peer whose
# main loop does not run does not answer Peer.Ping either, but a stopped
# process is what a hung host looks like).
PEER_PROCESS = r'''
import sys
sys.path.insert(0, sys.argv[1])
import bridgetest
from bridgetest import Pki, Peer
pki = Pki.__new__(Pki)
pki.dir = sys.argv[2]
peer = Peer(pki, int(sys.argv[3])).open()
caps = peer.call('GetCapabilities')[0]
print('ready', peer.local_address, caps['host_uuid'], flush=True)
# GDBus answers Peer.Ping on this thread's main context: keep it running.
bridgetest.GLib.MainLoop().run()
'''


class BridgeTestCase(harness.MigrationdTestCase):
    """A host (bus + migrationd) with a bridge; the bridge allows
    @allowed_peers and pings every @keepalive = (interval, timeout) s."""

    allowed_peers = '*CN=host-b'
    keepalive = None

    def setUp(self):
        super().setUp()
        if not BRIDGE or not os.access(BRIDGE, os.X_OK):
            harness.fail_everything('MD_BRIDGE (%r) is not an executable: run the tests with meson' % BRIDGE)
        if not CERTTOOL:
            harness.skip_everything('certtool is missing; install gnutls-bin')
        if os.geteuid() == 0 and not os.access(SETPRIV, os.X_OK):
            harness.skip_everything('setpriv (util-linux) is missing; it runs the bridge as uid %d' % NOBODY)
        # uid 65534 must reach the bus socket and the certificates.
        os.chmod(self.workdir, 0o711)
        self.pki = Pki(self.workdir)
        self.ports = harness.PortBlock()
        self.addCleanup(self.ports.release)
        self.port = self.ports.port_min
        bridge = {'listen': '127.0.0.1:%d' % self.port, 'allowed_peers': self.allowed_peers}
        if self.keepalive:
            bridge['keepalive_interval'], bridge['keepalive_timeout'] = self.keepalive
        self.host = self.make_host('host', config_extra={
            'tls': {'ca': self.pki.path('ca'), 'cert': self.pki.path('host-a'),
                    'key': self.pki.path('host-a', 'key')},
            'bridge': bridge,
        })
        os.chmod(self.host.bus.dir, 0o711)
        self.bridge = Bridge(self.host, self.port)
        self.addCleanup(self._stop_bridge)
        self.peers = []

    def _stop_bridge(self):
        for p in self.peers:
            p.close()
        status = self.bridge.stop()
        if self._failed() or harness.VERBOSE:
            sys.stderr.write('----- migration-bridge log (%s)\n%s\n' % (self.bridge.log_path, self.bridge.log()))
        if status not in (None, 0) and not self._failed():
            self.fail('migration-bridge did not exit cleanly on SIGTERM: %s' % harness.describe_status(status))

    def peer(self, name='host-b', ca='ca'):
        p = Peer(self.pki, self.port, name, ca)
        self.peers.append(p)
        return p

    def assertRefused(self, name, ca='ca', why=None):
        """The peer @name is refused, and the bridge logs its address, DN
        and (regular expression) @why."""
        p = self.peer(name, ca)
        with self.assertRaises(Refused):
            p.open()
        dn = Pki.DN.get(name, 'no certificate')
        line = self.bridge.wait_log(r'Refused peer %s \(%s\)%s' % (
            re.escape(p.local_address), re.escape(dn), ': .*' + why if why else ''))
        log('bridge:', line.group(0))
        return p


def main():
    harness.main()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    print(__doc__)
