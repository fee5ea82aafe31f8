"""Path (c): one MigrateToURI3 with PEER2PEER, the source daemon driving the
destination through its migration-bridge over mutual TLS; and the latency
the bridge adds to one relayed call."""

import contextlib
import os
import socket
import ssl
import time

from .common import (BUS_NAME, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH, PEER2PEER,
                     GLib, Gio, bridgetest, harness, log, now, p2ptest, scale)
from .dbusclient import marshal, v_dict, v_s, v_u
from .stats import diff, ratio, summary


PEER_CERT = {'hostA': 'host-a', 'hostB': 'host-b'}     # p2ptest.Pki's identities: CN=host-a, CN=host-b
ALLOWED_PEERS = 'CN=host-a;CN=host-b'
RELAY_METHOD = 'GetCapabilities'     # the one Manager method the bridge relays as it is
RELAY_WARMUP = 50                    # untimed calls per leg before the relayed-call blocks


class BenchBridge(bridgetest.Bridge):
    """tests/integration/bridge's Bridge (uid 65534 with setpriv when root,
    the host's own configuration file, listening on [bridge] listen), but
    with debug logging only under --profile: the tests' debug lines would
    be written during the timed calls."""

    def __init__(self, host, port, debug):
        super().__init__(host, port)
        self.debug = debug

    def env(self):
        env = super().env()
        env.pop('G_MESSAGES_DEBUG', None)
        env.pop('G_DEBUG', None)
        if self.debug:
            env['G_MESSAGES_DEBUG'] = 'all'
        return env


class TlsRawBus(scale.RawBus):
    """bench/scale's raw-socket client (GDBusMessage marshals once; a timed
    call patches the serial, sends, and reads the reply's bytes) on a TLS
    connection to a migration-bridge, with a host's client certificate. The
    bridge is the other end of a peer-to-peer D-Bus connection (no message
    bus, so no Hello) and authenticates ANONYMOUS: the certificate is the
    identity (src/peer/peer-link.c)."""

    def __init__(self, pki, port, cert):
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=pki.path('ca'))
        ctx.load_cert_chain(pki.path(cert), pki.path(cert, 'key'))
        tcp = socket.create_connection(('127.0.0.1', port))
        # As the daemon's side of a link (src/peer/peer-handshake.c): no Nagle.
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(tcp, server_hostname='127.0.0.1')
        # With an initial response (a trace string, as GDBus sends), or sd-bus asks for one (DATA).
        self.authenticate(b'ANONYMOUS', b'bench/overhead', 'the bridge', 1 << 16)


class PeerToPeerPath:
    """(c) migrationd peer-to-peer: one Domain.MigrateToURI3(dconnuri, params,
    LIVE|PEER2PEER and the case's flags) to the source daemon, which runs every
    phase itself and drives the destination through the destination's
    migration-bridge over mutual TLS, as tests/integration/p2p does.

    The same two hosts and the same guests as (b): each host gets a
    certificate (tests/integration/p2p's Pki: a CA, CN=host-a and CN=host-b,
    RSA, as the tests make them with certtool), [tls] and [bridge] (listen on
    127.0.0.1, allowed_peers CN=host-a;CN=host-b) in its configuration, and a
    migration-bridge of its own. [tls] changes nothing for (b): the stream
    uses TLS only with the TLS flag, which no case sets. A run moves the guest
    from the host where it runs to the other one, like (b). Timed: from
    sending MigrateToURI3 to its reply, which the daemon sends after Confirm3
    at the source: the end point of (b)'s clock."""

    key = 'p2p'
    label = '(c) migrationd peer-to-peer'

    def __init__(self, bench):
        self.bench = bench
        self.managed = None
        self.pki = None
        self.ports = []
        self.bridges = {}             # host name -> BenchBridge
        self.binary = bench.args.bridge or os.path.join(bench.args.build_dir, 'src', 'migration-bridge')

    def available(self):
        if 'managed' not in self.bench.args.paths:
            return False, 'it runs on the hosts of path (b): --paths must include managed'
        if not os.access(self.binary, os.X_OK):
            return False, ('%s is not an executable; build it (ninja -C BUILD src/migration-bridge) or pass '
                           '--bridge' % self.binary)
        if not p2ptest.CERTTOOL:
            return False, 'certtool is missing (Debian: apt-get install gnutls-bin)'
        if os.geteuid() == 0 and not os.access(bridgetest.SETPRIV, os.X_OK):
            return False, 'setpriv (util-linux) is missing; it runs the bridge as uid %d' % bridgetest.NOBODY
        return True, ''

    def configure_host(self, host):
        """Before the daemons start (ManagedPath.setup): @host's identity,
        [tls] and [bridge] in its configuration file, a port for its bridge."""
        if self.pki is None:
            # uid 65534 (the bridge) must reach the certificates, the
            # configuration files and the bus sockets.
            os.chmod(self.bench.tmp, 0o711)
            t = now()
            self.pki = p2ptest.Pki(self.bench.tmp)
            log('certificates made with certtool in %.1f s' % (now() - t))
        block = harness.PortBlock()
        self.ports.append(block)
        host.bridge_port = block.port_min
        host.cert = PEER_CERT[host.name]
        host.add_config({'tls': self.pki.tls(host.cert),
                         'bridge': {'listen': '127.0.0.1:%d' % host.bridge_port, 'allowed_peers': ALLOWED_PEERS}})
        if self.bench.args.peer_idle_timeout is not None:
            host.add_config({'peer': {'idle_timeout': self.bench.args.peer_idle_timeout}})

    def setup(self):
        """After the daemons run: a bridge per host, on its bus."""
        bridgetest.BRIDGE = self.binary
        self.managed = self.bench.managed
        for h in (self.managed.a, self.managed.b):
            os.chmod(h.bus.dir, 0o711)
            self.bridges[h.name] = BenchBridge(h, h.bridge_port, self.bench.args.profile).start()

    def close(self):
        for b in self.bridges.values():
            with contextlib.suppress(Exception):
                b.stop()
        self.bridges = {}
        for block in self.ports:
            block.release()
        self.ports = []

    def bridge_logs(self, src, dst):
        return [(self.bridges[dst.name].log_path, 'destination bridge')]

    def run(self, case, guest):
        m = self.managed
        r = {'path': self.key, 'case': case.key}
        hop = m.before_clock(guest, r, self.bridge_logs)
        src, dst = hop.src, hop.dst
        log_from = os.path.getsize(src.log_path)
        params = {'destination_xml': ('s', hop.dest_xml)}
        if case.multifd:
            params['parallel.connections'] = ('i', case.multifd)
        uri = 'migration+tls://127.0.0.1:%d' % dst.bridge_port
        msg = marshal(BUS_NAME, guest.path, DOMAIN_IFACE, 'MigrateToURI3', v_s(uri), v_dict(params),
                      v_u(case.flags() | PEER2PEER))
        deadline = now() + self.bench.deadlines.call_s
        marks = []
        ns = time.perf_counter_ns
        clock0 = (time.time(), ns())
        try:
            # ---- timed section
            t0 = ns()
            call = src.raw.send(msg)
            # Post-copy: --postcopy-after counts from this call, which
            # includes Begin3 and the relayed Prepare3 before the stream.
            (t_end, _), switch = m.await_reply(src, guest, case, call, t0, t0, deadline, r, marks)
            # ---- end of the timed section
            marks += [(t0, 'client: MigrateToURI3 sent'), (t_end, 'client: MigrateToURI3 reply')]
        except BaseException:
            m.recover(guest)
            raise
        r['uri'] = uri
        r['link_dialed'] = self.links_dialed(src, log_from)
        m.after_clock(r, guest, hop, t0, t_end, switch, clock0, marks)
        return r

    @staticmethod
    def links_dialed(src, offset):
        """Links the source dialed since @offset of its log (README, "The kept
        link": it logs each): a run that found no kept link paid the TCP
        connect, the TLS handshake and the authentication."""
        with open(src.log_path, 'rb') as f:
            f.seek(offset)
            return f.read().count(b'Connected to peer ')

    # -- the relayed call's latency

    def measure_relay(self, calls, block, links):
        """Manager.GetCapabilities on host B: through B's bridge, as a peer
        with host A's certificate, against the same call on B's own bus;
        with two clients each (GDBus, and bench/scale's raw-socket client),
        in alternating blocks of @block calls per leg (the order rotating
        every round), after a warm-up. Then @links times the set-up of a
        link to the bridge (TCP, TLS handshake, authentication, first call),
        which each MigrateToURI3 pays once."""
        dst = self.managed.b
        port = dst.bridge_port
        cert = PEER_CERT[self.managed.a.name]
        reply_type = GLib.VariantType.new('(a{sv})')
        timeout_ms = 30000
        gdbus_bus = harness.Client(dst.bus.address, 'latency')
        peer = bridgetest.Peer(self.pki, port, name=cert).open()
        raw_bus = scale.RawBus(dst.bus.address)
        raw_tls = TlsRawBus(self.pki, port, cert)
        m_bus = scale.RawBus.marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, RELAY_METHOD)
        m_tls = scale.RawBus.marshal(None, MANAGER_PATH, MANAGER_IFACE, RELAY_METHOD)

        def gdbus(conn, dest):
            return lambda: conn.call_sync(dest, MANAGER_PATH, MANAGER_IFACE, RELAY_METHOD, None, reply_type,
                                          Gio.DBusCallFlags.NONE, timeout_ms, None)
        legs = [('GDBus', 'bus', gdbus(gdbus_bus.conn, BUS_NAME)),
                ('GDBus', 'bridge', gdbus(peer.conn, None)),
                ('raw', 'bus', lambda: raw_bus.call(m_bus)),
                ('raw', 'bridge', lambda: raw_tls.call(m_tls))]
        samples = {(c, l): [] for c, l, _ in legs}
        ns = time.perf_counter_ns
        try:
            for _c, _l, fn in legs:
                for _ in range(RELAY_WARMUP):
                    fn()
            done = 0
            rnd = 0
            while done < calls:
                n = min(block, calls - done)
                order = legs[rnd % len(legs):] + legs[:rnd % len(legs)]
                for c, l, fn in order:
                    out = samples[(c, l)]
                    for _ in range(n):
                        t = ns()
                        fn()
                        out.append((ns() - t) / 1e9)
                done += n
                rnd += 1
            setup = []
            for _ in range(links):
                t = ns()
                p = bridgetest.Peer(self.pki, port, name=cert).open()
                setup.append((ns() - t) / 1e9)
                p.close()
        finally:
            for c in (raw_tls, raw_bus):
                with contextlib.suppress(OSError):
                    c.close()
            peer.close()
            gdbus_bus.close()
        out = {'method': 'Manager.' + RELAY_METHOD, 'calls': calls, 'block': block,
               'host': dst.name, 'peer_identity': 'CN=' + cert, 'clients': {}}
        for client in ('GDBus', 'raw'):
            bus, br = summary(samples[(client, 'bus')]), summary(samples[(client, 'bridge')])
            out['clients'][client] = {
                'bus': bus, 'bridge': br,
                'added_p50_s': diff(br['p50'], bus['p50']), 'added_p99_s': diff(br['p99'], bus['p99']),
                'ratio_p50': ratio(br['p50'], bus['p50']), 'ratio_p99': ratio(br['p99'], bus['p99'])}
        out['link_setup'] = summary(setup)
        return out
