"""--linux-guest: what its runs share. The Linux test guest (tests/linux-guest,
fetched with apt and cached), a test bridge with an address on the host, the
1 GiB qcow2 image with data in it, a tap for the raw QEMUs, the guest's
console ticks and the pingers whose gaps are the network outage."""

import fcntl
import os
import re
import shutil
import struct
import subprocess
import sys

from .common import SOURCE_ROOT, BenchError, harness, now

sys.path.append(os.path.join(SOURCE_ROOT, 'tests', 'linux-guest'))
import linuxguest  # noqa: E402

SKIP = 77
# 256 MiB, as tests/integration/linux-guest; the kernel's console quiet.
MEMORY_MIB = 256
CMDLINE = 'console=ttyS0 quiet panic=-1'
TICKS_AT_BOOT = 3
TICKS_AFTER_MOVE = 3


class Skip(Exception):
    """A dependency is missing: the benchmark says which and exits 77."""


def check_tools():
    if os.geteuid() != 0:
        raise Skip('--linux-guest needs root: it creates a bridge and taps (run it as root)')
    for tool in ('qemu-img', 'qemu-nbd', 'ping', 'ip'):
        if not shutil.which(tool):
            raise Skip('%s is missing (tools/quickstart installs it)' % tool)
    if not os.path.exists('/dev/net/tun'):
        raise Skip('/dev/net/tun is missing: no taps here')


def linux_guest():
    """(cache directory, stamp, lock fd) of the Linux test guest, built if missing."""
    try:
        cache, lock_fd = linuxguest.ensure(log=lambda m: print('overhead: %s' % m, file=sys.stderr, flush=True))
    except linuxguest.Unavailable as e:
        raise Skip('the Linux test guest cannot be fetched with apt: %s' % e) from None
    return cache, linuxguest.stamp(cache), lock_fd


def disk_xml(path):
    return ("    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2' cache='none'/>\n"
            "      <source file='%s'/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>" % path)


def nic_xml(bridge, mac):
    return ("    <interface type='bridge'><mac address='%s'/><source bridge='%s'/>"
            "<model type='virtio'/></interface>" % (mac, bridge))


VNC_XML = "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"


class Bridge:
    """A Linux bridge of the benchmark (mdbench-brN), up, with 10.214.N.1/24."""

    def __init__(self):
        for n in range(100):
            name = 'mdbench-br%d' % n
            if subprocess.run(['ip', 'link', 'add', name, 'type', 'bridge'],
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
        else:
            raise BenchError('no free mdbench-brN bridge name')
        self.name = name
        self.subnet = '10.214.%d' % n
        subprocess.run(['ip', 'addr', 'add', self.subnet + '.1/24', 'dev', name], check=True)
        subprocess.run(['ip', 'link', 'set', name, 'up'], check=True)

    def remove(self):
        subprocess.run(['ip', 'link', 'del', self.name], stderr=subprocess.DEVNULL)


TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000


def tap_on_bridge(bridge, guest_mac):
    """A new tap attached to @bridge, up, as migrationd makes one for
    <interface type='bridge'> (same flags, MAC fe:+the guest's last five
    octets); returns its fd (the tap goes when the fd and QEMU's copy close)."""
    fd = os.open('/dev/net/tun', os.O_RDWR)
    try:
        ifr = struct.pack('16sH22x', b'mdbtap%d', IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
        name = fcntl.ioctl(fd, TUNSETIFF, ifr)[:16].rstrip(b'\0').decode()
        mac = 'fe:' + guest_mac.split(':', 1)[1]
        subprocess.run(['ip', 'link', 'set', 'dev', name, 'address', mac, 'master', bridge, 'up'], check=True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_image(path, size, log):
    """A qcow2 image of @size bytes, every byte written: pseudo-random data
    from /dev/urandom (incompressible, no zero blocks that a copy could
    skip), so both copies move all of it."""
    raw = path + '.raw'
    t = now()
    with open('/dev/urandom', 'rb') as src, open(raw, 'wb') as out:
        left = size
        while left:
            chunk = src.read(min(left, 4 << 20))
            out.write(chunk)
            left -= len(chunk)
    subprocess.run(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path], check=True)
    os.unlink(raw)
    log('image %s: %d MiB of /dev/urandom data in qcow2 (%.1f s)' % (path, size >> 20, now() - t))


def copy_image(src, dst):
    subprocess.run(['cp', '--sparse=never', src, dst], check=True)


class Console(linuxguest.TickLog):
    """The guest's console (linuxguest.TickLog), waited on by the bench."""

    def wait_ticks(self, count, timeout, after=0, alive=None):
        def enough():
            if alive is not None:
                alive()
            return len([t for t in self.ticks() if t[0] > after]) >= count
        try:
            harness.wait_until(enough, timeout, '%d ticks after %d in %s' % (count, after, self.path), poll=0.1)
        except harness.WaitTimeout as e:
            raise BenchError('%s; console ends %r' % (e, self.text()[-400:])) from None
        return self.ticks()


def verify_move(src_console, dst_path, timeout, alive=None):
    """After a move: the ticks go on at the destination from the source's
    last, one boot, all OK. Returns (verified, note, destination console)."""
    ticks = src_console.ticks()
    last, boot = ticks[-1][0], ticks[-1][3]
    dst = Console(dst_path, prefix=src_console.tail())
    after = dst.wait_ticks(TICKS_AFTER_MOVE, timeout, after=last, alive=alive)
    after = [t for t in after if t[0] > last]
    if after[0][0] != last + 1:
        return False, 'the ticks at the destination start at %d, the source ended at %d' % (after[0][0], last), dst
    bad = [t for t in after if t[1:3] != ('OK', 'OK') or t[3] != boot]
    if bad:
        return False, 'the guest reports %r' % (bad[0],), dst
    return True, '', dst


class Pinger:
    """`ping -D -i INTERVAL` to a guest for the whole benchmark; gap(w0, w1)
    is the longest time between two answers around a run's wall-clock window."""

    def __init__(self, ip, interval, path):
        self.path = path
        self.out = open(path, 'w')
        self.proc = subprocess.Popen(['ping', '-D', '-n', '-i', '%g' % interval, '-W', '1', ip],
                                     stdout=self.out, stderr=subprocess.STDOUT)

    def answers(self):
        self.out.flush()
        with open(self.path) as f:
            return [float(m.group(1)) for m in re.finditer(r'^\[(\d+\.\d+)\] \d+ bytes from', f.read(), re.M)]

    def gap(self, w0, w1):
        """(length, start) of the longest gap between answers that ends after
        @w0 and starts before @w1 (wall clock, s), or None when the guest has
        not answered after @w1 yet."""
        times = self.answers()
        if not times or times[-1] < w1:
            return None
        return max(((b - a, a) for a, b in zip(times, times[1:]) if b >= w0 and a <= w1), default=(0.0, w0))

    def gap_at(self, t):
        """(length, start) of the gap between answers around @t (wall clock,
        s): the switch-over's outage when @t is the moment the guest stopped;
        None when the guest has not answered after @t yet."""
        times = self.answers()
        for a, b in zip(times, times[1:]):
            if a <= t < b:
                return b - a, a
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.out.close()
