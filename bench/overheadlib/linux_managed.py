"""--linux-guest, paths (b) and (c): the Linux guest moved by two migrationd
hosts with LIVE|NON_SHARED_DISK: (b) managed, the client drives the five
phases; (c) peer to peer, one MigrateToURI3 with PEER2PEER through the
destination's migration-bridge. While the migration call runs, the client
polls the source's GetJobStats(0) to see when the disks are copied (the
first sample with memory_processed > 0: the daemon has started `migrate`)."""

import contextlib
import os

from .common import (BOOT_DEADLINE_S, BUS_NAME, CALL_DEADLINE_S, DOMAIN_IFACE, LIVE, MANAGER_IFACE, MANAGER_PATH,
                     PEER2PEER, PROPS_IFACE, BenchError, GLib, harness, now)
from .profiling import LOG_LINE_RE
from .dbusclient import marshal, v_ay, v_b, v_dict, v_s, v_u
from .domsignals import first_prop, first_state, job_completed, ms_or_none
from .linux_env import (CMDLINE, MEMORY_MIB, TICKS_AT_BOOT, VNC_XML, Console, disk_xml, nic_xml,
                        verify_move)

NON_SHARED_DISK = 1 << 6
FLAGS = LIVE | NON_SHARED_DISK


class LinuxGuestDef:
    """The managed guest: its name, UUID, path and XML per host (each host
    its own image)."""

    def __init__(self, bench, name, uuid):
        self.bench, self.name, self.uuid = bench, name, uuid
        self.path = harness.domain_path(uuid)
        # Where it runs now and its console there: (b) and (c) move the same guest.
        self.where = None
        self.console = None
        self.hops = 0

    def image(self, host):
        return os.path.join(host.dir, 'disk.qcow2')

    def xml(self, host, serial):
        b = self.bench
        devices = '\n'.join([disk_xml(self.image(host)), nic_xml(b.bridge.name, b.managed_mac), VNC_XML])
        return harness.guest_xml(self.name, self.uuid, serial, memory_mib=MEMORY_MIB,
                                 kernel=os.path.join(b.cache, 'vmlinuz'), initrd=os.path.join(b.cache, 'initrd.img'),
                                 cmdline=CMDLINE + ' mdguest.ip=%s' % b.managed_ip + '/24',
                                 virt_type=b.domain_type, devices_extra=devices)


class ManagedLinuxPath:
    key = 'managed'
    label = '(b) migrationd managed'

    def __init__(self, bench, a, b, guest):
        self.bench, self.a, self.b, self.guest = bench, a, b, guest

    def setup(self):
        g = self.guest
        serial = os.path.join(self.bench.tmp, 'serial-%s-0.log' % g.uuid)
        self.a.mcall('DefineXML', 's', (g.xml(self.a, serial),), 'o')
        for h in (self.a, self.b):
            h.add_match(g.path, PROPS_IFACE, 'PropertiesChanged')
            h.add_match(g.path, DOMAIN_IFACE, 'JobCompleted')
        self.a.dcall(g.path, 'Start', 'u', (0,))
        g.where = self.a
        g.console = Console(serial)
        g.console.wait_ticks(TICKS_AT_BOOT, BOOT_DEADLINE_S, alive=self.a.check_alive)
        pids = harness.find_qemu_pids(g.uuid)
        if len(pids) != 1:
            raise BenchError('expected one QEMU of the Linux guest, found %r' % pids)
        return harness.proc_cmdline(pids[0])

    def other(self, host):
        return self.b if host is self.a else self.a

    def poll_until(self, src, serial, deadline, samples):
        """Waits for the reply to @serial on @src, sampling GetJobStats(0) of
        the source every --stats-poll s meanwhile."""
        interval = self.bench.args.stats_poll
        while True:
            got = src.raw.wait(serial, now() + interval if interval > 0 else deadline)
            if got is not None:
                return got
            if now() > deadline:
                raise BenchError('the migration call did not reply within %.0f s' % CALL_DEADLINE_S)
            with contextlib.suppress(GLib.Error):
                _t, stats = src.dcall(self.guest.path, 'GetJobStats', 'u', (0,), 'sa{sv}')
                samples.append((now(), stats.get('disk_processed'), stats.get('memory_processed')))

    def moves(self, r):
        """Before the clock: source, destination, consoles, the destination's
        stale image removed (so that Prepare creates it, as on path (a))."""
        g = self.guest
        src = g.where
        dst = self.other(src)
        g.hops += 1
        dst_serial = os.path.join(self.bench.tmp, 'serial-%s-%d.log' % (g.uuid, g.hops))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.guest.image(dst))
        src.raw.sync()
        dst.raw.sync()
        src.raw.take_signals()
        dst.raw.take_signals()
        r['direction'] = '%s->%s' % (src.name, dst.name)
        self.log_offset = os.path.getsize(src.log_path)
        return src, dst, dst_serial

    def run(self, r):
        g = self.guest
        src, dst, dst_serial = self.moves(r)
        dest_xml = g.xml(dst, dst_serial)
        deadline = now() + CALL_DEADLINE_S
        samples = []
        w0 = self.bench.wall()
        m = marshal(BUS_NAME, g.path, DOMAIN_IFACE, 'Begin3Params', v_dict({}), v_u(FLAGS))
        # ---- timed section
        t0 = now()
        _t, (xml, cookie) = src.raw.wait(src.raw.send(m), deadline)
        m = marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'Prepare3Params',
                    v_dict({'destination_xml': ('s', dest_xml)}), v_ay(cookie), v_u(FLAGS))
        _t, (cookie, uri) = dst.raw.wait(dst.raw.send(m), deadline)
        m = marshal(BUS_NAME, g.path, DOMAIN_IFACE, 'Perform3Params', v_s(''),
                    v_dict({'migrate_uri': ('s', uri)}), v_ay(cookie), v_u(FLAGS))
        _t, (cookie,) = self.poll_until(src, src.raw.send(m), deadline, samples)
        m = marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'Finish3Params',
                    v_dict({'destination_name': ('s', g.name), 'migrate_uri': ('s', uri)}), v_ay(cookie),
                    v_u(FLAGS), v_b(False))
        _t, (_path, cookie) = dst.raw.wait(dst.raw.send(m), deadline)
        m = marshal(BUS_NAME, g.path, DOMAIN_IFACE, 'Confirm3Params', v_dict({}), v_ay(cookie), v_u(FLAGS),
                    v_b(False))
        _t, _ = src.raw.wait(src.raw.send(m), deadline)
        t_end = now()
        # ---- end of the timed section
        self.finish_run(r, src, dst, dst_serial, t0, t_end, w0, samples)

    def logged_disk_phase(self, src):
        """--profile: the source daemon's log from "QMP command blockdev-add
        sent" to "QMP event BLOCK_JOB_READY" (1 ms resolution): the same
        interval as path (a)'s disk phase, seen from the daemon."""
        start = ready = None
        with open(src.log_path, 'rb') as f:
            f.seek(self.log_offset)
            for raw in f:
                m = LOG_LINE_RE.match(raw.decode(errors='replace').rstrip('\n'))
                if not m:
                    continue
                hh, mm, ss, ms, text = m.groups()
                t = int(hh) * 3600 + int(mm) * 60 + int(ss) + int(ms) / 1e3
                if start is None and text.startswith('QMP command blockdev-add sent'):
                    start = t
                elif start is not None and text == 'QMP event BLOCK_JOB_READY':
                    ready = t
                    break
        if start is None or ready is None:
            return None
        return (ready - start) % 86400

    def finish_run(self, r, src, dst, dst_serial, t0, t_end, w0, samples):
        w1 = self.bench.wall()
        wall_offset = self.bench.wall() - now()
        src.raw.sync()
        dst.raw.sync()
        signals = src.raw.take_signals()
        running = first_state(dst.raw.take_signals(), self.guest.path, 'running')
        stats = job_completed(signals, self.guest.path) or {}
        # State=paused at the source as the client received it: a few ms
        # after QEMU's STOP, still within the switch-over's silence.
        paused = first_state(signals, self.guest.path, 'paused')
        # The disk phase starts when the source's job enters perform3 (on
        # (c) after the relayed Prepare3); t0 when the signal is missing.
        perform = first_prop(signals, self.guest.path, 'JobPhase', 'perform3')
        t_perform = perform / 1e9 if perform else t0
        mem = [s for s in samples if s[2]]
        r.update({
            'total_s': t_end - t0,
            'disk_phase_s': mem[0][0] - t_perform if mem else None,
            'qemu_downtime_s': ms_or_none(stats.get('downtime')),
            'disk_total': stats.get('disk_total'),
            'transferred_bytes': stats.get('memory_processed'),
            'window': (w0, w1),
            'stop_wall': paused / 1e9 + wall_offset if paused else None,
            'resume_wall': running / 1e9 + wall_offset if running else None,
            'stats_samples': len(samples),
        })
        if self.bench.args.profile:
            # Exact where polling is approximate: it replaces the polled figure.
            r['disk_phase_polled_s'] = r['disk_phase_s']
            r['disk_phase_s'] = self.logged_disk_phase(src)
        g = self.guest
        r['verified'], r['verify_note'], g.console = verify_move(g.console, dst_serial, CALL_DEADLINE_S,
                                                                alive=dst.check_alive)
        g.where = dst


class P2PLinuxPath(ManagedLinuxPath):
    key = 'p2p'
    label = '(c) migrationd p2p'

    def run(self, r):
        g = self.guest
        src, dst, dst_serial = self.moves(r)
        dest_xml = g.xml(dst, dst_serial)
        params = v_dict({'destination_xml': ('s', dest_xml)})
        deadline = now() + CALL_DEADLINE_S
        samples = []
        w0 = self.bench.wall()
        uri = 'migration+tls://127.0.0.1:%d' % dst.bridge_port
        m = marshal(BUS_NAME, g.path, DOMAIN_IFACE, 'MigrateToURI3', v_s(uri), params, v_u(FLAGS | PEER2PEER))
        t0 = now()
        self.poll_until(src, src.raw.send(m), deadline, samples)
        t_end = now()
        self.finish_run(r, src, dst, dst_serial, t0, t_end, w0, samples)
