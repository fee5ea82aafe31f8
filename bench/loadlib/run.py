"""The phases of a bench/load run: hosts and guests, the client load alone
against migrationd and libvirt-dbus (alternating), each migration alone, then
8 at once under the load with a ninth attempted; the clean-up always runs."""

import contextlib
import glob
import os
import shutil
import tempfile
import threading
import time

from overheadlib.common import BOOT_DEADLINE_S, CALL_DEADLINE_S, BenchError, harness, log, now
from overheadlib.processes import HostDaemon, kill_qemus
from overheadlib.serial import wait_serial
from scalelib import libvirt as lvlib

from .clients import Load, libvirt_calls, migrationd_calls, summarize
from .migrations import LoadGuest, Migration, try_ninth


def schedstat(pids):
    """(on-CPU ns, run-queue wait ns) of every thread of @pids so far."""
    cpu = wait = 0
    for f in (f for pid in pids for f in glob.glob('/proc/%d/task/*/schedstat' % pid)):
        with contextlib.suppress(OSError, ValueError):
            with open(f) as fh:
                a, b, _ = fh.read().split()
            cpu += int(a)
            wait += int(b)
    return cpu, wait


class LoadBench:
    def __init__(self, args):
        self.args = args
        self.tmp = None
        self.hosts = []
        self.guests = []
        self.lv = None
        self.loads = []
        self.R = {'quiet': [], 'alone': [], 'concurrent': [], 'failures': []}
        self.daemon_path = args.daemon or os.path.join(args.build_dir, 'src', 'migrationd')
        self.kernel = args.kernel or os.path.join(args.build_dir, 'tests', 'guest', 'guest.elf')
        self.qemu = args.qemu
        self.domain_type = harness.domain_type()

    # -- set-up and clean-up

    def setup(self):
        for what, path in (('migrationd', self.daemon_path), ('QEMU', self.qemu), ('guest kernel', self.kernel)):
            if not os.path.isfile(path):
                raise BenchError('%s (%s) is missing; ninja -C BUILD src/migrationd tests/guest/guest.elf, '
                                 'or pass --build-dir/--daemon/--qemu/--kernel' % (what, path))
        self.tmp = tempfile.mkdtemp(prefix='migrationd-load-')
        a = self.args
        for name in ('hostA', 'hostB'):
            h = HostDaemon(self, name)
            h.add_config({'migration': {'max_jobs': a.max_jobs}})
            self.hosts.append(h)
            h.start()
        self.a, self.b = self.hosts
        for i in range(a.migrations):
            home = self.a if i < (a.migrations + 1) // 2 else self.b
            g = LoadGuest(self, i, home)
            self.guests.append(g)
            home.mcall('DefineXML', 's', (g.xml(g.serial),), 'o')
            home.dcall(g.path, 'Start', 'u', (0,))
        for g in self.guests:
            wait_serial(g.serial, 1, 1, BOOT_DEADLINE_S, alive=g.home.check_alive, what=g.name)
        log('%d guests of %d MiB up (dirty=%s), %d on hostA, %d on hostB'
            % (len(self.guests), a.memory, a.dirty, sum(g.home is self.a for g in self.guests),
               sum(g.home is self.b for g in self.guests)))
        binary = None if a.no_libvirt else lvlib.find_binary(a.libvirt_dbus)
        if binary is None:
            self.R['libvirt'] = {'used': False, 'why': '--no-libvirt' if a.no_libvirt else 'not installed'}
            log('=' * 60)
            log('NO SIDE-BY-SIDE FIGURES: libvirt-dbus not run (%s)' % self.R['libvirt']['why'])
            log('=' * 60)
            return
        self.lv = lvlib.LibvirtDbus(binary, self.a.bus.address, os.path.join(self.tmp, 'libvirt-dbus.log'))
        self.lv.start(self.a.client.name_has_owner)
        path = self.a.client.call(lvlib.CONNECT_PATH, lvlib.CONNECT_IFACE, 'DomainLookupByName', 's', ('test',),
                                  'o', dest=lvlib.NAME)[0]
        self.lv_domain = path
        self.R['libvirt'] = {'used': True, 'version': self.lv.version, 'libvirt_version': self.lv.libvirt_version,
                             'domain': path}

    def cleanup(self):
        for load in self.loads:
            with contextlib.suppress(Exception):
                load.kill()
        if self.lv is not None:
            with contextlib.suppress(Exception):
                self.lv.stop()
        for h in self.hosts:
            with contextlib.suppress(Exception):
                h.stop()
        kill_qemus([g.uuid for g in self.guests])
        if self.tmp is not None:
            if self.args.keep_temp:
                log('kept %s' % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    # -- the client load

    def a_domains(self):
        return [g.path for g in self.guests if g.home is self.a]

    def start_load(self, target):
        sets = migrationd_calls(self.a_domains()) if target == 'migrationd' else \
            libvirt_calls(lvlib, self.lv_domain)
        load = Load(self.a.bus.address, sets, self.args.clients)
        self.loads.append(load)
        return load

    def jobs_on(self, host):
        """How many domains on @host have a job now."""
        paths = host.mcall('ListDomains', 'u', (0,), 'ao')[0]
        return sum(1 for p in paths if host.client.get(p, 'org.example.Migration1.Domain', 'JobType') != 'none')

    def server_pids(self, target, load):
        """The processes whose CPU and run-queue wait each window reports:
        the clients' wait is time their calls cannot see their reply."""
        return {'server': [self.a.proc.pid if target == 'migrationd' else self.lv.pid],
                'dbus-daemon': [self.a.bus.proc.pid],
                'clients': [p.pid for p in load.procs]}

    def window(self, target, seconds):
        """The load alone against @target for @seconds; figures after 0.5 s."""
        load = self.start_load(target)
        pids = self.server_pids(target, load)
        load.go()
        t_go = time.perf_counter_ns()
        time.sleep(0.5)
        s0 = {k: schedstat(p) for k, p in pids.items()}
        t_from = time.perf_counter_ns()
        time.sleep(seconds)
        t_to = time.perf_counter_ns()
        s1 = {k: schedstat(p) for k, p in pids.items()}
        calls, errors = load.stop()
        self.loads.remove(load)
        out = summarize(calls, errors, t_from, t_to)
        out['target'] = target
        out['t_go_ns'] = t_go
        out['sched'] = sched_per_call(s0, s1, out['calls'])
        return out

    def quiet(self):
        """Alternating windows, the order flipped every round: the load against
        migrationd and against libvirt-dbus while the guests run and nothing
        migrates."""
        targets = ['migrationd'] + (['libvirt-dbus'] if self.lv is not None else [])
        for rnd in range(self.args.rounds):
            order = targets if rnd % 2 == 0 else list(reversed(targets))
            for t in order:
                w = self.window(t, self.args.seconds)
                w['round'] = rnd
                self.R['quiet'].append(w)
                log('quiet round %d, %-12s: %7.0f calls/s, p99 %.2f ms, errors %s'
                    % (rnd, t, w['calls_per_s'], w.get('all', {}).get('p99_ms', float('nan')),
                       w['errors'] or 0))

    # -- the migrations

    def alone(self):
        """Each guest moved alone (no other migration, no client load) to the
        other host and back; the first move is the direction it takes in
        the concurrent phase."""
        for g in self.guests:
            there = g.where
            for leg in ('there', 'back'):
                m = Migration(g, self.other(g.where))
                m.run()
                ok = m.verify()
                r = dict(m.result, leg=leg)
                self.R['alone'].append(r)
                log('alone %-22s %s (%s): %.3f s%s' % (g.name, r['direction'], leg, r['wall_s'],
                                                     '' if ok else ' NOT VERIFIED: ' + r['verify_note']))
                if not ok:
                    raise BenchError('%s did not arrive intact: %s' % (g.name, r['verify_note']))
            if g.where is not there:
                raise BenchError('%s is not back on %s' % (g.name, there.name))

    def other(self, host):
        return self.b if host is self.a else self.a

    def concurrent(self):
        """The load against migrationd on hostA; after --lead s, every guest
        migrates at once. All meet after Prepare3 (hostA then has 8 jobs: 4
        out, 4 in), a ninth migration into hostA is tried, then all go on."""
        n = len(self.guests)
        barrier = threading.Barrier(n + 1)
        release = threading.Event()

        def hold():
            barrier.wait(CALL_DEADLINE_S)
            release.wait(CALL_DEADLINE_S)
        load = self.start_load('migrationd')
        pids = self.server_pids('migrationd', load)
        load.go()
        time.sleep(self.args.lead)
        s0 = {k: schedstat(p) for k, p in pids.items()}
        migs = [Migration(g, self.other(g.where), hold=hold) for g in self.guests]
        for m in migs:
            m.start()
        ninth = jobs = None
        try:
            barrier.wait(CALL_DEADLINE_S)
            jobs = self.jobs_on(self.a)
            ninth = try_ninth(self.a, self.kernel)
        except threading.BrokenBarrierError:
            pass
        finally:
            release.set()
        errors = []
        for m in migs:
            try:
                m.join()
            except BenchError as e:
                errors.append(str(e))
        s1 = {k: schedstat(p) for k, p in pids.items()}
        calls, load_errors = load.stop()
        self.loads.remove(load)
        if errors:
            barrier.abort()
            raise BenchError('; '.join(errors))
        t_from = min(m.result['t0_ns'] for m in migs)
        t_to = max(m.result['t_end_ns'] for m in migs)
        w = summarize(calls, load_errors, t_from, t_to)
        w['sched'] = sched_per_call(s0, s1, sum(1 for c in calls if c[1] >= t_from))
        w['ninth'] = {'error': ninth[0], 'message': ninth[1]} if ninth else None
        w['jobs_at_ninth'] = jobs
        self.R['load_in_flight'] = w
        log('all at once: load %.0f calls/s, p99 %.2f ms, errors %d; ninth: %s'
            % (w['calls_per_s'], w.get('all', {}).get('p99_ms', float('nan')), sum(load_errors.values()),
               '%s: %s' % ninth if ninth else 'not tried'))
        # The guests' own checks, in parallel (each waits for its dirty area
        # to be checked at the destination).
        threads = [threading.Thread(target=m.verify, daemon=True) for m in migs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for m in migs:
            self.R['concurrent'].append(m.result)
            log('at once %-22s %s: %.3f s (held %.3f s)%s' % (
                m.guest.name, m.result['direction'], m.result['wall_s'], m.result['held_s'],
                '' if m.result['verified'] else ' NOT VERIFIED: ' + m.result['verify_note']))

    def run(self):
        self.R['loadavg_before'] = os.getloadavg()
        t0 = now()
        self.quiet()
        self.alone()
        self.concurrent()
        self.R['loadavg_after'] = os.getloadavg()
        self.R['elapsed_s'] = now() - t0


def sched_per_call(s0, s1, calls):
    out = {}
    for k in s0:
        cpu = s1[k][0] - s0[k][0]
        wait = s1[k][1] - s0[k][1]
        out[k] = {'cpu_ms': cpu / 1e6, 'wait_ms': wait / 1e6,
                  'cpu_us_per_call': cpu / 1e3 / calls if calls else None,
                  'wait_us_per_call': wait / 1e3 / calls if calls else None}
    return out
