"""Path (a)'s QMP client: non-blocking, every reply and event stamped with
its arrival time, so the raw path's timeline is measured as precisely as the
managed path's D-Bus calls."""

import contextlib
import json
import select

from .common import CALL_DEADLINE_S, BenchError, now


class QmpError(BenchError):
    pass


class Qmp:
    """A non-blocking QMP client on a connected socket: commands carry an id,
    replies and events are kept with the perf_counter() time of their arrival
    (events also with QEMU's own wall-clock timestamp)."""

    def __init__(self, sock, name, proc=None, log_path=None):
        self.sock = sock
        self.sock.setblocking(False)
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self.buf = b''
        self.greeting = None          # (t, message)
        self.replies = {}             # id -> (t, message)
        self.events = []              # (t, name, data, qemu_wall_s)
        self.next_id = 0

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def _log_tail(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return ''.join(f.readlines()[-5:]).strip()
        except (OSError, TypeError):
            return ''

    def read_available(self):
        """Reads what the socket has (without blocking) and dispatches lines."""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                return
            except ConnectionResetError:
                chunk = b''
            if not chunk:
                status = self.proc.poll() if self.proc is not None else None
                raise BenchError('QEMU (%s) closed its monitor%s: %s' % (
                    self.name, '' if status is None else ' and exited with status %s' % status,
                    self._log_tail()))
            t = now()
            self.buf += chunk
            while b'\n' in self.buf:
                line, self.buf = self.buf.split(b'\n', 1)
                if line.strip():
                    self._dispatch(json.loads(line), t)

    def _dispatch(self, msg, t):
        if 'QMP' in msg:
            self.greeting = (t, msg)
        elif 'event' in msg:
            ts = msg.get('timestamp') or {}
            wall = ts.get('seconds', 0) + ts.get('microseconds', 0) / 1e6 if ts else None
            self.events.append((t, msg['event'], msg.get('data') or {}, wall))
        elif 'id' in msg:
            self.replies[msg['id']] = (t, msg)

    def send(self, command, arguments=None):
        self.next_id += 1
        cid = '%s-%d' % (self.name, self.next_id)
        msg = {'execute': command, 'id': cid}
        if arguments is not None:
            msg['arguments'] = arguments
        data = json.dumps(msg).encode() + b'\n'
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)
        return cid

    def wait_reply(self, cid, deadline):
        pump([self], lambda: cid in self.replies, deadline, 'the reply to %s' % cid)
        t, msg = self.replies.pop(cid)
        if 'error' in msg:
            raise QmpError('QEMU (%s) refused %s: %s' % (self.name, cid, msg['error'].get('desc', msg['error'])))
        return t, msg.get('return')

    def command(self, command, arguments=None, deadline=None):
        cid = self.send(command, arguments)
        return self.wait_reply(cid, deadline or now() + CALL_DEADLINE_S)

    def handshake(self, deadline):
        pump([self], lambda: self.greeting is not None, deadline, 'the QMP greeting of %s' % self.name)
        return self.command('qmp_capabilities', deadline=deadline)

    def event(self, name, pred=None, since=0.0):
        """The first event @name (with pred(data)) that arrived at or after @since."""
        for e in self.events:
            if e[1] == name and e[0] >= since and (pred is None or pred(e[2])):
                return e
        return None

    def migration_event(self, *statuses):
        return self.event('MIGRATION', lambda d: d.get('status') in statuses)


def pump(qmps, until, deadline, what, wake=None):
    """Reads from the monitors until until() holds (or the deadline); looks
    at until() again at @wake (perf_counter seconds) even if nothing came."""
    while not until():
        remaining = deadline - now()
        if remaining <= 0:
            raise BenchError('timed out waiting for %s' % what)
        timeout = min(remaining, 0.5)
        if wake is not None:
            timeout = max(0.0, min(timeout, wake - now()))
        ready, _, _ = select.select(qmps, [], [], timeout)
        for q in ready:
            q.read_available()
        for q in qmps:
            if not ready and q.proc is not None and q.proc.poll() is not None:
                q.read_available()  # raises with the log tail
