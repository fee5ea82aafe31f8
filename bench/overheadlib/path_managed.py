"""Path (b): two migrationd "hosts" driven through libvirt's five phases;
also the before/after-the-clock steps that path (c) reuses."""

import contextlib
import os
import re
import time

from .cpuacct import CpuMeter
from .common import (BUS_NAME, DOMAIN_IFACE, LIVE, MANAGER_IFACE, MANAGER_PATH, PROPS_IFACE, BenchError,
                     GLib, harness, now)
from .dbusclient import CallFailed, marshal, v_ay, v_b, v_dict, v_s, v_u, vdict
from .domsignals import any_reason, first_prop, first_state, job_completed, ms_or_none, state_trace
from .processes import HostDaemon, kill_qemus
from .profiling import LOG_LINE_RE
from .serial import verify_moved, wait_serial


class ManagedPath:
    """(b) migrationd, managed: the client drives the five phases over two buses.

    The guest is defined on host A and started there before the first run;
    each run then moves it to the other host (A to B, B to A, ...), so that
    runs do not pay a boot. Timed: from sending Begin3Params to the arrival
    of the Confirm3Params reply."""

    key = 'managed'
    label = '(b) migrationd managed'

    def __init__(self, bench):
        self.bench = bench
        self.a = self.b = None
        self.log_offsets = {}
        self.where = {}               # guest kind -> HostDaemon it runs on
        self.serial_now = {}          # guest kind -> its current console log
        self.hops = 0

    def available(self):
        return True, ''

    def setup(self):
        b = self.bench
        self.a = HostDaemon(b, 'hostA')
        self.b = HostDaemon(b, 'hostB')
        b.hosts += [self.a, self.b]
        # Path (c) runs on these hosts too: its [tls] and [bridge] sections.
        for path in b.paths:
            if hasattr(path, 'configure_host'):
                path.configure_host(self.a)
                path.configure_host(self.b)
        self.a.start()
        self.b.start()
        self.a.raw.peers = [self.b.raw]
        self.b.raw.peers = [self.a.raw]
        for g in b.guests.values():
            self.a.mcall('DefineXML', 's', (g.xml(g.src_serial),), 'o')
            for h in (self.a, self.b):
                h.add_match(g.path, PROPS_IFACE, 'PropertiesChanged')
                h.add_match(g.path, DOMAIN_IFACE, 'JobCompleted')

    def close(self):
        pass  # the hosts are stopped by Bench.cleanup

    def other(self, host):
        return self.b if host is self.a else self.a

    def start_guest(self, guest, min_pass):
        """Starts the guest on A (where it is defined), to its first counter."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(guest.src_serial)
        self.a.dcall(guest.path, 'Start', 'u', (0,))
        pids = harness.find_qemu_pids(guest.uuid)

        def alive():
            self.a.check_alive()
            if pids and not any(harness.pid_alive(p) for p in pids):
                raise BenchError('the source QEMU of %s exited:\n%s' % (guest.name, self.a.log_tail()))
        wait_serial(guest.src_serial, 1, min_pass, self.bench.deadlines.boot_s, alive=alive,
                    what='the managed source guest')
        self.where[guest.kind] = self.a
        self.serial_now[guest.kind] = guest.src_serial
        return pids

    def recover(self, guest):
        """After a failed run: end whatever job is left on both hosts and stop
        the guest everywhere (the next run boots it again on A)."""
        self.where.pop(guest.kind, None)
        for h in (self.a, self.b):
            with contextlib.suppress(Exception):
                h.mcall('Finish3Params', 'a{sv}ayub', (vdict({'destination_name': ('s', guest.name)}), b'',
                                                       LIVE, True), 'oay')
            with contextlib.suppress(Exception):
                h.dcall(guest.path, 'AbortJob', 'u', (0,))
            with contextlib.suppress(Exception):
                h.dcall(guest.path, 'Confirm3Params', 'a{sv}ayub', (vdict({}), b'', LIVE, True))
            with contextlib.suppress(Exception):
                h.dcall(guest.path, 'Destroy', 'u', (0,))
        kill_qemus([guest.uuid])

    def take_source(self, guest, r):
        """The host that runs @guest now (after a failed run: booted again on
        A), once the guest has rewritten its area."""
        b = self.bench
        src = self.where.get(guest.kind)
        if src is not None:
            try:
                if src.client.get(guest.path, DOMAIN_IFACE, 'State') != 'running':
                    src = None
            except GLib.Error:
                src = None
        r['booted'] = src is None
        if src is None:
            self.recover(guest)
            self.start_guest(guest, b.min_pass(guest))
            src = self.a
        # A guest started at set-up may not have rewritten its area yet.
        wait_serial(self.serial_now[guest.kind], 1, b.min_pass(guest), b.deadlines.boot_s,
                    alive=src.check_alive, what='the managed source guest')
        return src

    def before_clock(self, guest, r, extra_logs=None):
        """What a run of (b) or (c) does before its clock starts: the source
        (where the guest runs) and the destination (the other host), the
        destination's console, every signal of earlier runs read. With
        --profile, the size of each log whose lines the run keeps (the
        daemons', and @extra_logs(src, dst) = [(path, role)])."""
        src = self.take_source(guest, r)
        dst = self.other(src)
        r['direction'] = '%s->%s' % (src.name, dst.name)
        self.hops += 1
        hop = Hop(src, dst, self.serial_now[guest.kind],
                  os.path.join(self.bench.tmp, 'serial-%s-hop%d.log' % (guest.uuid, self.hops)))
        hop.dest_xml = guest.xml(hop.dst_serial)
        hop.src_pids = harness.find_qemu_pids(guest.uuid)
        if len(hop.src_pids) != 1:
            raise BenchError('expected one QEMU of %s before the run, found %r' % (guest.name, hop.src_pids))
        hop.logs = [(src.log_path, 'source'), (dst.log_path, 'destination')]
        if extra_logs is not None:
            hop.logs += extra_logs(src, dst)
        if self.bench.args.profile:
            for path, _role in hop.logs:
                self.log_offsets[path] = os.path.getsize(path) if os.path.exists(path) else 0
        src.raw.sync()
        dst.raw.sync()
        src.raw.take_signals()
        dst.raw.take_signals()
        if getattr(self.bench.args, 'cpu', False):
            hop.cpu = self.cpu_meter(guest, src, dst, hop.src_pids[0])
            hop.cpu.start()
        return hop

    def cpu_meter(self, guest, src, dst, src_qemu):
        """--cpu: the processes of this run (cpuacct.CpuMeter)."""
        procs = {'client': os.getpid()}
        for role, h in (('source', src), ('destination', dst)):
            procs[role + ' daemon'] = h.proc.pid
            procs[role + ' bus'] = h.bus.proc.pid
            bridge = self.bench.p2p.bridges.get(h.name) if self.bench.p2p is not None else None
            if bridge is not None and bridge.proc is not None:
                procs[role + ' bridge'] = bridge.proc.pid
        known = [src_qemu]

        def qemus():
            # /proc scanned (a few ms of this client's CPU) only until the
            # destination's QEMU is there.
            if len(known) < 2:
                known[1:] = [p for p in harness.find_qemu_pids(guest.uuid) if p != src_qemu][:1]
            return known
        return CpuMeter(procs, src_qemu, qemus)

    def await_reply(self, src, guest, case, call, t0, t_from, deadline, r, marks):
        """The reply (t_ns, body) to the pending call @call on @src (Perform3Params,
        or MigrateToURI3 on path (c)), and how the post-copy switch went: in
        post-copy, MigrateStartPostCopy goes to the source --postcopy-after s
        after @t_from (ns), and again every 10 ms while QEMU refuses it."""
        ns = time.perf_counter_ns
        got = None
        switch = None
        if case.postcopy:
            got = src.raw.wait(call, t_from / 1e9 + case.postcopy_after)
            refusals = 0
            while got is None:
                ms = marshal(BUS_NAME, guest.path, DOMAIN_IFACE, 'MigrateStartPostCopy', v_u(0))
                marks.append((ns(), 'client: MigrateStartPostCopy sent'))
                r['postcopy_switch_sent_s'] = (ns() - t0) / 1e9
                try:
                    src.raw.wait(src.raw.send(ms), deadline)
                    switch = 'sent' if not refusals else 'sent after %d refusals' % refusals
                    break
                except CallFailed as e:
                    # Before the daemon has issued `migrate` QEMU refuses the
                    # switch ("must be started after migration has been
                    # started"): ask again 10 ms later, while the call runs.
                    refusals += 1
                    switch = 'refused %d times: %s: %s' % (refusals, e.name, e.message)
                    got = src.raw.wait(call, now() + 0.01)
            if switch is None:
                switch = 'completed-before-switch'
        if got is None:
            got = src.raw.wait(call, deadline)
        if got is None:
            raise BenchError('the migration call did not reply within %.0f s' % self.bench.deadlines.call_s)
        return got, switch

    def run(self, case, guest):
        r = {'path': self.key, 'case': case.key}
        flags = case.flags()
        extra = {}
        if case.multifd:
            extra['parallel.connections'] = ('i', case.multifd)
        hop = self.before_clock(guest, r)
        src, dst = hop.src, hop.dst
        deadline = now() + self.bench.deadlines.call_s
        times = {}
        marks = []              # (perf_counter_ns, what): the client's side of --profile
        ns = time.perf_counter_ns
        clock0 = (time.time(), ns())
        try:
            # ---- timed section
            m = marshal(BUS_NAME, guest.path, DOMAIN_IFACE, 'Begin3Params', v_dict(extra), v_u(flags))
            t0 = ns()
            t, (xml, cookie) = src.raw.wait(src.raw.send(m), deadline)
            times['begin'] = (t - t0) / 1e9
            marks += [(t0, 'client: Begin3Params sent'), (t, 'client: Begin3Params reply')]

            p = dict(extra)
            p['destination_xml'] = ('s', hop.dest_xml)
            m = marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'Prepare3Params', v_dict(p), v_ay(cookie),
                        v_u(flags))
            t1 = ns()
            t, (cookie, uri) = dst.raw.wait(dst.raw.send(m), deadline)
            times['prepare'] = (t - t1) / 1e9
            marks += [(t1, 'client: Prepare3Params sent'), (t, 'client: Prepare3Params reply')]

            p = dict(extra)
            p['migrate_uri'] = ('s', uri)
            m = marshal(BUS_NAME, guest.path, DOMAIN_IFACE, 'Perform3Params', v_s(''), v_dict(p), v_ay(cookie),
                        v_u(flags))
            t2 = ns()
            perform = src.raw.send(m)
            (t, (cookie,)), switch = self.await_reply(src, guest, case, perform, t0, t2, deadline, r, marks)
            t_perf = t
            times['perform'] = (t - t2) / 1e9
            marks += [(t2, 'client: Perform3Params sent'), (t, 'client: Perform3Params reply')]

            p = {'destination_name': ('s', guest.name), 'migrate_uri': ('s', uri)}
            m = marshal(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'Finish3Params', v_dict(p), v_ay(cookie),
                        v_u(flags), v_b(False))
            t3 = ns()
            t_fin, (_path, cookie) = dst.raw.wait(dst.raw.send(m), deadline)
            times['finish'] = (t_fin - t3) / 1e9
            marks += [(t3, 'client: Finish3Params sent'), (t_fin, 'client: Finish3Params reply')]

            m = marshal(BUS_NAME, guest.path, DOMAIN_IFACE, 'Confirm3Params', v_dict({}), v_ay(cookie),
                        v_u(flags), v_b(False))
            t4 = ns()
            t_end, _ = src.raw.wait(src.raw.send(m), deadline)
            times['confirm'] = (t_end - t4) / 1e9
            marks += [(t4, 'client: Confirm3Params sent'), (t_end, 'client: Confirm3Params reply')]
            # ---- end of the timed section
        except BaseException:
            self.recover(guest)
            raise
        r['phases_s'] = times
        # The client's own time between the calls (parsing a reply, marshalling the next call).
        r['client_between_calls_s'] = (t_end - t0) / 1e9 - sum(times.values())
        r['uri'] = uri
        self.after_clock(r, guest, hop, t0, t_end, switch, clock0, marks, t_perf=t_perf, t_fin=t_fin)
        return r

    def after_clock(self, r, guest, hop, t0, t_end, switch, clock0, marks, t_perf=None, t_fin=None):
        """What a run of (b) or (c) does after its clock (started at @t0,
        stopped at @t_end, perf_counter_ns): the statistics, downtimes and
        signals into @r, the checks that the guest moved, the --profile
        timeline; the guest runs on the destination from now on.
        "to_destination_running_s" ends when the client knows that the stream
        completed (@t_perf) and that the guest runs at the destination (its
        State=running signal there, at the latest @t_fin, when the client
        knows Finish3 is done). (b) knows both from the Perform3Params and
        Finish3Params replies; (c) makes no such call and passes None: then
        the source's JobPhase signals perform3_done and confirm3 stand in."""
        src, dst = hop.src, hop.dst
        if hop.cpu is not None:
            r['cpu'] = hop.cpu.stop()
        if getattr(self.bench.args, 'count_messages', False):
            wall0, ns0 = clock0
            r['bus_window'] = (wall0 + (t0 - ns0) / 1e9, wall0 + (t_end - ns0) / 1e9,
                               {'source': src.name, 'destination': dst.name})
        try:
            src.raw.sync()
            dst.raw.sync()
            sig_src = src.raw.take_signals()
            sig_dst = dst.raw.take_signals()
            # The source's statistics from its JobCompleted signal: the same
            # dict as its GetJobStats(1), which a transient source (after a
            # run B->A) no longer has once Confirm3 has removed it.
            src_stats = job_completed(sig_src, guest.path) or {}
            dst_type, dst_stats = dst.dcall(guest.path, 'GetJobStats', 'u', (1,), 'sa{sv}')
            t_paused = first_state(sig_src, guest.path, 'paused')
            t_running = first_state(sig_dst, guest.path, 'running')
            if t_fin is None:
                t_fin = first_prop(sig_src, guest.path, 'JobPhase', 'confirm3') or t_end
            if t_perf is None:
                t_perf = first_prop(sig_src, guest.path, 'JobPhase', 'perform3_done') or t_fin
            switched = any_reason(sig_src + sig_dst, guest.path, 'postcopy')
            # The stream as the source's JobPhase signals frame it (perform3 ->
            # perform3_done): the same QEMU work on (b) and (c); the rest of
            # the clock is what a path adds around it.
            t_stream = first_prop(sig_src, guest.path, 'JobPhase', 'perform3')
            t_streamed = first_prop(sig_src, guest.path, 'JobPhase', 'perform3_done')
            if t_stream and t_streamed:
                r['stream_s'] = (t_streamed - t_stream) / 1e9
                r['outside_stream_s'] = (t_end - t0) / 1e9 - r['stream_s']
            r.update({
                'total_s': (t_end - t0) / 1e9,
                'to_destination_running_s': (max(min(t_running or t_fin, t_fin), t_perf) - t0) / 1e9,
                'qemu_downtime_s': ms_or_none(src_stats.get('downtime')),
                'dest_downtime_s': ms_or_none(dst_stats.get('downtime')),
                'client_pause_s': (t_running - t_paused) / 1e9 if t_paused and t_running else None,
                'source_setup_time_s': ms_or_none(src_stats.get('setup_time')),
                'source_time_elapsed_s': ms_or_none(src_stats.get('time_elapsed')),
                'dest_time_elapsed_s': ms_or_none(dst_stats.get('time_elapsed')),
                'transferred_bytes': src_stats.get('memory_processed'),
                'iterations': src_stats.get('memory_iteration'),
                'source_job_success': src_stats.get('success'),
                'dest_job_type': dst_type,
                'postcopy_switched': switched,
                'postcopy_switch': switch,
                'state_signals': (state_trace(sig_src, 'src', guest.path, t0) +
                                  state_trace(sig_dst, 'dst', guest.path, t0)),
            })
            r['verified'], r['verify_note'], r['source_last_counter'], r['destination_first_counter'] = \
                verify_moved(hop.src_serial, hop.dst_serial, guest.kind != 'idle', hop.src_pids,
                             timeout=self.bench.deadlines.verify_s)
            if self.bench.args.profile:
                r['profile'] = self.profile(guest, hop.logs, clock0, t0, marks)
        except BaseException:
            self.recover(guest)
            raise
        self.where[guest.kind] = dst
        self.serial_now[guest.kind] = hop.dst_serial

    # -- --profile: the daemons' debug logs (G_MESSAGES_DEBUG=all) of this run

    def profile(self, guest, logs, clock0, t0, marks):
        """One timeline of this run: the debug lines of @logs ([(path, role)]:
        the daemons as "source" and "destination", on path (c) also the
        destination's bridge) and the client's calls, in ms from the first
        call (log timestamps have 1 ms resolution; the client's marks are
        converted to the same wall clock)."""
        wall0, ns0 = clock0
        begin_wall = wall0 + (t0 - ns0) / 1e9
        lt = time.localtime(begin_wall)
        midnight = begin_wall - (lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec + begin_wall % 1)
        events = [((wall0 + (t - ns0) / 1e9 - begin_wall) * 1e3, what) for t, what in marks]
        for path, role in logs:
            with open(path, 'rb') as f:
                f.seek(self.log_offsets.get(path, 0))
                for raw in f:
                    m = LOG_LINE_RE.match(raw.decode(errors='replace').rstrip('\n'))
                    if not m:
                        continue
                    hh, mm, ss, msec, text = m.groups()
                    wall = midnight + int(hh) * 3600 + int(mm) * 60 + int(ss) + int(msec) / 1e3
                    text = re.sub(r'host[AB]-[0-9a-f]{8}', 'PEER', text.replace(guest.name, 'GUEST'))
                    events.append(((wall - begin_wall) * 1e3, '%s: %s' % (role, text)))
        events.sort(key=lambda e: e[0])
        return events


class Hop:
    """One run's move of a guest on path (b) or (c): source and destination
    host, their consoles; see ManagedPath.before_clock."""

    def __init__(self, src, dst, src_serial, dst_serial):
        self.src, self.dst = src, dst
        self.src_serial, self.dst_serial = src_serial, dst_serial
        self.dest_xml = None
        self.src_pids = []
        self.logs = []
        self.cpu = None               # --cpu: its CpuMeter
