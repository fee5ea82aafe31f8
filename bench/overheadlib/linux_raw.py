"""--linux-guest, path (a): raw QEMU doing what migrationd does for a live
migration with NON_SHARED_DISK, driven over QMP by the benchmark itself:
the destination image (qemu-img create), a tap on the bridge, QEMU with
-incoming defer, its NBD server exporting the disk, the source's NBD node
and blockdev-mirror until BLOCK_JOB_READY, migrate with
pause-before-switchover, block-job-cancel at pre-switchover,
migrate-continue, cont and announce-self at the destination."""

import contextlib
import os
import signal
import socket
import subprocess

from .common import BOOT_DEADLINE_S, CALL_DEADLINE_S, UNLIMITED_BANDWIDTH, BenchError, now
from .linux_env import TICKS_AT_BOOT, Console, tap_on_bridge, verify_move
from .qmp import Qmp, pump

ANNOUNCE = {'initial': 50, 'max': 550, 'rounds': 5, 'step': 100}   # what migrationd sends


class RawLinuxGuest:
    def __init__(self, proc, qmp, console, side, tap_fd):
        self.proc, self.qmp, self.console, self.side, self.tap_fd = proc, qmp, console, side, tap_fd


class RawLinuxPath:
    key = 'raw'
    label = '(a) raw QEMU'

    def __init__(self, bench, argv_template):
        self.bench = bench
        self.template = list(argv_template)
        self.hops = 0
        self.guest = None
        self.procs = []

    def image(self, side):
        return os.path.join(self.bench.tmp, 'raw-%s' % side, 'disk.qcow2')

    def argv(self, side, serial, monitor_fd, tap_fd, incoming):
        """migrationd's command line for the Linux guest, with this path's
        monitor, console, tap, image, display and UUID."""
        b = self.bench
        out = []
        it = iter(self.template)
        for a in it:
            if a in ('-chardev', '-netdev', '-drive', '-vnc', '-uuid', '-name', '-incoming'):
                v = next(it)
                if a == '-incoming':
                    continue
                if a == '-uuid':
                    v = b.raw_uuid
                elif a == '-name':
                    v = 'guest=ovh-linux-raw'
                elif a == '-chardev' and v.startswith('socket,id=monitor,'):
                    v = 'socket,id=monitor,fd=%d,server=on,wait=off' % monitor_fd
                elif a == '-chardev' and v.startswith('file,'):
                    v = ','.join('path=' + serial if p.startswith('path=') else p for p in v.split(','))
                elif a == '-netdev':
                    v = ','.join('fd=%d' % tap_fd if p.startswith('fd=') else p for p in v.split(','))
                elif a == '-drive':
                    v = ','.join('file=' + self.image(side) if p.startswith('file=') else p for p in v.split(','))
                elif a == '-vnc':
                    v = '127.0.0.1:%d' % (b.raw_vnc_port - 5900 + (side == 'B'))
                out += [a, v]
                continue
            out.append(a)
        if incoming:
            out += ['-incoming', 'defer']
        return [self.bench_mac(a) for a in out]

    def bench_mac(self, arg):
        """The raw guest's own MAC and address (on the same bridge as the managed one)."""
        b = self.bench
        return arg.replace(b.managed_mac, b.raw_mac).replace('mdguest.ip=%s/' % b.managed_ip,
                                                             'mdguest.ip=%s/' % b.raw_ip)

    def spawn(self, side, incoming):
        b = self.bench
        self.hops += 1
        serial = os.path.join(b.tmp, 'serial-raw-%d.log' % self.hops)
        mon_path = os.path.join(b.tmp, 'raw-%d.qmp' % self.hops)
        log_path = os.path.join(b.tmp, 'raw-%d.log' % self.hops)
        tap_fd = tap_on_bridge(b.bridge.name, b.raw_mac)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(mon_path)
        listener.listen(4)
        fd = listener.fileno()
        argv = self.argv(side, serial, fd, tap_fd, incoming)
        with open(log_path, 'ab') as logf:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                    pass_fds=(fd, tap_fd), start_new_session=True)
        self.procs.append(proc)
        listener.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(mon_path)
        os.unlink(mon_path)
        return proc, Qmp(sock, 'dst' if incoming else 'src', proc, log_path), serial, tap_fd

    def stop(self, g, sig=signal.SIGKILL):
        g.qmp.close()
        if g.proc.poll() is None:
            g.proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            g.proc.wait(30)
        if g.proc.poll() is None:
            g.proc.kill()
            g.proc.wait()
        with contextlib.suppress(OSError):
            os.close(g.tap_fd)

    def close(self):
        if self.guest is not None:
            self.stop(self.guest)
            self.guest = None
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def boot(self):
        proc, q, serial, tap_fd = self.spawn('A', False)
        g = RawLinuxGuest(proc, q, Console(serial), 'A', tap_fd)
        deadline = now() + BOOT_DEADLINE_S
        q.handshake(deadline)
        q.command('cont', deadline=deadline)
        g.console.wait_ticks(TICKS_AT_BOOT, BOOT_DEADLINE_S, alive=lambda: q.read_available()
                             if proc.poll() is not None else None)
        self.guest = g

    def run(self, r):
        """One move of the raw guest to the other side; fills @r."""
        b = self.bench
        src = self.guest
        sq = src.qmp
        side = 'B' if src.side == 'A' else 'A'
        dst_image = self.image(side)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dst_image)
        port, nbd_port = b.raw_ports()
        uri = 'tcp:127.0.0.1:%d' % port
        sq.read_available()
        sq.events.clear()
        deadline = now() + CALL_DEADLINE_S
        dst = None
        w0 = b.wall()
        # ---- timed section
        t0 = now()
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', dst_image, str(b.disk_size)], check=True)
        proc, dq, serial, tap_fd = self.spawn(side, True)
        dst = RawLinuxGuest(proc, dq, None, side, tap_fd)
        try:
            dq.handshake(deadline)
            dq.command('migrate-set-capabilities', {'capabilities': [{'capability': 'events', 'state': True}]},
                       deadline)
            dq.command('nbd-server-start', {'addr': {'type': 'inet', 'data': {'host': '127.0.0.1',
                                                                              'port': str(nbd_port)}}}, deadline)
            dq.command('nbd-server-add', {'device': 'disk0', 'name': 'vda', 'writable': True}, deadline)
            dq.command('migrate-incoming', {'uri': uri}, deadline)
            t_mirror0 = now()
            sq.command('blockdev-add', {'driver': 'nbd', 'node-name': 'migration-vda', 'export': 'vda',
                                        'server': {'type': 'inet', 'host': '127.0.0.1', 'port': str(nbd_port)}},
                       deadline)
            sq.command('blockdev-mirror', {'job-id': 'migration-vda', 'device': 'disk0', 'target': 'migration-vda',
                                           'sync': 'full'}, deadline)
            pump([sq, dq], lambda: sq.event('BLOCK_JOB_READY') or sq.event('BLOCK_JOB_ERROR'), deadline,
                 'the raw mirror to be READY')
            if sq.event('BLOCK_JOB_ERROR'):
                raise BenchError('the raw mirror failed: %r' % (sq.event('BLOCK_JOB_ERROR')[2],))
            t_ready = now()
            sq.command('migrate-set-capabilities', {'capabilities': [
                {'capability': 'events', 'state': True}, {'capability': 'pause-before-switchover', 'state': True}]},
                deadline)
            sq.command('migrate-set-parameters', {'max-bandwidth': UNLIMITED_BANDWIDTH}, deadline)
            sq.command('migrate', {'uri': uri}, deadline)
            ends = ('completed', 'failed', 'cancelled')
            pump([sq, dq], lambda: sq.migration_event('pre-switchover', *ends), deadline, 'pre-switchover')
            if not sq.migration_event('pre-switchover'):
                raise BenchError('the raw migration ended before pre-switchover: %r' % (sq.migration_event(*ends),))
            sq.command('block-job-cancel', {'device': 'migration-vda'}, deadline)
            pump([sq, dq], lambda: sq.event('BLOCK_JOB_COMPLETED') or sq.event('BLOCK_JOB_CANCELLED'), deadline,
                 'the raw mirror to end')
            sq.command('migrate-continue', {'state': 'pre-switchover'}, deadline)
            pump([sq, dq], lambda: sq.migration_event(*ends), deadline, 'the raw migration to complete')
            if sq.migration_event(*ends)[2]['status'] != 'completed':
                _, info = sq.command('query-migrate', deadline=deadline)
                raise BenchError('the raw migration failed: %s' % info.get('error-desc', '?'))
            t_completed = now()
            pump([dq], lambda: dq.migration_event(*ends), deadline, 'the raw destination to complete')
            dq.command('nbd-server-stop', deadline=deadline)
            dq.command('cont', deadline=deadline)
            t_end, st = dq.command('query-status', deadline=deadline)
            dq.command('announce-self', ANNOUNCE, deadline)
            # ---- end of the timed section
            w1 = b.wall()
            if st.get('status') != 'running':
                raise BenchError('the raw destination is %s after cont' % st.get('status'))
            _, info = sq.command('query-migrate', deadline=deadline)
            r.update({
                'total_s': t_end - t0,
                'disk_phase_s': t_ready - t_mirror0,
                'memory_phase_s': t_completed - t_ready,
                'qemu_downtime_s': info['downtime'] / 1e3 if 'downtime' in info else None,
                'transferred_bytes': (info.get('ram') or {}).get('transferred'),
                'window': (w0, w1),
                # QEMU's own time stamps: the guest stands still in between.
                'stop_wall': (sq.event('STOP') or [None] * 4)[3],
                'resume_wall': (dq.event('RESUME') or [None] * 4)[3],
                'direction': '%s->%s' % (src.side, side),
            })
            r['verified'], r['verify_note'], console = verify_move(src.console, serial, CALL_DEADLINE_S)
        except BaseException:
            self.stop(dst)
            raise
        self.stop(src, signal.SIGTERM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.image(src.side))
        dst.console = console
        self.guest = dst
