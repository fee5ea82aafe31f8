"""The run loop: set-up of hosts, guests and paths, the alternating rounds,
the relayed-call measurement, and a clean-up that always runs."""

import contextlib
import os
import shutil
import signal
import tempfile

from .cases import build_cases
from .common import BenchError, Deadlines, GLib, harness, log, now
from .guests import Guest
from .guestsize import check_memory, check_ram_pad, memory_check_coverage
from .path_libvirt import LibvirtPath
from .path_managed import ManagedPath
from .path_p2p import RELAY_METHOD, PeerToPeerPath
from .path_raw import RawPath
from .busmon import BusMonitors
from .processes import kill_qemus


# --paths: the key of each path and its class (cli checks the option against it).
PATH_CLASSES = {'raw': RawPath, 'managed': ManagedPath, 'p2p': PeerToPeerPath, 'libvirt': LibvirtPath}

NO_LIBVIRT = 'NO LIBVIRT PATH'


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = None
        self.hosts = []
        self.paths = []
        self.guests = {}
        self.results = []            # every run's dict
        self.p2p = None
        self.libvirt = None
        self.no_libvirt = None       # why path (d) was asked for and cannot run
        self.relay = None            # path (c): the relayed call's latency
        self.failures = []
        self.monitors = None         # --count-messages
        self.daemon_path = args.daemon or os.path.join(args.build_dir, 'src', 'migrationd')
        self.kernel = args.kernel or os.path.join(args.build_dir, 'tests', 'guest', 'guest.elf')
        self.qemu = args.qemu
        if args.accel == 'auto':
            self.domain_type = harness.domain_type()
        else:
            self.domain_type = 'kvm' if args.accel == 'kvm' else 'qemu'
        self.cases = build_cases(args)
        self.deadlines = Deadlines(args.memory)
        self.memory_budget = None
        self.ram_kib = {}            # guest kind -> the RAM its QEMU gets (the TCG pad included)
        self.coverage = {}           # guest kind -> what its memory check covers

    def min_pass(self, guest):
        """A dirtying guest has rewritten its whole area once before the clock
        starts: the area is really dirty, not still zero pages."""
        return 1 if guest.kind == 'dirty' and self.args.dirty_wait_pass else 0

    def check_prerequisites(self):
        for what, path in (('migrationd', self.daemon_path), ('QEMU', self.qemu)):
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise BenchError('%s (%s) is not an executable; build it (ninja -C BUILD src/migrationd) '
                                 'or pass --build-dir/--daemon/--qemu' % (what, path))
        if not os.path.isfile(self.kernel):
            raise BenchError('the guest kernel %s is missing; build it: ninja -C BUILD tests/guest/guest.elf'
                             % self.kernel)
        if not os.access(harness.DBUS_DAEMON, os.X_OK):
            raise BenchError('dbus-daemon not found (Debian: apt-get install dbus-daemon)')
        if self.domain_type == 'kvm' and not harness.kvm_usable():
            raise BenchError('--accel kvm, but /dev/kvm is not usable here')

    def setup(self):
        self.check_prerequisites()
        self.tmp = os.path.abspath(tempfile.mkdtemp(prefix='migrationd-overhead-', dir=self.args.tmp_dir))
        needed = {c.guest for c in self.cases}
        if 'idle' in needed:
            self.guests['idle'] = Guest(self, 'idle', 'dirty=0')
        if 'dirty' in needed:
            self.guests['dirty'] = Guest(self, 'dirty', 'dirty=%s' % self.args.dirty)
        for key in self.args.paths:
            path = PATH_CLASSES[key](self)
            ok, why = path.available()
            if not ok:
                if key == 'libvirt':
                    self.no_libvirt = why
                    log('*' * 72)
                    log('%s: %s' % (NO_LIBVIRT, why))
                    log('*' * 72)
                else:
                    log('path %s skipped: %s' % (path.label, why))
                continue
            self.paths.append(path)
        self.raw = next((p for p in self.paths if p.key == 'raw'), None)
        self.managed = next((p for p in self.paths if p.key == 'managed'), None)
        if self.managed is None:
            raise BenchError('--paths must include managed')
        check_memory(self)
        log('accelerator %s; guests: %s; %d MiB%s; runs: %d per case and path; temp %s'
            % ('KVM' if self.domain_type == 'kvm' else 'TCG', ', '.join(sorted(self.guests)),
               self.args.memory, ' preallocated' if getattr(self.args, 'prealloc', False) else '', self.args.runs, self.tmp))
        if self.domain_type != 'kvm':
            log('TCG: QEMU before 9.0 loses guest writes during migration when guest RAM is on its '
                '256 KiB dirty-bitmap grid; migrationd starts TCG guests off it (README), and every '
                'arrival is checked by the guest')
        self.managed.setup()
        self.p2p = next((p for p in self.paths if p.key == 'p2p'), None)
        if self.p2p is not None:
            self.p2p.setup()
        self.libvirt = next((p for p in self.paths if p.key == 'libvirt'), None)
        if self.libvirt is not None:
            self.libvirt.setup()
        if getattr(self.args, 'count_messages', False):
            self.monitors = BusMonitors(self)
            self.monitors.start([self.managed.a, self.managed.b])
        # The guests start on host A; the raw QEMUs use the daemon's own
        # command line for the same guest.
        templates = {}
        for g in self.guests.values():
            self.managed.start_guest(g, 0)
            pids = harness.find_qemu_pids(g.uuid)
            if len(pids) != 1:
                raise BenchError('expected one QEMU of %s, found %r' % (g.name, pids))
            templates[g.kind] = harness.proc_cmdline(pids[0])
            self.coverage[g.kind] = memory_check_coverage(self, g, g.src_serial)
        self.ram_kib = check_ram_pad(self, templates)
        if self.raw is not None:
            self.raw.set_template(templates)
        self.qemu_argv_example = templates

    def cleanup(self):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if self.monitors is not None:
                with contextlib.suppress(Exception):
                    self.monitors.stop()
            for p in self.paths:
                with contextlib.suppress(Exception):
                    p.close()
            for h in self.hosts:
                with contextlib.suppress(Exception):
                    h.stop()
            # Daemon-started QEMUs survive their daemon (own session).
            kill_qemus([g.uuid for g in self.guests.values()])
            if getattr(self, 'raw', None) is not None:
                kill_qemus(self.raw.uuids)
            if self.tmp is not None:
                if self.args.keep_temp:
                    log('kept %s' % self.tmp)
                else:
                    shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def one(self, path, case, rnd, record=True):
        guest = self.guests[case.guest]
        w0 = now()
        try:
            r = path.run(case, guest)
            r['wall_s'] = now() - w0          # the whole run: start, timed section, checks, teardown
        except (BenchError, GLib.Error, OSError) as e:
            msg = e.message if isinstance(e, GLib.Error) else str(e)
            log('%s, %s, round %d FAILED: %s' % (path.label, case.key, rnd, msg))
            for h in self.hosts:
                h.check_alive()
            if record:
                self.failures.append({'path': path.key, 'case': case.key, 'round': rnd, 'error': msg})
            return None
        r['round'] = rnd
        if record:
            self.results.append(r)
        extra = ''
        if 'phases_s' in r:
            extra = ' (' + ' '.join('%s %.0f' % (k[:3], v * 1e3) for k, v in r['phases_s'].items()) + ' ms)'
        if not r.get('verified', True):
            extra += ' NOT VERIFIED: %s' % r.get('verify_note')
        log('%-27s %-15s round %d%s: %.3f s%s' % (path.label, case.key, rnd, '' if record else ' (warm-up)',
                                                 r['total_s'], extra))
        return r

    def run(self):
        a = self.args
        for i in range(a.warmup):
            for path in self.paths:
                if hasattr(path, 'supports') and not path.supports(self.cases[0]):
                    continue
                self.one(path, self.cases[0], -1 - i, record=False)
        # The warm-up moved the guest one way on (c): one more run the other
        # way, so that both hosts have dialed their peer before the clock
        # (each keeps its link, [peer] idle_timeout), not one timed run.
        if a.warmup and self.p2p is not None:
            self.one(self.p2p, self.cases[0], -1 - a.warmup, record=False)
        self.load_before = os.getloadavg()
        for rnd in range(a.runs):
            for ci, case in enumerate(self.cases):
                order = list(self.paths)
                if (rnd + ci) % 2:
                    order.reverse()
                for path in order:
                    if hasattr(path, 'supports') and not path.supports(case):
                        continue
                    self.one(path, case, rnd)
        if self.p2p is not None and a.relay_calls > 0:
            log('relayed call: %d x Manager.%s per leg, through the bridge and on the bus'
                % (a.relay_calls, RELAY_METHOD))
            self.relay = self.p2p.measure_relay(a.relay_calls, a.relay_block, a.relay_links)
        self.load_after = os.getloadavg()
        if self.monitors is not None:
            self.monitors.attribute(self.results)
