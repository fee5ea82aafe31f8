"""bench/load's hosts, guests and migrations: two migrationd "hosts"
(overheadlib's HostDaemon: private bus, own directories and ports), guests
on both, and the managed five-phase migration of one guest driven over its
own pair of connections (so that 8 of them can run at once, one thread
each)."""

import contextlib
import json
import os
import threading
import time
import uuid as uuidlib

from overheadlib.common import (BUS_NAME, CALL_DEADLINE_S, DOMAIN_IFACE, LIVE, MANAGER_IFACE, MANAGER_PATH,
                                BenchError, GLib, harness, now)
from overheadlib.dbusclient import CallFailed, PhaseBus, marshal, v_ay, v_b, v_dict, v_s, v_u
from overheadlib.serial import verify_moved


class LoadGuest:
    """One tests/guest guest, its consoles named by its UUID (kill_qemus finds
    leftovers by it)."""

    def __init__(self, bench, index, home):
        self.uuid = str(uuidlib.uuid4())
        self.name = 'load-%d-%s' % (index, self.uuid[:8])
        self.path = harness.domain_path(self.uuid)
        self.home = home             # the host it is defined on and starts from
        self.where = home
        self.bench = bench
        self.hops = 0
        self.serial = self.next_serial()

    def next_serial(self):
        self.hops += 1
        return os.path.join(self.bench.tmp, 'serial-%s-%d.log' % (self.uuid, self.hops))

    def xml(self, serial):
        b = self.bench
        return harness.guest_xml(self.name, self.uuid, serial, memory_mib=b.args.memory, kernel=b.kernel,
                                 cmdline='dirty=%s period=100' % b.args.dirty, virt_type=b.domain_type)


class Migration:
    """One managed migration of @guest from where it runs to @dst, timed from
    sending Begin3Params to the Confirm3Params reply. @hold (optional): a
    callable run between the Prepare3Params reply and Perform3Params (the
    bench's rendezvous of all migrations, to try a ninth); its time is
    recorded and taken out of the wall time."""

    def __init__(self, guest, dst, hold=None):
        self.guest = guest
        self.src = guest.where
        self.dst = dst
        self.hold = hold
        self.result = None
        self.error = None
        self.thread = None

    def run(self):
        g, src, dst = self.guest, self.src, self.dst
        s = PhaseBus(src.bus.address, src.name)
        d = PhaseBus(dst.bus.address, dst.name)
        try:
            src_pids = harness.find_qemu_pids(g.uuid)
            dst_serial = g.next_serial()
            deadline = now() + CALL_DEADLINE_S
            ns = time.perf_counter_ns
            t0 = ns()
            _, (_xml, cookie) = s.wait(s.send(marshal(BUS_NAME, g.path, DOMAIN_IFACE, 'Begin3Params',
                                                      v_dict({}), v_u(LIVE))), deadline)
            p = {'destination_xml': ('s', g.xml(dst_serial))}
            _, (cookie, uri) = d.wait(d.send(marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'Prepare3Params',
                                                     v_dict(p), v_ay(cookie), v_u(LIVE))), deadline)
            held = 0
            if self.hold is not None:
                h0 = ns()
                self.hold()
                held = ns() - h0
            m = marshal(BUS_NAME, g.path, DOMAIN_IFACE, 'Perform3Params', v_s(''),
                        v_dict({'migrate_uri': ('s', uri)}), v_ay(cookie), v_u(LIVE))
            _, (cookie,) = s.wait(s.send(m), deadline)
            p = {'destination_name': ('s', g.name), 'migrate_uri': ('s', uri)}
            _, (_path, cookie) = d.wait(d.send(marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'Finish3Params',
                                                       v_dict(p), v_ay(cookie), v_u(LIVE), v_b(False))), deadline)
            t_end, _ = s.wait(s.send(marshal(BUS_NAME, g.path, DOMAIN_IFACE, 'Confirm3Params', v_dict({}),
                                             v_ay(cookie), v_u(LIVE), v_b(False))), deadline)
        finally:
            s.close()
            d.close()
        self.result = {'guest': g.name, 'direction': '%s->%s' % (src.name, dst.name), 't0_ns': t0,
                       't_end_ns': t_end, 'held_s': held / 1e9, 'wall_s': (t_end - t0 - held) / 1e9,
                       'src_serial': g.serial, 'dst_serial': dst_serial, 'src_pids': src_pids}
        g.where = dst
        g.serial = dst_serial

    def start(self):
        def body():
            try:
                self.run()
            except BaseException as e:  # reported by the bench, which fails the run
                self.error = e
        self.thread = threading.Thread(target=body, name='migrate-%s' % self.guest.name, daemon=True)
        self.thread.start()

    def join(self):
        self.thread.join()
        if self.error is not None:
            raise BenchError('migration of %s %s failed: %s' % (self.guest.name, '%s->%s' % (
                self.src.name, self.dst.name), self.error))

    def verify(self):
        """The harness's check: the guest counts on at the destination, same
        boot, no corruption over its dirty area, the source QEMU gone."""
        r = self.result
        ok, note, last, first = verify_moved(r['src_serial'], r['dst_serial'], True, r['src_pids'],
                                             timeout=self.guest.bench.args.verify_timeout)
        r.update({'verified': ok, 'verify_note': note, 'source_last_counter': last,
                  'destination_first_counter': first})
        return ok


def try_ninth(host, kernel):
    """A ninth migration into @host while 8 jobs run there (4 out, 4 in): a
    Prepare3Params with the cookie of a third host. Returns (error name,
    message) or raises if it was accepted."""
    u = str(uuidlib.uuid4())
    cookie = json.dumps({'format': 'migrationd-cookie', 'version': 1, 'name': 'load-ninth', 'uuid': u,
                         'hostname': 'elsewhere.example', 'host_uuid': str(uuidlib.uuid4()), 'protocol': 3,
                         'features': []}).encode()
    xml = harness.guest_xml('load-ninth', u, os.devnull, memory_mib=64, kernel=kernel)
    m = marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'Prepare3Params',
                v_dict({'destination_xml': ('s', xml)}), v_ay(cookie), v_u(LIVE))
    b = PhaseBus(host.bus.address, host.name + '-ninth')
    try:
        b.wait(b.send(m), now() + CALL_DEADLINE_S)
    except CallFailed as e:
        return e.name, e.message
    finally:
        b.close()
    # Accepted: end it again so that the bench can clean up.
    with contextlib.suppress(Exception):
        host.mcall('Finish3Params', 'a{sv}ayub', ({'destination_name': GLib.Variant('s', 'load-ninth')}, b'', LIVE, True), 'oay')
    raise BenchError('the ninth migration was ACCEPTED by %s ([migration] max_jobs not enforced)' % host.name)

