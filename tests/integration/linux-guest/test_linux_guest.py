#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux test guest (tests/linux-guest: a Debian cloud kernel and a
busybox initramfs, fetched with apt and cached) under migrationd: it boots
with a virtio disk, and a managed live migration on a shared qcow2 disk
carries it whole, by its own account: the `tick N mem=OK disk=OK boot=ID`
lines go on at the destination from where the source stopped. The same
holds peer to peer (MigrateToURI3 with PEER2PEER through migration-bridge),
and without shared storage: a full copy (NON_SHARED_DISK), or only the top
image over a backing file both hosts share (NON_SHARED_INC)."""

import json

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import quoteattr

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(os.path.dirname(HERE))
for d in (os.path.join(TESTS, 'integration', 'migration'), os.path.join(TESTS, 'linux-guest'),
          os.path.join(TESTS, 'integration', 'p2p')):
    if d not in sys.path:
        sys.path.append(d)

import linuxguest  # noqa: E402
sys.path.append(os.path.join(TESTS, 'integration', 'devices'))
import test_devices as devices  # noqa: E402
import migtest  # noqa: E402
from migtest import LIVE, MIGRATION_DEADLINE, PEER2PEER, Managed, MigGuest, MigrationTestCase  # noqa: E402
import p2ptest  # noqa: E402
from p2ptest import P2PTestCase  # noqa: E402

NON_SHARED_DISK = 1 << 6
NON_SHARED_INC = 1 << 7
MIB = 1 << 20
# NON_SHARED_INC: what only the shared base holds, beyond the guest's area
# (its first MiBs): 0x11 in MiB 32..39.
BASE_AREA = (32 * MIB, 8 * MIB)
TLS = migtest.TLS

harness = migtest.harness

# 256 MiB (the daemon pads it off QEMU 7.2's TCG dirty-bitmap grid); a quiet
# kernel; each tick checks 4 MiB of tmpfs and 4 MiB of the disk.
MEMORY_MIB = 256
CMDLINE = 'console=ttyS0 quiet panic=-1'
TICKS_AT_BOOT = 5
TICKS_AFTER_MOVE = 5

GUEST = None   # (cache directory, stamp), set before the tests run


class TickLog(linuxguest.TickLog):
    """The guest's console (linuxguest.TickLog), waited on."""

    def wait_ticks(self, count, timeout, after=0):
        """Waits for @count tick lines numbered above @after; returns them all."""
        def enough():
            return len([t for t in self.ticks() if t[0] > after]) >= count
        try:
            harness.wait_until(enough, timeout, '%d ticks after %d in %s' % (count, after, self.path), poll=0.1)
        except harness.WaitTimeout as e:
            raise harness.WaitTimeout('%s; console ends %r' % (e, self.text()[-600:])) from None
        return self.ticks()


def disk_xml(path):
    """A qcow2 virtio disk, shared by both hosts (the same path)."""
    return ("    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2' cache='none'/>\n"
            "      <source file=%s/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>" % quoteattr(path))


class GuestChecks:
    """The Linux guest's checks, for a test case with two hosts (managed or
    peer to peer): boot it, follow its ticks across a move, its NIC."""

    def setUp(self):
        super().setUp()
        cache, info = GUEST
        sys.stderr.write('[linux-guest] %s %s, busybox %s, initrd %d KiB (%s)\n' % (
            info['kernel_package'], info['kernel_version'], info['busybox_version'],
            info['initrd_bytes'] // 1024, cache))
        self.disk = os.path.join(self.workdir, 'disk.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', self.disk, '64M'], check=True)

    def boot(self, devices_extra='', cmdline_extra='', host=None):
        """Defines and starts the guest on @host (the source by default);
        waits for its first ticks, all OK with the disk. Returns (guest,
        console, boot id)."""
        cache, _ = GUEST
        g = MigGuest(self, host or self.src, start=False, memory_mib=MEMORY_MIB, cmdline=CMDLINE + cmdline_extra,
                     kernel=os.path.join(cache, 'vmlinuz'), initrd=os.path.join(cache, 'initrd.img'),
                     devices_extra=disk_xml(self.disk) + devices_extra)
        log = TickLog(g.serial.path)
        started = time.monotonic()
        g.dom().start()
        # TCG boots it in 5-10 s on an idle machine; generous for a busy one.
        ticks = log.wait_ticks(TICKS_AT_BOOT, harness.BOOT_DEADLINE)
        sys.stderr.write('[linux-guest] %d ticks %.1f s after Start\n'
                         % (TICKS_AT_BOOT, time.monotonic() - started))
        self.assertEqual(len(log.headers()), 1, 'the guest booted more than once: %r' % log.headers())
        self.assertIn('disk=/dev/vda', log.headers()[0], 'the guest did not find its disk')
        self.assert_ok(ticks, 'at boot')
        boots = {t[3] for t in ticks}
        self.assertEqual(len(boots), 1, boots)
        return g, log, boots.pop()

    def assert_ok(self, ticks, where):
        self.assertEqual([t[0] for t in ticks], list(range(ticks[0][0], ticks[0][0] + len(ticks))),
                         'the ticks do not rise by one %s' % where)
        bad = [t for t in ticks if t[1:3] != ('OK', 'OK')]
        self.assertFalse(bad, 'the guest found its memory or disk changed %s: %r' % (where, bad[:3]))

    def arrived(self, g, log, boot, src_pid, dst, dst_path):
        """After a move of @g to @dst (console @dst_path): the ticks go on
        there from the source's last, same boot, all OK; the source QEMU
        (@src_pid) exits. Returns the destination's console."""
        g.serials.append(harness.SerialLog(dst_path))
        g.host = dst
        last = log.ticks()[-1][0]
        dlog = TickLog(dst_path, prefix=log.tail())
        ticks = dlog.wait_ticks(TICKS_AFTER_MOVE, MIGRATION_DEADLINE, after=last)
        self.assertFalse(dlog.headers(), 'the guest booted again on %s' % dst.name)
        self.assertEqual(ticks[0][0], last + 1, 'the ticks on %s do not go on from the source\'s last (%d)'
                         % (dst.name, last))
        self.assert_ok(ticks, 'on %s' % dst.name)
        self.assertEqual({t[3] for t in ticks}, {boot}, 'another boot of the guest runs on %s' % dst.name)
        harness.wait_until(lambda: not harness.pid_alive(src_pid), harness.DEADLINE,
                           'the source QEMU (pid %d) to exit' % src_pid)
        dom = g.dom(dst)
        self.assertEqual(dom.prop('State'), 'running')
        sys.stderr.write('[linux-guest] on %s: ticks %d..%d OK\n' % (dst.name, ticks[0][0], ticks[-1][0]))
        return dlog

    def source_pid(self, g):
        pids = g.qemu_pids()
        self.assertEqual(len(pids), 1, pids)
        return pids[0]

    def bridge_nic(self):
        """A test bridge with an address of its own: (devices XML of a
        virtio NIC on it and a VNC display, kernel arguments, guest IP)."""
        bridge = devices.make_bridge(self)
        subnet = '10.213.%d' % int(bridge.rsplit('br', 1)[1])
        subprocess.run(['ip', 'addr', 'add', subnet + '.1/24', 'dev', bridge], check=True)
        extra = '\n' + devices.nic_xml(bridge) + '\n' + devices.VNC_XML
        return bridge, extra, ' mdguest.ip=%s.2/24' % subnet, subnet + '.2'

    def assert_at(self, g, host, bridge):
        """After a move to @host: one tap on @bridge, VNC answers there."""
        ports = devices.bridge_ports(bridge)
        self.assertEqual(len(ports), 1, 'taps on %s after the move: %r' % (bridge, ports))
        port = devices.graphics_port(g.dom(host).xml())
        self.assertTrue(devices.rfb_banner(port).startswith(b'RFB '))

    def overlay_on_base(self):
        """NON_SHARED_INC: the guest's disk becomes an overlay on a base image
        both hosts share (the same path) that holds BASE_AREA. Returns the base."""
        base = os.path.join(self.workdir, 'shared-base.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '64M'], check=True)
        subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x11 %d %d' % BASE_AREA, base], check=True,
                       stdout=subprocess.DEVNULL)
        os.unlink(self.disk)
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', self.disk], check=True)
        return base

    def disk_elsewhere(self, host):
        """The image path the destination XML names on @host (a directory of its own)."""
        d = os.path.join(self.workdir, 'disk-' + host.name)
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, 'disk.qcow2')

    def assert_top_only(self, image, base):
        """@image (in use) is an overlay on @base that holds only what the guest wrote:
        BASE_AREA is not in it, and reads through it from the base."""
        info = json.loads(subprocess.run(['qemu-img', 'info', '-U', '--output=json', image], check=True,
                                         capture_output=True, text=True).stdout)
        self.assertEqual((info.get('full-backing-filename'), info.get('backing-filename-format')), (base, 'qcow2'),
                         info)
        out = subprocess.run(['qemu-img', 'map', '-U', '--output=json', image], check=True, capture_output=True,
                             text=True).stdout
        own = [(e['start'], e['length']) for e in json.loads(out) if e['depth'] == 0 and e['data']]
        self.assertTrue(own, 'nothing of the guest\'s writes reached %s' % image)
        start, length = BASE_AREA
        self.assertFalse([e for e in own if e[0] < start + length and e[0] + e[1] > start],
                         'the base\'s area was copied into %s: %r' % (image, own))
        self.assertLessEqual(sum(e[1] for e in own), 16 * MIB, own)
        read = subprocess.run(['qemu-io', '-r', '-U', '-f', 'qcow2', '-c', 'read -P 0x11 %d %d' % BASE_AREA,
                               image], capture_output=True, text=True)
        self.assertEqual((read.returncode, 'Pattern verification failed' in read.stdout), (0, False),
                         read.stdout + read.stderr)
        sys.stderr.write('[linux-guest] %s: %d KiB of its own on %s\n' % (image, sum(e[1] for e in own) // 1024,
                                                                         base))

    def assert_pings(self, ip, where):
        def answered():
            return subprocess.run(['ping', '-c', '1', '-W', '1', ip], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode == 0
        harness.wait_until(answered, harness.DEADLINE, 'the guest to answer pings %s' % where, poll=0.5)


class LinuxGuest(GuestChecks, MigrationTestCase):

    def move(self, g, log, boot, src, dst, flags=LIVE, disk=None, params=None, after_prepare=None):
        """A managed live migration of @g from @src to @dst (the five
        phases); checks the ticks go on at the destination. With @disk
        (source path, destination path) the destination XML names another
        image; @params go to every phase; @after_prepare() runs between
        Prepare3 and Perform3. Returns the destination's console."""
        src_pid = self.source_pid(g)
        dst_path = g.next_serial_path()
        dest_xml = g.xml(serial_path=dst_path)
        if disk:
            dest_xml = dest_xml.replace(disk[0], disk[1])
        m = Managed(self, g, src, dst, flags=flags, dest_xml=dest_xml, phase_params=params)
        m.begin()
        m.prepare()
        if after_prepare:
            after_prepare()
        perform = m.perform_start()
        m.perform_wait()
        m.finish()
        m.confirm()
        sys.stderr.write('[linux-guest] %s -> %s: Perform3 took %.1f s\n' % (src.name, dst.name, perform.elapsed))
        return self.arrived(g, log, boot, src_pid, dst, dst_path)

    def test_boots(self):
        """The Linux guest boots from its kernel and initrd with a virtio disk and ticks OK."""
        g, log, _ = self.boot()
        before = log.ticks()[-1][0]
        ticks = log.wait_ticks(3, harness.DEADLINE, after=before)
        self.assert_ok(ticks, 'while running')
        g.destroy()

    def test_live_shared_disk(self):
        """A -> B -> A managed live migration on a shared qcow2: ticks go on, same boot, memory and disk OK."""
        g, log, boot = self.boot()
        dlog = self.move(g, log, boot, self.src, self.dst)
        self.move(g, dlog, boot, self.dst, self.src)
        g.destroy()

    def test_live_nonshared_disk(self):
        """A -> B -> A with NON_SHARED_DISK, each host its own image: B's is created and filled
        by the copy, the guest's disk verdicts stay OK on every tick after each move."""
        g, log, boot = self.boot()
        b_dir = os.path.join(self.workdir, 'host-b')
        os.makedirs(b_dir)
        disk_b = os.path.join(b_dir, 'disk.qcow2')
        dlog = self.move(g, log, boot, self.src, self.dst, LIVE | NON_SHARED_DISK, (self.disk, disk_b))
        self.assertTrue(os.path.exists(disk_b))
        self.move(g, dlog, boot, self.dst, self.src, LIVE | NON_SHARED_DISK, (disk_b, self.disk))
        g.destroy()

    def test_live_nonshared_inc(self):
        """A -> B -> A with NON_SHARED_INC over a shared base, NIC on a bridge, VNC: B's overlay is created
        on the base and gets only the top; pings and the guest's verdicts OK after each move."""
        base = self.overlay_on_base()
        bridge, extra, cmdline, guest_ip = self.bridge_nic()
        g, log, boot = self.boot(extra, cmdline)
        self.assert_pings(guest_ip, 'before the move')
        pinger = Pinger(guest_ip)
        self.addCleanup(pinger.stop)
        disk_b = self.disk_elsewhere(self.dst)
        dlog = self.move(g, log, boot, self.src, self.dst, LIVE | NON_SHARED_INC, (self.disk, disk_b))
        self.assert_pings(guest_ip, 'on the destination')
        self.assert_at(g, self.dst, bridge)
        self.assert_top_only(disk_b, base)
        self.move(g, dlog, boot, self.dst, self.src, LIVE | NON_SHARED_INC, (disk_b, self.disk))
        self.assert_pings(guest_ip, 'back on the source')
        self.assert_top_only(self.disk, base)
        sys.stderr.write('[linux-guest] longest ping gap over both moves: %d ms\n' % pinger.stop())
        g.destroy()

    def test_live_bridge_nic(self):
        """A -> B -> A with a virtio NIC on a bridge and VNC: pings answered before and after each move."""
        bridge, extra, cmdline, guest_ip = self.bridge_nic()
        g, log, boot = self.boot(extra, cmdline)
        self.assert_pings(guest_ip, 'before the move')
        pinger = Pinger(guest_ip)
        self.addCleanup(pinger.stop)
        dlog = self.move(g, log, boot, self.src, self.dst)
        self.assert_pings(guest_ip, 'on the destination')
        self.assert_at(g, self.dst, bridge)
        self.move(g, dlog, boot, self.dst, self.src)
        self.assert_pings(guest_ip, 'back on the source')
        sys.stderr.write('[linux-guest] longest ping gap over both moves: %d ms\n' % pinger.stop())
        g.destroy()


class LinuxGuestTls(GuestChecks, MigrationTestCase):
    """Managed migrations with the TLS flag: the source has [tls] with
    host-a's certificate, the destination host-b's, both of the test CA."""

    move = LinuxGuest.move

    def setUp(self):
        # The hosts' configuration names the certificates, so they exist first.
        d = tempfile.mkdtemp(prefix='md-pki-')
        os.chmod(d, 0o755)
        self.addCleanup(shutil.rmtree, d, True)
        self.pki = p2ptest.Pki(d)
        self.source_config = {'tls': self.pki.tls('host-a')}
        self.destination_config = {'tls': self.pki.tls('host-b')}
        super().setUp()

    def client_tls_dir(self):
        """host-a's certificate as QEMU's x509 client credentials want it."""
        d = os.path.join(self.workdir, 'probe-tls')
        os.makedirs(d, exist_ok=True)
        for name, src in (('ca-cert.pem', self.pki.path('ca')), ('client-cert.pem', self.pki.path('host-a')),
                          ('client-key.pem', self.pki.path('host-a', 'key'))):
            shutil.copy(src, os.path.join(d, name))
        return d

    def assert_nbd_needs_tls(self, port):
        """The destination's NBD server on @port refuses a plain client and
        lets one with a certificate of the hosts' CA read the export."""
        opts = 'driver=nbd,host=127.0.0.1,port=%d,export=vda' % port
        plain = subprocess.run(['qemu-img', 'info', '--image-opts', opts], capture_output=True, text=True,
                               timeout=120)
        self.assertNotEqual(plain.returncode, 0, 'a plain NBD client read the disk export: %s' % plain.stdout)
        self.assertIn('TLS', plain.stderr, 'the plain client was refused for another reason')
        tls = subprocess.run(['qemu-img', 'info', '--object',
                              'tls-creds-x509,id=probe,endpoint=client,dir=' + self.client_tls_dir(),
                              '--image-opts', opts + ',tls-creds=probe'], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(tls.returncode, 0, 'the TLS client was refused: ' + tls.stderr)
        self.assertIn('64 MiB', tls.stdout)
        sys.stderr.write('[linux-guest] NBD on port %d: plain refused (%s), TLS client reads the export\n'
                         % (port, plain.stderr.strip().splitlines()[-1]))

    def test_live_nonshared_disk_tls(self):
        """A -> B -> A with NON_SHARED_DISK|TLS and disks_port: the destination's NBD server listens
        on that port and takes only TLS clients of the hosts' CA; the guest's verdicts stay OK."""
        g, log, boot = self.boot()
        b_dir = os.path.join(self.workdir, 'host-b')
        os.makedirs(b_dir)
        disk_b = os.path.join(b_dir, 'disk.qcow2')
        flags = LIVE | NON_SHARED_DISK | TLS
        port = free_port()
        dlog = self.move(g, log, boot, self.src, self.dst, flags, (self.disk, disk_b),
                         params={'disks_port': ('i', port)}, after_prepare=lambda: self.assert_nbd_needs_tls(port))
        self.assertTrue(os.path.exists(disk_b))
        port = free_port()
        self.move(g, dlog, boot, self.dst, self.src, flags, (disk_b, self.disk), params={'disks_port': ('i', port)},
                  after_prepare=lambda: self.assert_nbd_needs_tls(port))
        g.destroy()


def free_port():
    """A TCP port nothing listens on now (the kernel's choice, outside the hosts' ranges)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class LinuxGuestP2P(GuestChecks, P2PTestCase):
    """Peer to peer: the source's migrationd drives the destination through
    its migration-bridge (mutual TLS); one MigrateToURI3 call per move."""

    def move(self, g, log, boot, src, dst, flags=LIVE | PEER2PEER, disk=None):
        """MigrateToURI3(@flags) of @g from @src to @dst's bridge; checks the
        ticks go on there. With @disk (source path, destination path) the
        destination XML names another image. Returns the destination's
        console."""
        self.bridge(dst)
        src_pid = self.source_pid(g)
        dst_path = g.next_serial_path()
        dest_xml = g.xml(serial_path=dst_path)
        if disk:
            dest_xml = dest_xml.replace(disk[0], disk[1])
        pending, _ = self.migrate(g, src, dst, flags=flags, params={'destination_xml': ('s', dest_xml)})
        sys.stderr.write('[linux-guest] %s -> %s: MigrateToURI3 took %.1f s\n' % (src.name, dst.name, pending.elapsed))
        dlog = self.arrived(g, log, boot, src_pid, dst, dst_path)
        self.assertEqual(len(g.qemu_pids()), 1, 'QEMUs of the guest: %r' % g.qemu_pids())
        # Driven by the source daemon, not by a client.
        self.assertIn("Prepare3Params from peer '%s' through migration-bridge" % p2ptest.Pki.DN[src.cert],
                      self.daemon_log(dst))
        return dlog

    def test_p2p_bridge_nic(self):
        """A -> B -> A peer to peer, shared qcow2, NIC on a bridge, VNC: pings and verdicts OK after each move."""
        bridge, extra, cmdline, guest_ip = self.bridge_nic()
        g, log, boot = self.boot(extra, cmdline, host=self.a)
        self.assert_pings(guest_ip, 'before the move')
        pinger = Pinger(guest_ip)
        self.addCleanup(pinger.stop)
        dlog = self.move(g, log, boot, self.a, self.b)
        self.assert_pings(guest_ip, 'on host b')
        self.assert_at(g, self.b, bridge)
        self.move(g, dlog, boot, self.b, self.a)
        self.assert_pings(guest_ip, 'back on host a')
        sys.stderr.write('[linux-guest] longest ping gap over both moves: %d ms\n' % pinger.stop())
        g.destroy()


    def test_p2p_nonshared_inc(self):
        """A -> B -> A peer to peer with NON_SHARED_INC over a shared base, NIC on a bridge, VNC:
        only the top crosses; pings and the guest's verdicts OK after each move."""
        base = self.overlay_on_base()
        bridge, extra, cmdline, guest_ip = self.bridge_nic()
        g, log, boot = self.boot(extra, cmdline, host=self.a)
        self.assert_pings(guest_ip, 'before the move')
        pinger = Pinger(guest_ip)
        self.addCleanup(pinger.stop)
        disk_b = self.disk_elsewhere(self.b)
        flags = LIVE | PEER2PEER | NON_SHARED_INC
        dlog = self.move(g, log, boot, self.a, self.b, flags, (self.disk, disk_b))
        self.assert_pings(guest_ip, 'on host b')
        self.assert_at(g, self.b, bridge)
        self.assert_top_only(disk_b, base)
        self.move(g, dlog, boot, self.b, self.a, flags, (disk_b, self.disk))
        self.assert_pings(guest_ip, 'back on host a')
        self.assert_top_only(self.disk, base)
        sys.stderr.write('[linux-guest] longest ping gap over both moves: %d ms\n' % pinger.stop())
        g.destroy()


class Pinger:
    """ping -i 0.1 in the background; stop() gives the longest gap between answers in ms."""

    def __init__(self, ip):
        self.proc = subprocess.Popen(['ping', '-D', '-n', '-i', '0.1', '-W', '1', ip],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.gap = None

    def stop(self):
        if self.gap is None:
            self.proc.terminate()
            out, _ = self.proc.communicate(timeout=30)
            times = [float(m.group(1)) for m in re.finditer(r'^\[(\d+\.\d+)\] \d+ bytes from', out, re.M)]
            self.gap = int(max((b - a for a, b in zip(times, times[1:])), default=0) * 1000)
        return self.gap


def main():
    global GUEST
    if not (len(sys.argv) > 1 and sys.argv[1] == '--check-registered'):
        try:
            cache, lock_fd = linuxguest.ensure(log=lambda m: sys.stderr.write('[linux-guest] %s\n' % m))
        except linuxguest.Unavailable as e:
            sys.stderr.write('\n*** SKIP: the Linux test guest cannot be fetched with apt: %s ***\n\n' % e)
            sys.exit(harness.SKIP)
        GUEST = (cache, linuxguest.stamp(cache))
        # Held (shared) until the test exits: no concurrent run rebuilds it meanwhile.
        os.set_inheritable(lock_fd, False)
    migtest.main()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    main()
