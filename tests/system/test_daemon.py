#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""migrationd as systemd runs it: sd_notify (READY=1 once the name is owned,
WATCHDOG=1, STOPPING=1) and exit on idle ([daemon] idle_timeout), with
guests that outlive it. Built on tests/integration/harness.py."""

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'integration'))

import harness  # noqa: E402
from harness import BUS_NAME, DOMAIN_IFACE, wait_until, holds_for, DEADLINE  # noqa: E402

IDLE = 2           # seconds: [daemon] idle_timeout of these tests
LIVE = 1 << 0


class NotifySocket:
    """A NOTIFY_SOCKET of our own: what systemd would receive."""

    def __init__(self, testcase):
        self.path = os.path.join(testcase.workdir, 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        testcase.addCleanup(self.sock.close)
        self.messages = []      # (monotonic time, {key: value})

    def drain(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            fields = dict(line.split('=', 1) for line in data.decode().splitlines() if '=' in line)
            self.messages.append((time.monotonic(), fields))

    def with_key(self, key, value=None):
        self.drain()
        return [(t, m) for t, m in self.messages if key in m and (value is None or m[key] == value)]

    def wait_for(self, key, value=None, timeout=None, count=1):
        return wait_until(lambda: len(self.with_key(key, value)) >= count and self.with_key(key, value),
                          timeout or DEADLINE, '%d× %s=%s on the notify socket' % (count, key, value or '*'),
                          poll=0.02)


class DaemonTestCase(harness.MigrationdTestCase):
    config_extra = {}
    environment = {}

    def setUp(self):
        super().setUp()
        self.bus = self.make_bus('bus', external_ok=False)
        for k, v in self.environment.items():
            self.addCleanup(self._restore_env, k, os.environ.get(k))
            os.environ[k] = v
        self.host = self.make_host('host', bus=self.bus, start=False, config_extra=dict(self.config_extra))

    @staticmethod
    def _restore_env(key, value):
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

    def wait_idle_exit(self, timeout):
        """Waits for the daemon to exit by itself; returns when it did."""
        client = self.host.connect()
        try:
            self.host.proc.wait(timeout)
        except Exception:
            raise AssertionError('migrationd did not exit on idle within %.0f s' % timeout) from None
        self.host._stopped = True      # it was meant to go
        t = time.monotonic()
        self.assertEqual(self.host.proc.returncode, 0, 'migrationd exited on idle with status %s'
                         % self.host.proc.returncode)
        wait_until(lambda: not client.name_has_owner(BUS_NAME), DEADLINE, '%s to leave the bus' % BUS_NAME)
        return t

    def alive(self):
        return self.host.proc.poll() is None


class Notify(DaemonTestCase):
    config_extra = {'daemon': {'idle_timeout': 0}}

    def test_sd_notify(self):
        """READY=1 arrives once the bus name is owned (every guest found
        again first); WATCHDOG=1 twice per WATCHDOG_USEC; STOPPING=1 on
        SIGTERM."""
        notify = NotifySocket(self)
        for k, v in (('NOTIFY_SOCKET', notify.path), ('WATCHDOG_USEC', '400000')):
            self.addCleanup(self._restore_env, k, os.environ.get(k))
            os.environ[k] = v
        os.environ.pop('WATCHDOG_PID', None)
        self.host.start(wait=False)
        client = self.host.connect()
        notify.wait_for('READY', '1')
        self.assertTrue(client.name_has_owner(BUS_NAME), 'READY=1 came before the name was owned')
        self.assertIn('STATUS', notify.with_key('READY')[0][1])

        pings = notify.wait_for('WATCHDOG', '1', count=6, timeout=30)
        gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:])]
        harness.log('watchdog pings %s s apart' % ', '.join('%.2f' % g for g in gaps))
        self.assertLess(max(gaps), 0.4, 'a watchdog ping came later than WATCHDOG_USEC')

        self.assertEqual(notify.with_key('STOPPING'), [])
        self.host.stop()
        notify.wait_for('STOPPING', '1', timeout=10)


class IdleExit(DaemonTestCase):
    config_extra = {'daemon': {'idle_timeout': IDLE}}

    def test_idle_exit_guest_survives(self):
        """With nothing to do for idle_timeout seconds the daemon sends
        STOPPING=1, releases its name and exits (status 0), not before; a
        running guest does not keep it and survives it; the next start finds
        the guest running again."""
        notify = NotifySocket(self)
        self.addCleanup(self._restore_env, 'NOTIFY_SOCKET', os.environ.get('NOTIFY_SOCKET'))
        os.environ['NOTIFY_SOCKET'] = notify.path
        self.host.start()
        g = self.make_guest(self.host, start=True, wait_boot=False)
        pid = harness.find_qemu_pids(g.uuid)
        self.assertTrue(pid)
        self.assertEqual(g.dom.state, 'running')
        last_call = time.monotonic()
        exited = self.wait_idle_exit(DEADLINE)
        harness.log('exited %.1f s after the last call (idle_timeout=%d)' % (exited - last_call, IDLE))
        self.assertGreaterEqual(exited - last_call, IDLE - 0.2, 'exited before idle_timeout')
        self.assertLess(exited - last_call, IDLE + 20, 'took far longer than idle_timeout')
        stopping = notify.with_key('STOPPING', '1')
        self.assertTrue(stopping, 'no STOPPING=1 before the idle exit')
        self.assertIn('idle', stopping[0][1].get('STATUS', ''))

        # The guest lives on, is found again, and still runs its counter.
        self.assertEqual(harness.find_qemu_pids(g.uuid), pid)
        g.serial.wait_counter(1)
        self.host.start()
        self.assertEqual(g.dom.state, 'running')
        self.assertEqual(g.dom.qemu_pids(), pid)
        before, after = g.serial.wait_advance(2)
        g.dom.destroy()
        g.dom.wait_state('shutoff')

    def test_calls_keep_it_alive(self):
        """A client that keeps calling (even only reading) keeps the daemon;
        once it stops, the daemon goes after idle_timeout."""
        self.host.start()
        client = self.host.connect()
        end = time.monotonic() + 3 * IDLE + 1
        while time.monotonic() < end:
            self.assertTrue(self.alive(), 'migrationd exited while a client was calling it')
            client.get_all(harness.MANAGER_PATH, harness.MANAGER_IFACE)
            last_call = time.monotonic()
            holds_for(self.alive, IDLE / 2, 'migrationd running between calls')
        exited = self.wait_idle_exit(DEADLINE)
        self.assertGreaterEqual(exited - last_call, IDLE - 0.2)

    def test_job_keeps_it_alive(self):
        """A migration job (Begin3 done, waiting for its next phase) keeps
        the daemon however long nobody calls; when the job ends (its client
        left the bus), the daemon exits on idle and the guest runs on."""
        self.host.start()
        g = self.make_guest(self.host, start=True, wait_boot=False)
        driver = harness.Client(self.bus.address, 'migration-driver')
        self.addCleanup(driver.close)
        driver.call(g.dom.path, DOMAIN_IFACE, 'Begin3', 'sstu', ('', '', 0, LIVE), 'say')
        self.assertEqual(g.dom.prop('JobType'), 'migration-out')
        holds_for(self.alive, 3 * IDLE + 1, 'migrationd running while a job waits for its next phase')
        driver.close()
        last_call = time.monotonic()
        exited = self.wait_idle_exit(DEADLINE)
        harness.log('exited %.1f s after the job\'s client left' % (exited - last_call))
        self.assertTrue(harness.find_qemu_pids(g.uuid), 'the guest did not survive')
        self.host.start()
        self.assertEqual(g.dom.state, 'running')
        self.assertEqual(g.dom.prop('JobType'), 'none')
        g.dom.destroy()
        g.dom.wait_state('shutoff')


if __name__ == '__main__':
    harness.main()
