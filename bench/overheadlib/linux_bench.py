"""--linux-guest: the Linux test guest with a qcow2 disk (--disk-size, 1 GiB
of data) and a virtio NIC on a bridge, moved with LIVE|NON_SHARED_DISK by
(a) raw QEMU over QMP, (b) migrationd managed and (c) migrationd peer to
peer, in alternating rounds; in the same rounds `qemu-img convert` of the
same image to a qemu-nbd serving the destination path. Pingers through the
bridge give each move's network outage."""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid as uuidlib

from .common import BenchError, GLib, harness, log, now
from .linux_env import Bridge, Pinger, check_tools, copy_image, linux_guest, make_image
from .linux_managed import LinuxGuestDef, ManagedLinuxPath, P2PLinuxPath
from .linux_raw import RawLinuxPath
from .path_p2p import PeerToPeerPath
from .processes import HostDaemon, kill_qemus


class LinuxBench:
    def __init__(self, args):
        self.args = args
        self.tmp = None
        self.hosts = []
        self.paths = []
        self.bridge = None
        self.pingers = {}
        self.results = []
        self.failures = []
        self.lock_fd = None
        self.raw = self.p2p_setup = None
        self.disk_size = args.disk_size
        self.daemon_path = args.daemon or os.path.join(args.build_dir, 'src', 'migrationd')
        self.qemu = args.qemu
        self.domain_type = harness.domain_type() if args.accel == 'auto' else (
            'kvm' if args.accel == 'kvm' else 'qemu')
        self.raw_uuid = str(uuidlib.uuid4())
        self.guest = None
        self.managed = None
        self.load_before = self.load_after = None
        self.ports = None

    @staticmethod
    def wall():
        return time.time()

    def raw_ports(self):
        """(migration port, NBD port) of the next raw run, from the raw path's own block."""
        self.port_turn = (getattr(self, 'port_turn', 0) + 2) % (self.ports.port_max - self.ports.port_min - 1)
        return self.ports.port_min + 2 + self.port_turn, self.ports.port_min + 3 + self.port_turn

    def setup(self):
        check_tools()
        self.cache, self.stamp, self.lock_fd = linux_guest()
        if not (os.path.isfile(self.daemon_path) and os.access(self.daemon_path, os.X_OK)):
            raise BenchError('migrationd (%s) is not an executable; ninja -C BUILD src/migrationd' % self.daemon_path)
        self.tmp = os.path.abspath(tempfile.mkdtemp(prefix='migrationd-overhead-linux-', dir=self.args.tmp_dir))
        self.ports = harness.PortBlock()
        self.raw_vnc_port = self.ports.port_min       # and port_min + 1 (the two sides)
        self.bridge = Bridge()
        self.managed_ip, self.raw_ip = self.bridge.subnet + '.2', self.bridge.subnet + '.3'
        self.managed_mac, self.raw_mac = '52:54:00:b3:00:02', '52:54:00:b3:00:03'
        log('accelerator %s; QEMU %s; Linux guest %s (%s), %d MiB RAM; disk %d MiB; bridge %s; temp %s'
            % ('KVM' if self.domain_type == 'kvm' else 'TCG', self.args.qemu_version, self.stamp['kernel_release'],
               self.cache, 256, self.disk_size >> 20, self.bridge.name, self.tmp))
        self.pristine = os.path.join(self.tmp, 'pristine.qcow2')
        make_image(self.pristine, self.disk_size, log)
        for d in ('raw-A', 'raw-B', 'convert'):
            os.makedirs(os.path.join(self.tmp, d))
        a, b = HostDaemon(self, 'hostA'), HostDaemon(self, 'hostB')
        self.hosts = [a, b]
        p2p = None
        if 'p2p' in self.args.paths:
            p2p = PeerToPeerPath(self)
            ok, why = p2p.available()
            if not ok:
                log('path (c) skipped: %s' % why)
                p2p = None
        for h in self.hosts:
            h.display_ports = harness.PortBlock()
            h.add_config({'graphics': {'port_min': h.display_ports.port_min, 'port_max': h.display_ports.port_max}})
            if p2p is not None:
                p2p.configure_host(h)
            h.start()
        a.raw.peers, b.raw.peers = [b.raw], [a.raw]
        self.guest = LinuxGuestDef(self, 'ovh-linux-%s' % self.raw_uuid[:8], str(uuidlib.uuid4()))
        copy_image(self.pristine, self.guest.image(a))
        self.managed = ManagedLinuxPath(self, a, b, self.guest)
        template = self.managed.setup()
        self.qemu_argv = template
        if p2p is not None:
            p2p.setup()
            self.p2p_setup = p2p
        copy_image(self.pristine, os.path.join(self.tmp, 'raw-A', 'disk.qcow2'))
        self.raw = RawLinuxPath(self, template)
        if 'raw' in self.args.paths:
            self.raw.boot()
            self.paths.append(self.raw)
        self.paths.append(self.managed)
        if p2p is not None:
            self.paths.append(P2PLinuxPath(self, a, b, self.guest))
        for key, ip in (('managed', self.managed_ip), ('raw', self.raw_ip)):
            self.pingers[key] = Pinger(ip, self.args.ping_interval, os.path.join(self.tmp, 'ping-%s.log' % key))
        self.wait_pings()

    def wait_pings(self):
        for key, p in self.pingers.items():
            harness.wait_until(lambda: len(p.answers()) >= 3, 60, 'the %s guest to answer pings' % key, poll=0.2)

    def cleanup(self):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for p in self.pingers.values():
                with contextlib.suppress(Exception):
                    p.stop()
            if self.raw is not None:
                with contextlib.suppress(Exception):
                    self.raw.close()
            if self.p2p_setup is not None:
                with contextlib.suppress(Exception):
                    self.p2p_setup.close()
            for h in self.hosts:
                with contextlib.suppress(Exception):
                    h.stop()
                with contextlib.suppress(Exception):
                    h.display_ports.release()
            if self.guest is not None:
                kill_qemus([self.guest.uuid])
            kill_qemus([self.raw_uuid])
            if self.bridge is not None:
                self.bridge.remove()
            if self.ports is not None:
                self.ports.release()
            if self.tmp is not None:
                if self.args.keep_temp:
                    log('kept %s' % self.tmp)
                else:
                    shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    # -- runs

    def outage(self, key, r):
        """The ping gap of @key's guest at the moment it stopped (r's
        stop_wall), and the longest gap of the run; waits for the answers to
        resume."""
        p = self.pingers[key]
        deadline = now() + 30
        while now() < deadline:
            longest = p.gap(*r['window'])
            # The middle of the guest's standstill: no answer can come then.
            mark = (r['stop_wall'] + r['resume_wall']) / 2 if r.get('stop_wall') and r.get('resume_wall') \
                else r.get('stop_wall')
            at_stop = p.gap_at(mark) if mark else None
            if longest is not None and (at_stop is not None or not r.get('stop_wall')):
                r['longest_gap_s'], r['longest_gap_start_wall'] = longest
                if at_stop is not None:
                    r['outage_s'], r['outage_start_wall'] = at_stop
                return
            time.sleep(0.2)

    def one(self, path, rnd):
        r = {'path': path.key, 'round': rnd}
        try:
            path.run(r)
        except (BenchError, GLib.Error, OSError, subprocess.CalledProcessError) as e:
            msg = e.message if isinstance(e, GLib.Error) else str(e)
            log('%s round %d FAILED: %s' % (path.label, rnd, msg))
            for h in self.hosts:
                h.check_alive()
            self.failures.append({'path': path.key, 'round': rnd, 'error': msg})
            return None
        self.outage('raw' if path.key == 'raw' else 'managed', r)
        self.results.append(r)
        log('%-24s round %d %s: %.2f s, disk phase %s s, downtime %s ms, ping outage %s ms%s' % (
            path.label, rnd, r['direction'], r['total_s'], fmt(r.get('disk_phase_s'), 2),
            fmt(r.get('qemu_downtime_s'), 0, 1e3), fmt(r.get('outage_s'), 0, 1e3),
            '' if r['verified'] else ' NOT VERIFIED: ' + r['verify_note']) +
            ' (longest gap %s ms)' % fmt(r.get('longest_gap_s'), 0, 1e3))
        return r

    def convert(self, rnd):
        """`qemu-img convert` of the same image (the pristine copy, same data)
        to a qemu-nbd serving a freshly created destination image, both with
        cache=none as the guest's disk. Timed: the convert process."""
        dst = os.path.join(self.tmp, 'convert', 'disk.qcow2')
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dst)
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', dst, str(self.disk_size)], check=True)
        port = self.ports.port_max
        nbd = subprocess.Popen(['qemu-nbd', '-f', 'qcow2', '--cache=none', '-b', '127.0.0.1', '-p', str(port),
                                '-x', 'vda', '--persistent', dst], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            harness.wait_until(lambda: port_open(port) or nbd.poll() is not None, 30, 'qemu-nbd', poll=0.02)
            if nbd.poll() is not None:
                raise BenchError('qemu-nbd exited: %s' % nbd.stderr.read().decode(errors='replace'))
            t0 = now()
            subprocess.run(['qemu-img', 'convert', '-n', '-f', 'qcow2', '-T', 'none', '-O', 'raw', self.pristine,
                            'nbd://127.0.0.1:%d/vda' % port], check=True)
            t = now() - t0
        finally:
            nbd.terminate()
            nbd.wait(30)
        r = {'path': 'convert', 'round': rnd, 'total_s': t, 'disk_phase_s': t}
        self.results.append(r)
        log('qemu-img convert          round %d: %.2f s (%.0f MiB/s)' % (rnd, t, (self.disk_size >> 20) / t))

    def run(self):
        steps = [lambda rnd, p=p: self.one(p, rnd) for p in self.paths] + [self.convert]
        for i in range(self.args.warmup):
            for p in self.paths:
                r = self.one(p, -1 - i)
                if r is not None:
                    self.results.remove(r)
        self.load_before = os.getloadavg()
        for rnd in range(self.args.runs):
            order = steps if rnd % 2 == 0 else list(reversed(steps))
            for step in order:
                step(rnd)
        self.load_after = os.getloadavg()


def port_open(port):
    import socket
    with contextlib.suppress(OSError), socket.create_connection(('127.0.0.1', port), timeout=0.2):
        return True
    return False


def fmt(v, digits, scale=1.0):
    return '-' if v is None else '%.*f' % (digits, v * scale)
