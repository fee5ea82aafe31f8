"""Path (a): raw QEMU through QMP, the least any management layer can do."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import uuid as uuidlib

from .common import UNLIMITED_BANDWIDTH, BenchError, harness, now
from .processes import kill_qemus
from .qmp import Qmp, pump
from .serial import verify_moved, wait_serial


class RawPath:
    """(a) raw QEMU: what the same migration costs without any management layer.

    The source QEMU is started and booted before the clock starts. Timed: from
    spawning the destination QEMU (`-incoming defer -S`, a QMP socket) through
    qmp_capabilities, migrate-set-capabilities (events, and multifd or
    postcopy-ram), multifd-channels, migrate-incoming on the destination,
    migrate-set-capabilities + migrate-set-parameters (max-bandwidth unlimited)
    + migrate on the source, the source's MIGRATION completed event, `cont` on
    the destination, until query-status there says running."""

    key = 'raw'
    label = '(a) raw QEMU'

    def __init__(self, bench):
        self.bench = bench
        self.ports = harness.PortBlock()
        self.port_index = 0
        self.uuids = []
        self.procs = []
        self.argv_template = None
        self.running = {}             # guest kind -> RawGuest: the QEMU that runs it now
        self.hops = 0

    def available(self):
        return True, ''

    def close(self):
        for g in self.running.values():
            g.qmp.close()
        self.running = {}
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(10)
        self.procs = []
        kill_qemus(self.uuids)
        self.ports.release()

    def next_port(self):
        port = self.ports.port_min + self.port_index % (self.ports.port_max - self.ports.port_min + 1)
        self.port_index += 1
        return port

    def set_template(self, argv_by_kind):
        """The daemon's own QEMU command line per guest kind (from /proc of a
        guest it started): the raw QEMUs differ only in monitor fd, serial
        path, UUID and -incoming."""
        self.argv_template = {k: list(v) for k, v in argv_by_kind.items()}

    def qemu_argv(self, guest, uuid, serial, monitor_fd, incoming):
        argv = list(self.argv_template[guest.kind])
        out = []
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == '-uuid':
                out += [a, uuid]
                i += 2
                continue
            if a == '-incoming':
                i += 2
                continue
            if a == '-chardev' and i + 1 < len(argv):
                v = argv[i + 1]
                if v.startswith('socket,id=monitor,'):
                    v = 'socket,id=monitor,fd=%d,server=on,wait=off' % monitor_fd
                elif v.startswith('file,') and 'path=' in v:
                    v = re.sub(r'path=[^,]*', 'path=' + serial.replace(',', ',,'), v)
                out += [a, v]
                i += 2
                continue
            out.append(a)
            i += 1
        if incoming:
            out += ['-incoming', 'defer']
        return out

    def spawn(self, guest, role, incoming, uuid):
        """Starts a QEMU with a listening monitor socket passed as an fd (as
        migrationd does: no polling for a socket file), connects at once.
        Both QEMUs of a migration get the same -uuid (multifd checks it).
        Returns (Popen, Qmp, serial path)."""
        d = self.bench.tmp
        self.hops += 1
        serial = os.path.join(d, 'serial-%s-raw-%d.log' % (uuid, self.hops))
        mon_path = os.path.join(d, 'raw-%d.qmp' % self.hops)
        log_path = os.path.join(d, 'raw-%s-%d.log' % (uuid[:8], self.hops))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(mon_path)
        listener.listen(4)
        fd = listener.fileno()
        argv = self.qemu_argv(guest, uuid, serial, fd, incoming)
        with open(log_path, 'ab') as logf:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                    pass_fds=(fd,), start_new_session=True)
        self.procs.append(proc)
        listener.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(mon_path)
        os.unlink(mon_path)
        return proc, Qmp(sock, role, proc, log_path), serial

    def stop(self, proc, sig=signal.SIGKILL):
        if proc.poll() is None:
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def boot(self, guest):
        """A fresh source QEMU for @guest, booted to its first counter (and pass)."""
        uuid = str(uuidlib.uuid4())
        self.uuids.append(uuid)
        proc, q, serial = self.spawn(guest, 'src', False, uuid)
        try:
            deadline = now() + self.bench.deadlines.boot_s
            q.handshake(deadline)
            q.command('cont', deadline=deadline)
            wait_serial(serial, 1, self.bench.min_pass(guest), self.bench.deadlines.boot_s,
                        alive=lambda: q.read_available() if proc.poll() is not None else None,
                        what='the raw source guest')
        except BaseException:
            q.close()
            self.stop(proc)
            raise
        return RawGuest(proc, q, serial, uuid)

    def run(self, case, guest):
        """One migration of @guest from the QEMU that runs it (booted for the
        first run; afterwards the destination of the previous run, so that
        runs do not pay a boot) to a fresh destination QEMU."""
        r = {'path': self.key, 'case': case.key}
        port = self.next_port()
        uri = 'tcp:127.0.0.1:%d' % port
        # Every capability explicitly: the source may be the destination of an
        # earlier run with other capabilities (the daemon sets them all too).
        caps = [{'capability': 'events', 'state': True},
                {'capability': 'multifd', 'state': bool(case.multifd)},
                {'capability': 'postcopy-ram', 'state': case.postcopy}]
        g = self.running.pop(guest.kind, None)
        if g is not None and g.proc.poll() is not None:
            g.qmp.close()
            g = None
        r['booted'] = g is None
        if g is None:
            g = self.boot(guest)
        src, sq, src_serial, uuid = g.proc, g.qmp, g.serial, g.uuid
        dst = dq = None
        ok_chain = False
        try:
            sq.read_available()
            sq.events.clear()
            sq.replies.clear()
            deadline = now() + self.bench.deadlines.call_s

            # ---- timed section
            t0 = now()
            dst, dq, dst_serial = self.spawn(guest, 'dst', True, uuid)
            t_ready, _ = dq.handshake(deadline)
            dq.command('migrate-set-capabilities', {'capabilities': caps}, deadline)
            if case.multifd:
                dq.command('migrate-set-parameters', {'multifd-channels': case.multifd}, deadline)
            t_incoming, _ = dq.command('migrate-incoming', {'uri': uri}, deadline)
            t_src0 = now()
            sq.command('migrate-set-capabilities', {'capabilities': caps}, deadline)
            params = {'max-bandwidth': UNLIMITED_BANDWIDTH}
            if case.multifd:
                params['multifd-channels'] = case.multifd
            sq.command('migrate-set-parameters', params, deadline)
            t_migrate = now()
            sq.command('migrate', {'uri': uri}, deadline)
            end_states = ('completed', 'failed', 'cancelled')

            switch = None
            if case.postcopy:
                # From the start of the source's step, as ours counts from the
                # Perform3Params call (which sets QEMU up and then migrates).
                t_switch = t_src0 + case.postcopy_after
                pump([sq, dq], lambda: sq.migration_event(*end_states) or now() >= t_switch,
                     deadline, 'the raw migration or the post-copy switch time', wake=t_switch)
                if sq.migration_event(*end_states) is None:
                    switch = 'sent'
                    r['postcopy_switch_sent_s'] = now() - t0
                    sq.command('migrate-start-postcopy', deadline=deadline)
                else:
                    switch = 'completed-before-switch'
                cont_id = None

                def settled():
                    nonlocal cont_id
                    # The destination runs as soon as it is in post-copy.
                    if cont_id is None and dq.migration_event('postcopy-active'):
                        cont_id = dq.send('cont')
                    s_end = sq.migration_event(*end_states)
                    if s_end is None:
                        return False
                    if s_end[2]['status'] != 'completed':
                        raise BenchError('the raw migration %s: %s' % (
                            s_end[2]['status'], sq.command('query-migrate', deadline=deadline)[1].get('error-desc', '?')))
                    if not dq.migration_event('postcopy-active'):
                        return True     # completed as pre-copy: cont below
                    return dq.migration_event(*end_states) is not None and dq.event('RESUME') is not None
                pump([sq, dq], settled, deadline, 'the raw post-copy migration')
                if cont_id is not None:
                    dq.wait_reply(cont_id, deadline)
            if not case.postcopy or not dq.migration_event('postcopy-active'):
                pump([sq, dq], lambda: sq.migration_event(*end_states), deadline, 'the raw migration to complete')
                status = sq.migration_event(*end_states)[2]['status']
                if status != 'completed':
                    _, info = sq.command('query-migrate', deadline=deadline)
                    raise BenchError('the raw migration %s: %s' % (status, info.get('error-desc', '?')))
                t_completed = sq.migration_event('completed')[0]
                dq.command('cont', deadline=deadline)
                t_end, st = dq.command('query-status', deadline=deadline)
                if st.get('status') != 'running':
                    pump([dq], lambda: dq.event('RESUME') is not None, deadline, 'the destination to run')
                    t_end, st = dq.command('query-status', deadline=deadline)
                    if st.get('status') != 'running':
                        raise BenchError('the raw destination is %s after cont' % st.get('status'))
            else:
                t_completed = sq.migration_event('completed')[0]
                t_end = max(t_completed, dq.migration_event('completed')[0], dq.event('RESUME')[0])
            # ---- end of the timed section

            _, info = sq.command('query-migrate', deadline=deadline)
            _, st = dq.command('query-status', deadline=deadline)
            if st.get('status') != 'running':
                raise BenchError('the raw destination is %s at the end' % st.get('status'))
            pc = dq.migration_event('postcopy-active') or sq.migration_event('postcopy-active')
            stop_ev = sq.event('STOP')
            resume_ev = dq.event('RESUME')
            r.update({
                'total_s': t_end - t0,
                'spawn_to_qmp_ready_s': t_ready - t0,
                'spawn_to_greeting_s': dq.greeting[0] - t0,
                'spawn_to_incoming_s': t_incoming - t0,
                'source_setup_to_completed_s': t_completed - t_src0,
                'migrate_to_completed_s': t_completed - t_migrate,
                'completed_to_running_s': t_end - t_completed,
                'qemu_total_time_s': info['total-time'] / 1e3 if 'total-time' in info else None,
                'qemu_setup_time_s': info['setup-time'] / 1e3 if 'setup-time' in info else None,
                'qemu_downtime_s': info['downtime'] / 1e3 if 'downtime' in info else None,
                'real_downtime_s': (resume_ev[3] - stop_ev[3]) if stop_ev and resume_ev and stop_ev[3] else None,
                'transferred_bytes': (info.get('ram') or {}).get('transferred'),
                'iterations': (info.get('ram') or {}).get('dirty-sync-count'),
                'postcopy_switched': pc is not None,
                'postcopy_switch': switch,
                'migration_events': [(round((e[0] - t0) * 1e3, 1), q.name, e[1], e[2].get('status', e[2].get('pass')))
                                     for q in (sq, dq) for e in q.events if e[1].startswith('MIGRATION')],
            })
            # The source QEMU is stopped below, outside the check.
            r['verified'], r['verify_note'], r['source_last_counter'], r['destination_first_counter'] = \
                verify_moved(src_serial, dst_serial, guest.kind != 'idle',
                             timeout=self.bench.deadlines.verify_s)
            # Outside the clock: what QEMU alone needs to exit on SIGTERM (the
            # managed path's Confirm waits for exactly that at the source).
            t = now()
            self.stop(src, signal.SIGTERM)
            r['source_exit_s'] = now() - t
            # Source gone: it exited by itself on SIGTERM, not by stop()'s SIGKILL.
            if src.returncode == -signal.SIGKILL and r['verified']:
                r['verified'], r['verify_note'] = False, 'the raw source QEMU did not exit on SIGTERM'
            # The destination runs the guest now: the source of the next run.
            self.running[guest.kind] = RawGuest(dst, dq, dst_serial, uuid)
            ok_chain = True
        finally:
            sq.close()
            self.stop(src)
            if dst is not None and not ok_chain:
                dq.close()
                self.stop(dst)
        return r


class RawGuest:
    def __init__(self, proc, qmp, serial, uuid):
        self.proc, self.qmp, self.serial, self.uuid = proc, qmp, serial, uuid
