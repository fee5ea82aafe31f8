#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kill -9 of the source daemon during a peer-to-peer TLS stream leaves no
TLS object in the guest's QEMU: the object has one fixed id per QEMU
(md-migration-tls), so the restarted daemon's recovery deletes it without
knowing the job's; a second TLS migration then moves the guest.

Host A's QEMUs get a second QMP monitor of the test's (a wrapper adds
`-qmp unix:...`), on which the test lists QEMU's objects (qom-list /objects)."""

import json
import os
import shutil
import socket
import tempfile

import p2ptest
import test_p2p
from p2ptest import (P2PTestCase, LIVE, PEER2PEER, TLS, MIGRATION_DEADLINE, DEADLINE, recorder, snapshot_before,
                     wait_until, pid_alive, log, harness)


class Qmp:
    """One QMP session on a UNIX socket: the greeting, qmp_capabilities,
    then commands; events are skipped."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(path)
        self.f = self.sock.makefile('rwb')
        self._read()
        self.cmd('qmp_capabilities')

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError('QEMU closed its monitor')
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.f.write(json.dumps(msg).encode() + b'\n')
        self.f.flush()
        while True:
            reply = self._read()
            if 'event' in reply:
                continue
            if 'error' in reply:
                raise RuntimeError('QEMU refused %s: %s' % (name, reply['error']))
            return reply['return']

    def close(self):
        self.f.close()
        self.sock.close()


class TlsObjectAfterKill(P2PTestCase):

    def setUp(self):
        super().setUp()
        # Short: a UNIX socket's path has at most 107 bytes.
        self.qmp_dir = tempfile.mkdtemp(prefix='md-qmp-')
        self.addCleanup(shutil.rmtree, self.qmp_dir, True)
        wrapper = os.path.join(self.workdir, 'qemu-with-test-monitor')
        # Only a guest's QEMU (migrationd's monitor on fd 3) gets the monitor;
        # the wrapper's pid is QEMU's (exec).
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\ncase "$*" in\n'
                    '*fd=3*) exec %s "$@" -qmp unix:%s/qmp-$$.sock,server=on,wait=off ;;\n'
                    '*) exec %s "$@" ;;\nesac\n' % (harness.QEMU_BINARY, self.qmp_dir, harness.QEMU_BINARY))
        os.chmod(wrapper, 0o755)
        self.reconfigure(self.a, extra={'qemu': {'binary': wrapper}})

    def tls_objects(self, pid):
        """The names of the tls-creds objects in QEMU @pid (of host A)."""
        path = os.path.join(self.qmp_dir, 'qmp-%d.sock' % pid)
        wait_until(lambda: os.path.exists(path), DEADLINE, "the test's monitor of QEMU %d" % pid)
        qmp = Qmp(path)
        try:
            objects = qmp.cmd('qom-list', path='/objects')
            creds = qmp.cmd('query-migrate-parameters').get('tls-creds')
        finally:
            qmp.close()
        names = sorted(o['name'] for o in objects if 'tls-creds' in o['type'])
        if (names, creds) != getattr(self, '_last_seen', None):      # polled: log changes only
            log('QEMU %d: tls-creds objects %r, parameter tls-creds %r' % (pid, names, creds))
        self._last_seen = (names, creds)
        return names, creds

    def test_tls_object_after_kill(self):
        """The stream of a TLS migration A -> B runs (slowed down); A's QEMU
        has the object md-migration-tls, named by tls-creds. kill -9 of A's
        daemon and a restart: recovery cancels the stream, the guest runs on
        at A, and the object is gone (tls-creds cleared). A second TLS
        migration then moves the guest to B."""
        a, b = self.a, self.b
        self.bridge(b)
        # 'light': converges over a TLS stream under TCG (test_p2p's
        # tls-stream); at 1 MiB/s its first pass still lasts a minute.
        g = self.guest(a, profile='light')
        _, pid = snapshot_before(g)
        g.dom(a).call('MigrateSetMaxSpeed', 'tu', (1, 0))
        with recorder(a, g.path):
            pending, _ = self.migrate_start(g, a, b, flags=LIVE | PEER2PEER | TLS)
            wait_until(lambda: pending.done or test_p2p.streaming(a, g.path), MIGRATION_DEADLINE,
                       'the peer-to-peer TLS stream to run')
            self.assertFalse(pending.done, 'MigrateToURI3 ended before the stream ran: %r' % (pending.error,))
            incoming = [p for p in g.qemu_pids() if p != pid]
            names, creds = self.tls_objects(pid)
            self.assertEqual(len(names), 1, 'expected one tls-creds object in the source QEMU: %r' % names)
            self.assertEqual(creds, names[0], 'tls-creds does not name the object')

            log('SIGKILL to the source daemon during Perform3')
            a.restart(kill=True)
            wait_until(lambda: pending.done, DEADLINE, 'MigrateToURI3 to fail with its daemon')
            self.assertIsNotNone(pending.error)
        self.assertTrue(pid_alive(pid), 'the source QEMU died with its daemon')

        dom = g.dom(a)
        wait_until(lambda: dom.prop('State') == 'running' and dom.prop('JobType') == 'none', DEADLINE,
                   'the restarted source to resume the guest without a job')
        # The reset runs after the stream's cancel, one command at a time.
        wait_until(lambda: self.tls_objects(pid) == ([], ''), DEADLINE,
                   "recovery's reset to delete the TLS object and clear tls-creds")
        self.assertStaysHere(g, a, pid, ' after the restart during the TLS stream')
        wait_until(lambda: not any(pid_alive(p) for p in incoming), DEADLINE,
                   'the incoming QEMU on b (pid %r) to go' % incoming)
        wait_until(lambda: g.path not in b.list_domains(0), DEADLINE, 'b to forget the incoming guest')

        g.dom(a).call('MigrateSetMaxSpeed', 'tu', (0, 0))
        self.migrate_moved(g, a, b, flags=LIVE | PEER2PEER | TLS)
        g.destroy()


if __name__ == '__main__':
    p2ptest.main()
