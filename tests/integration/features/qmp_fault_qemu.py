#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A QEMU for tests whose final query-migrate fails.

    qmp_fault_qemu.py REAL_QEMU ARGS...

Runs REAL_QEMU with ARGS behind a QMP proxy: migrationd's monitor socket
(fd 3, `-chardev socket,...,fd=3`) is served here, and QEMU gets a socket of
its own at fd 3. Everything passes through, except that once QEMU has sent
the MIGRATION event with status "completed", every query-migrate is answered
here with a QMP error and never reaches QEMU: the outcome of the stream is
then unknown to the daemon. QEMU dies with this process (PR_SET_PDEATHSIG),
and this process exits with QEMU's status. A call without fd=3 (not a guest)
runs REAL_QEMU as it is."""

import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import sys

MONITOR_FD = 3
PR_SET_PDEATHSIG = 1
INJECTED = 'Injected by the test: query-migrate failed after the stream completed'


def die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def lines(buf):
    """(complete lines, the rest) of @buf."""
    *complete, rest = buf.split(b'\n')
    return complete, rest


def main():
    real, args = sys.argv[1], sys.argv[2:]
    if not any('fd=%d' % MONITOR_FD in a for a in args):
        os.execv(real, [real] + args)

    daemon_listener = socket.socket(fileno=os.dup(MONITOR_FD))
    inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    inner.bind('\0md-qmp-fault-%d' % os.getpid())
    inner.listen(1)
    os.dup2(inner.fileno(), MONITOR_FD)
    qemu = subprocess.Popen([real] + args, pass_fds=(MONITOR_FD,), preexec_fn=die_with_parent)
    os.close(MONITOR_FD)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: qemu.send_signal(s))

    to_qemu = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    to_qemu.connect('\0md-qmp-fault-%d' % os.getpid())
    inner.close()
    to_daemon, _ = daemon_listener.accept()
    daemon_listener.close()

    completed = False
    from_daemon = from_qemu = b''
    sel = selectors.DefaultSelector()
    sel.register(to_daemon, selectors.EVENT_READ, 'daemon')
    sel.register(to_qemu, selectors.EVENT_READ, 'qemu')
    while qemu.poll() is None:
        try:
            events = sel.select(1.0)
        except InterruptedError:
            continue
        for key, _ in events:
            data = key.fileobj.recv(65536)
            if not data:
                # One side closed: QEMU is going, or the daemon let go.
                sel.unregister(key.fileobj)
                if key.data == 'daemon':
                    to_qemu.shutdown(socket.SHUT_WR)
                continue
            if key.data == 'qemu':
                complete, from_qemu = lines(from_qemu + data)
                for line in complete:
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        msg = {}
                    if msg.get('event') == 'MIGRATION' and msg.get('data', {}).get('status') == 'completed':
                        completed = True
                    to_daemon.sendall(line + b'\n')
            else:
                complete, from_daemon = lines(from_daemon + data)
                for line in complete:
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        msg = {}
                    if completed and msg.get('execute') == 'query-migrate':
                        reply = {'error': {'class': 'GenericError', 'desc': INJECTED}, 'id': msg.get('id')}
                        to_daemon.sendall(json.dumps(reply).encode() + b'\r\n')
                        continue
                    to_qemu.sendall(line + b'\n')
    sys.exit(qemu.returncode if qemu.returncode >= 0 else 128 - qemu.returncode)


if __name__ == '__main__':
    main()
