#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the peer-to-peer migration tests (tests/integration/p2p).

Peer-to-peer: the source's migrationd runs every phase itself. Its client
makes one call, Domain.MigrateToURI3("migration+tls://HOST:PORT", params,
PEER2PEER|...), and the source daemon connects to the destination's
migration-bridge over mutual TLS, negotiates the protocol and calls Prepare
and Finish there through the bridge, which relays them to the destination's
migrationd (PeerRelay).

Built on ../harness.py (hosts: a private bus and a migrationd each) and
../migration/migtest.py (guests that count on their serial console and
move between hosts, the proofs that a live migration happened). This module
adds:

- certificates made by certtool for the test (Pki): a CA, 'CN=host-a' and
  'CN=host-b' signed by it (SAN IP 127.0.0.1 and DNS localhost, usages
  tls_www_server and tls_www_client, as QEMU's x509 credentials want them
  too), and another CA ('intruder' CA) with 'CN=host-a' and 'CN=host-b'
  certificates of its own;
- a migration-bridge per destination host (Bridge), from the build tree
  (MD_BRIDGE; tests/integration/bridge's Bridge), as uid 65534 with setpriv (no groups) when the
  tests run as root, on the destination's private bus, listening on
  127.0.0.1 with a port of its own; by default it reads the host's own
  configuration file (as on a real host), or a file of its own;
- P2PTestCase: host A and host B, each with [tls] (its own certificate),
  [bridge] (listen, allowed_peers) and [migration] address=127.0.0.1.
"""

import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PARENT = os.path.dirname(HERE)
# Appended, not prepended: the other directories' test_*.py must not shadow ours.
for d in (PARENT, os.path.join(PARENT, 'migration'), os.path.join(PARENT, 'bridge')):
    if d not in sys.path:
        sys.path.append(d)

import harness  # noqa: E402
import migtest  # noqa: E402
from bridgetest import BRIDGE, BRIDGE_NAME, NOBODY, SETPRIV, Bridge  # noqa: E402,F401
from certs import CERTTOOL, make_cert  # noqa: E402
# Re-exported for the test modules.
from harness import (BUS_NAME, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH, DEADLINE, BOOT_DEADLINE,  # noqa: E402,F401
                     TIMEOUT_FACTOR, wait_until, holds_for, pid_alive, proc_cmdline, find_qemu_pids, log)
from migtest import (LIVE, PEER2PEER, PERSIST_DEST, TLS, PARALLEL, MIGRATION_DEADLINE,  # noqa: E402,F401
                     MigGuest, Pending, variant_dict, recorder, members, phases_seen, job_types_seen,
                     progress_seen, assert_monotonic, assert_moved, snapshot_before, counter_rises)

GLib = harness.GLib
Gio = harness.Gio

PEER_RELAY_IFACE = 'org.example.Migration1.PeerRelay'

# [bridge] keepalive_interval/keepalive_timeout when a test sets none: both
# the bridge and the source daemon (on its link to a destination's bridge)
# ping every 5 s and give a silent peer up after 15 s.
DEFAULT_KEEPALIVE = (5, 15)


# ---------------------------------------------------------------------------
# certificates

class Pki:
    """The test's certificates, readable by uid 65534 (test keys only):

        ca                 the CA of all hosts
        host-a, host-b     CN=host-a, CN=host-b, signed by ca
        ca2                another ("intruder") CA
        intruder-a         CN=host-a, signed by ca2
        intruder-b         CN=host-b, signed by ca2
        both-cas           ca and ca2 in one file (a host that trusts both)
    """

    DN = {'host-a': 'CN=host-a', 'host-b': 'CN=host-b', 'intruder-a': 'CN=host-a', 'intruder-b': 'CN=host-b'}

    def __init__(self, workdir, ips=('127.0.0.1',)):
        if not CERTTOOL:
            harness.skip_everything('certtool is missing; install gnutls-bin')
        self.dir = os.path.join(workdir, 'pki')
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        # RSA: QEMU wants digitalSignature and keyEncipherment in a host certificate.
        for name, cn, ca, san in (('ca', 'migrationd test CA', None, ()), ('host-a', 'host-a', 'ca', ips),
                                  ('host-b', 'host-b', 'ca', ips), ('ca2', 'intruder CA', None, ()),
                                  ('intruder-a', 'host-a', 'ca2', ips), ('intruder-b', 'host-b', 'ca2', ips)):
            make_cert(self.dir, name, cn, ca, key_type='rsa', ips=san)
        with open(self.path('both-cas'), 'w') as out:
            for name in ('ca', 'ca2'):
                with open(self.path(name)) as f:
                    out.write(f.read())
        for f in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, f), 0o644)

    def path(self, name, ext='pem'):
        return os.path.join(self.dir, '%s.%s' % (name, ext))

    def tls(self, cert, ca='ca'):
        """A [tls] section: CA file @ca, identity @cert."""
        return {'ca': self.path(ca), 'cert': self.path(cert), 'key': self.path(cert, 'key')}


# ---------------------------------------------------------------------------
# test cases

def error_name(e):
    return harness.dbus_error_name(e)


def error_message(e):
    return harness.dbus_error_message(e)


class P2PTestCase(harness.MigrationdTestCase):
    """Hosts 'a' and 'b' (each: private bus, migrationd, a port for its
    bridge), the certificates, and bridges on demand. Host A has identity
    host-a, host B host-b; each bridge allows the other host ('CN=host-a'
    and 'CN=host-b' both, by default)."""

    allowed_peers = 'CN=host-a;CN=host-b'
    # Per host: extra configuration sections ({'migration': {...}}).
    a_config = None
    b_config = None
    # [bridge] keepalive of both hosts (the bridges' and the source daemon's
    # side of the link): (interval, timeout) seconds, or None (DEFAULT_KEEPALIVE).
    keepalive = None

    def setUp(self):
        super().setUp()
        if not BRIDGE or not os.access(BRIDGE, os.X_OK):
            harness.fail_everything('MD_BRIDGE (%r) is not an executable: run the tests with meson'
                                    % BRIDGE)
        if os.geteuid() == 0 and not os.access(SETPRIV, os.X_OK):
            harness.skip_everything('setpriv (util-linux) is missing; it runs the bridge as uid %d' % NOBODY)
        # uid 65534 must reach the certificates and the bus sockets.
        os.chmod(self.workdir, 0o711)
        self.pki = Pki(self.workdir, ips={'127.0.0.1', self.host_address('a'), self.host_address('b')})
        self.bridges = {}
        self.a = self.make_p2p_host('a', 'host-a', self.a_config)
        self.b = self.make_p2p_host('b', 'host-b', self.b_config)
        self.addCleanup(self._stop_bridges)

    # -- fixtures

    def host_config(self, host_cert, port, extra=None, ca='ca', allowed_peers=None, keepalive=None, tls=True,
                    address='127.0.0.1'):
        bridge = {'listen': '%s:%d' % (address, port),
                  'allowed_peers': self.allowed_peers if allowed_peers is None else allowed_peers}
        keepalive = keepalive or self.keepalive
        if keepalive:
            bridge['keepalive_interval'], bridge['keepalive_timeout'] = keepalive
        sections = {'migration': {'address': address}, 'bridge': bridge}
        if tls:
            sections['tls'] = self.pki.tls(host_cert, ca)
        return migtest._merge(sections, extra)

    def link_keepalive(self):
        """(interval, timeout) of the peer links in this test, seconds."""
        return self.keepalive or DEFAULT_KEEPALIVE

    def host_address(self, name):
        """Where host @name's bridge and incoming QEMUs listen."""
        return '127.0.0.1'

    def host_netns(self, name):
        """The network namespace of host @name's processes (None: ours)."""
        return None

    def make_p2p_host(self, name, cert, extra=None):
        ports = harness.PortBlock()      # the bridge's port (the host has its own block for QEMU)
        self.addCleanup(ports.release)
        address = self.host_address(name)
        host = self.make_host(name, bus=self.make_bus(name + '-bus', external_ok=False),
                              netns=self.host_netns(name),
                              config_extra=self.host_config(cert, ports.port_min, extra, address=address))
        host.address = address
        host.bridge_port = ports.port_min
        host.cert = cert
        host.base_extra = extra
        os.chmod(host.bus.dir, 0o711)
        return host

    def reconfigure(self, host, restart=True, **kw):
        """Rewrites @host's configuration (see host_config; @extra adds to
        the class' a_config/b_config) and restarts its daemon (its guests run
        on; the bridge is not restarted)."""
        extra = migtest._merge(host.base_extra, kw.pop('extra', None))
        cert = kw.pop('cert', host.cert)
        host.config_extra = self.host_config(cert, host.bridge_port, extra, address=host.address, **kw)
        host.write_config()
        if restart:
            host.restart()

    def write_bridge_config(self, host, **kw):
        """A configuration file for @host's bridge alone (host_config's
        arguments), for a bridge that must differ from its daemon."""
        extra = migtest._merge(host.base_extra, kw.pop('extra', None))
        cert = kw.pop('cert', host.cert)
        sections = self.host_config(cert, host.bridge_port, extra, address=host.address, **kw)
        path = os.path.join(host.dir, 'bridge-%d.conf' % len(os.listdir(host.dir)))
        with open(path, 'w') as f:
            for section, keys in sections.items():
                f.write('[%s]\n' % section)
                for k, v in keys.items():
                    f.write('%s=%s\n' % (k, v))
                f.write('\n')
        os.chmod(path, 0o644)
        return path

    def bridge(self, host, config_path=None):
        """Starts (once) the bridge of @host and returns it."""
        b = self.bridges.get(host.name)
        if b is None:
            b = self.bridges[host.name] = Bridge(host, host.bridge_port, config_path)
            b.start()
            if os.geteuid() == 0:
                self.assertEqual(b.credentials()[0], NOBODY, 'the bridge does not run as uid %d' % NOBODY)
                self.assertEqual(b.groups(), [], 'the bridge kept supplementary groups')
        return b

    def _stop_bridges(self):
        failed = self._failed()
        for name, b in self.bridges.items():
            status = b.stop()
            if failed or harness.VERBOSE:
                sys.stderr.write('----- migration-bridge log of host %s (%s)\n%s\n' % (name, b.log_path, b.log(whole=True)))
            if status not in (None, 0, -signal.SIGTERM) and not failed:
                self.fail('migration-bridge (%s) did not exit cleanly on SIGTERM: %s'
                          % (name, harness.describe_status(status)))
        sys.stderr.flush()

    def guest(self, host, profile='normal', **kw):
        """A running guest on @host, known to both hosts (QEMU leftovers are
        looked for on both)."""
        return MigGuest(self, host, profile=profile, **kw)

    # -- the one call

    def migrate_start(self, guest, src, dst, flags=LIVE | PEER2PEER, params=None, serial=True, uri=None):
        """MigrateToURI3 of @guest from @src to @dst's bridge, asynchronous;
        with @serial the destination gets its own serial log
        (destination_xml). Returns (pending, destination serial path)."""
        p = dict(params or {})
        dst_serial = None
        if serial and 'destination_xml' not in p:
            dst_serial = guest.next_serial_path()
            p['destination_xml'] = ('s', guest.xml(serial_path=dst_serial))
        uri = uri or 'migration+tls://%s:%d' % (dst.address, dst.bridge_port)
        log('MigrateToURI3 of %s: %s -> %s (%s), flags 0x%x, params %s' % (
            guest.name, src.name, dst.name, uri, flags, sorted(p)))
        pending = Pending(src.connect(), guest.path, DOMAIN_IFACE, 'MigrateToURI3', 'sa{sv}u',
                          (uri, variant_dict(p), flags), '', timeout_ms=int(MIGRATION_DEADLINE * 1000) + 60000)
        return pending, dst_serial

    def migrate(self, guest, src, dst, **kw):
        """MigrateToURI3, waited for: raises its error."""
        pending, dst_serial = self.migrate_start(guest, src, dst, **kw)
        pending.wait(MIGRATION_DEADLINE + 60)
        return pending, dst_serial

    def migrate_moved(self, guest, src, dst, **kw):
        """A successful MigrateToURI3 and the proof that the guest moved:
        the counter goes on on @dst from where it stopped on @src, same boot,
        the source QEMU gone, exactly one QEMU left."""
        boot, src_pid = snapshot_before(guest)
        src_serial = guest.serial
        pending, dst_serial = self.migrate(guest, src, dst, **kw)
        self.moved(guest, dst, src_serial, dst_serial, src_pid, boot)
        return pending

    def moved(self, guest, dst, src_serial, dst_serial, src_pid, boot):
        guest.serials.append(harness.SerialLog(dst_serial))
        guest.host = dst
        assert_moved(self, guest, src_serial, guest.serial, src_pid, boot)
        dom = guest.dom(dst)
        self.assertEqual((dom.prop('State'), dom.prop('JobType')), ('running', 'none'))
        pids = guest.qemu_pids()
        self.assertEqual(len(pids), 1, 'expected exactly one QEMU of the guest, found %r' % pids)
        self.assertIn(guest.serial.path, ' '.join(proc_cmdline(pids[0]) or []),
                      "the QEMU left is not the destination's")

    # -- assertions

    def assertMigrateError(self, pending, name, *parts, timeout=None):
        """The MigrateToURI3 call @pending failed with @name (short names
        are org.example.Migration1.Error.*) and a message with every part."""
        if not name.startswith('org.'):
            name = harness.ERROR_PREFIX + name
        try:
            pending.wait(timeout or MIGRATION_DEADLINE + 60)
        except GLib.Error as e:
            got, msg = error_name(e), error_message(e)
            log('MigrateToURI3 failed after %.1f s as expected: %s: %s' % (pending.elapsed, got, msg))
            self.assertEqual(got, name, 'MigrateToURI3 failed with %s, not %s: %s' % (got, name, msg))
            for part in parts:
                self.assertIn(part.lower(), msg.lower(), 'the %s message does not mention %r: %r'
                              % (name, part, msg))
            return msg
        self.fail('MigrateToURI3 succeeded; expected %s' % name)

    def assertJobFailed(self, rec):
        """The recorder @rec saw exactly one JobCompleted, unsuccessful."""
        wait_until(lambda: members(rec.signals, 'JobCompleted'), DEADLINE, 'JobCompleted on the source')
        done = members(rec.signals, 'JobCompleted')
        self.assertEqual(len(done), 1, done)
        self.assertIs(done[0].args[0]['success'], False, done[0].args[0])

    def assertStaysHere(self, guest, host, pid, what=''):
        """@guest runs on @host in QEMU @pid, with no job; it is its only QEMU."""
        dom = guest.dom(host)
        wait_until(lambda: dom.prop('State') == 'running' and dom.prop('JobType') == 'none', DEADLINE,
                   '%s to run on %s without a job%s' % (guest.name, host.name, what))
        counter_rises(self, guest.serial)
        guest.serial.check_not_corrupt()
        wait_until(lambda: guest.qemu_pids() == [pid], DEADLINE,
                   'exactly the QEMU %d of %s to be left%s (have %r)' % (pid, guest.name, what, guest.qemu_pids()))

    def assertNothingThere(self, guest, host, what=''):
        """@host has no domain of @guest (no definition, nothing incoming).
        (Its QEMUs: assertStaysHere counts them.)"""
        self.assertNotIn(guest.path, host.list_domains(0), '%s has %s%s' % (host.name, guest.name, what))

    def daemon_log(self, host):
        with open(host.stderr_path, 'rb') as f:
            return f.read().decode(errors='replace')


def main():
    # Says loudly when the guests run under TCG (which proves less).
    migtest.main()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    print(__doc__)
