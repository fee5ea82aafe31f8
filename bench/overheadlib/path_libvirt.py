"""Path (d): the same guest moved by libvirt, `virsh migrate --live --p2p`
between two libvirtd (lvhosts), what a user would pick instead of us."""

import contextlib
import os
import re
import subprocess
import uuid as uuidlib

from .common import BenchError, harness, log, now
from .guests import memory_backing
from .lvhosts import VIRSH, LibvirtPair, missing
from .processes import kill_qemus
from .serial import verify_moved, wait_serial

# Only what the guest needs: libvirt adds a USB controller and a balloon to a
# pc guest unless told not to; the other paths' QEMU has neither.
NO_EXTRA_DEVICES = "    <controller type='usb' model='none'/>\n    <memballoon model='none'/>"


class LibvirtPath:
    """(d) libvirt: `virsh migrate --live --p2p --xml DEST.xml NAME
    qemu+tcp://DEST/system` from the bench's namespace to the source libvirtd's
    unix socket; the source daemon drives the destination over TCP.

    The guest (same kernel, command line and memory size as the other paths,
    its own UUID, TCG or KVM as they are) is started transient on host lvA and
    then moves back and forth. The destination XML differs only in the
    console's file (a new one per hop, as on the other paths). Timed: from
    spawning virsh to its exit (virsh returns after the source's Confirm; the
    guest then runs at the destination)."""

    key = 'libvirt'
    label = '(d) libvirt virsh --p2p'

    def __init__(self, bench):
        self.bench = bench
        self.pair = None
        self.uuids = {}               # guest kind -> this path's own UUID of the guest
        self.where = {}               # guest kind -> LibvirtHost it runs on
        self.serial_now = {}
        self.hops = 0
        self.why_not = missing()

    def available(self):
        if self.why_not is not None:
            return False, self.why_not
        return True, ''

    def supports(self, case):
        # virsh's post-copy switch (--postcopy-after-precopy) is not the
        # other paths' "switch after N s": not compared.
        return not case.postcopy

    def setup(self):
        self.pair = LibvirtPair(self.bench.tmp)
        self.pair.start()
        a, b = self.pair.hosts
        log('path (d): libvirtd %s (%s, netns %s) and %s (%s, netns %s); %s'
            % (a.name, a.addr, a.netns, b.name, b.addr, b.netns, self.version()))

    def version(self):
        with contextlib.suppress(BenchError):
            out = self.pair.hosts[0].virsh('version', '--daemon')
            m = re.search(r'Running against daemon: (\S+)', out)
            return 'libvirt %s' % (m.group(1) if m else '?')
        return 'libvirt ?'

    def close(self):
        if self.pair is not None:
            for h in self.pair.hosts:
                for kind, u in self.uuids.items():
                    with contextlib.suppress(Exception):
                        h.virsh('destroy', u, timeout=30)
            kill_qemus(list(self.uuids.values()))
            self.pair.stop()
            self.pair = None

    def other(self, host):
        a, b = self.pair.hosts
        return b if host is a else a

    def xml(self, guest, serial):
        u = self.uuids.setdefault(guest.kind, str(uuidlib.uuid4()))
        return harness.guest_xml('lv-%s-%s' % (guest.kind, u[:8]), u, serial, memory_mib=guest.memory_mib,
                                 kernel=os.path.abspath(self.bench.kernel), cmdline=guest.cmdline,
                                 virt_type=self.bench.domain_type, devices_extra=NO_EXTRA_DEVICES,
                                 memory_backing=memory_backing(self.bench))

    def write_xml(self, guest, serial):
        self.hops += 1
        path = os.path.join(self.bench.tmp, 'lv-%s-%d.xml' % (guest.kind, self.hops))
        with open(path, 'w') as f:
            f.write(self.xml(guest, serial))
        return path

    def boot(self, guest):
        """(Again) on lvA, after a failed run or for the first."""
        u = self.uuids.get(guest.kind)
        if u is not None:
            for h in self.pair.hosts:
                with contextlib.suppress(BenchError):
                    h.virsh('destroy', u, timeout=30)
            kill_qemus([u])
        a = self.pair.hosts[0]
        serial = os.path.join(self.bench.tmp, 'serial-lv-%s-boot%d.log' % (guest.kind, self.hops + 1))
        a.virsh('create', self.write_xml(guest, serial))
        wait_serial(serial, 1, self.bench.min_pass(guest), self.bench.deadlines.boot_s, alive=a.check_alive,
                    what='the libvirt source guest')
        self.where[guest.kind] = a
        self.serial_now[guest.kind] = serial

    def run(self, case, guest):
        r = {'path': self.key, 'case': case.key, 'booted': guest.kind not in self.where}
        if r['booted']:
            self.boot(guest)
        src = self.where[guest.kind]
        dst = self.other(src)
        u = self.uuids[guest.kind]
        r['direction'] = '%s->%s' % (src.name, dst.name)
        src_serial = self.serial_now[guest.kind]
        wait_serial(src_serial, 1, self.bench.min_pass(guest), self.bench.deadlines.boot_s, alive=src.check_alive,
                    what='the libvirt source guest')
        dst_serial = os.path.join(self.bench.tmp, 'serial-lv-%s-hop%d.log' % (guest.kind, self.hops + 1))
        dest_xml = self.write_xml(guest, dst_serial)
        src_pids = harness.find_qemu_pids(u)
        if len(src_pids) != 1:
            raise BenchError('expected one QEMU of the libvirt guest before the run, found %r' % src_pids)
        argv = [VIRSH, '-q', '-c', src.uri, 'migrate', '--live', '--p2p', '--xml', dest_xml]
        if case.multifd:
            argv += ['--parallel', '--parallel-connections', str(case.multifd)]
        argv += [u, dst.tcp_uri]
        self.where.pop(guest.kind, None)      # unknown until the run is through
        # ---- timed section
        t0 = now()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=self.bench.deadlines.call_s)
        t1 = now()
        # ---- end of the timed section
        if p.returncode != 0:
            src.check_alive()
            dst.check_alive()
            raise BenchError('virsh migrate failed (%d): %s' % (p.returncode, (p.stderr or p.stdout).strip()))
        state = dst.virsh('domstate', u).strip()
        if state != 'running':
            raise BenchError('the libvirt guest is %r at the destination after virsh migrate' % state)
        r.update({'total_s': t1 - t0, 'to_destination_running_s': t1 - t0, 'dest_downtime_s': None,
                  'client_pause_s': None, 'postcopy_switched': False})
        r.update(self.jobinfo(dst, u))
        r['verified'], r['verify_note'], r['source_last_counter'], r['destination_first_counter'] = \
            verify_moved(src_serial, dst_serial, guest.kind != 'idle', src_pids=src_pids,
                             timeout=self.bench.deadlines.verify_s)
        self.serial_now[guest.kind] = dst_serial
        # The guest prints MEMORY CORRUPT once per boot and a damaged guest
        # proves nothing more: the next run boots it again (as bench/soak).
        if r['verified']:
            self.where[guest.kind] = dst
        return r

    def jobinfo(self, host, u):
        """libvirt's own figures of the completed incoming job (outside the
        clock): the source's record goes with the transient domain."""
        out = host.virsh('domjobinfo', '--completed', u)
        info = {}
        for line in out.splitlines():
            k, _, v = line.partition(':')
            info[k.strip()] = v.strip()

        def num(key, scale=1.0):
            m = re.match(r'([0-9.]+)\s*(\S*)', info.get(key, ''))
            if not m:
                return None
            units = {'B': 1, 'KiB': 1024, 'MiB': 1 << 20, 'GiB': 1 << 30}
            return float(m.group(1)) * units.get(m.group(2), 1) * scale
        return {'qemu_downtime_s': num('Total downtime', 1e-3),
                'libvirt_elapsed_s': num('Time elapsed', 1e-3),
                'transferred_bytes': num('Data processed'),
                'iterations': num('Iteration')}
