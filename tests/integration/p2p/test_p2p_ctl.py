#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""migrationctl migrate --to=migration+tls://HOST:PORT: peer-to-peer from
the command line (one MigrateToURI3 on the source's bus), with the progress
of managed mode, --json, Ctrl-C (AbortJob on the source) and the usage
errors."""

import json
import os
import re
import signal
import subprocess
import time

import p2ptest
from p2ptest import (P2PTestCase, MIGRATION_DEADLINE, DEADLINE, DOMAIN_IFACE, assert_monotonic, snapshot_before,
                     wait_until, log, harness)

PROGRESS_LINE = re.compile(r'^(begin3|perform3|perform3_done|confirm3|starting) (\d+)%')


def job_stats(host, path, flags=0):
    return host.connect().call(path, DOMAIN_IFACE, 'GetJobStats', 'u', (flags,), 'sa{sv}')


class Ctl(P2PTestCase):

    def setUp(self):
        super().setUp()
        if not harness.MIGRATIONCTL or not os.access(harness.MIGRATIONCTL, os.X_OK):
            harness.fail_everything('MD_MIGRATIONCTL (%r) is not an executable' % harness.MIGRATIONCTL)

    def argv(self, host, *args):
        return [harness.MIGRATIONCTL, '--no-ask-password', '--bus', host.bus.address] + [str(a) for a in args]

    def env(self):
        env = dict(os.environ)
        for k in ('DBUS_SYSTEM_BUS_ADDRESS', 'DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS'):
            env.pop(k, None)
        return env

    def ctl(self, host, *args, expect=0):
        argv = self.argv(host, *args)
        t0 = time.monotonic()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.env(), timeout=MIGRATION_DEADLINE)
        out, err = p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace')
        log('%s: exit %d after %.1f s\n--- stdout\n%s--- stderr\n%s' % (
            ' '.join(argv[3:]), p.returncode, time.monotonic() - t0, out, err))
        if expect is not None:
            self.assertEqual(p.returncode, expect, 'migrationctl %s: exit %d\n%s%s' % (
                ' '.join(argv[3:]), p.returncode, out, err))
        return out, err

    def dest_xml(self, g):
        """A destination XML with a serial log of its own; returns (file, serial path)."""
        serial = g.next_serial_path()
        path = os.path.join(self.workdir, 'dest-%d.xml' % len(g.serials))
        with open(path, 'w') as f:
            f.write(g.xml(serial_path=serial))
        return path, serial

    def uri(self, host):
        return 'migration+tls://127.0.0.1:%d' % host.bridge_port

    def test_migrationctl(self):
        """migrationctl migrate NAME --to URI: the usage errors; there with
        --tls --live --json; back with progress lines (stdout is a pipe)
        under a speed limit; there again with --postcopy-after; back to a
        host without a bridge (the source daemon's error, nothing moves)."""
        a, b = self.a, self.b
        self.bridge(a)
        self.bridge(b)
        g = self.guest(a, profile='light')

        # Usage errors, before anything starts.
        for args, msg in ((('--to', self.uri(b), '--to-bus', b.bus.address), '--to and --to-bus'),
                          (('--to', self.uri(b), '--plain'), '--plain cannot be used with --to'),
                          (('--to', self.uri(b), '--protocol', '2'), '--protocol cannot be used with --to'),
                          (('--to', 'qemu+ssh://127.0.0.1/system'), 'Invalid value for --to')):
            out, err = self.ctl(a, 'migrate', g.name, *args, expect=1)
            self.assertIn(msg, err)
            self.assertEqual(out, '')
        self.assertEqual(job_stats(a, g.path, 1)[0], 'none', 'a usage error started a job')

        # There, with TLS, --json.
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        xml, serial = self.dest_xml(g)
        out, err = self.ctl(a, 'migrate', g.name, '--to', self.uri(b), '--tls', '--live', '--xml', xml, '--json')
        result = json.loads(out)
        self.assertIs(result.get('success'), True, result)
        self.assertEqual(result.get('errmsg'), '')
        self.assertEqual(result.get('progress'), 100.0)
        self.assertEqual(result.get('destination_domain'), g.path)
        self.assertEqual(result.get('destination_uri'), self.uri(b))
        self.moved(g, b, src_serial, serial, src_pid, boot)
        self.assertRegex(self.daemon_log(a), r'Peer-to-peer migration to %s with protocol' % re.escape(self.uri(b)))

        # Back, with progress lines, under a limit the guest converges with
        # (8 MiB dirty in a 4 s downtime at 4 MiB/s), slow enough that the
        # stream outlasts several JobStatsUpdated (at 8 MiB/s its mostly zero
        # first pass could end before the first one).
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        xml, serial = self.dest_xml(g)
        out, err = self.ctl(b, 'migrate', g.name, '--to', self.uri(a), '--live', '--xml', xml,
                            '--bandwidth', 4, '--max-downtime', 4000)
        self.assertNotIn('\r', out, 'a progress bar drawn on a pipe')
        self.assertNotIn('\x1b', out, 'terminal escapes on a pipe')
        lines = out.splitlines()
        progress = [l for l in lines if PROGRESS_LINE.match(l)]
        self.assertTrue(progress, 'no progress lines on stdout: %r' % out)
        self.assertTrue(any(l.startswith('perform3 ') for l in progress), progress)
        assert_monotonic(self, [int(PROGRESS_LINE.match(l).group(2)) for l in progress],
                         'the percentages of the progress lines')
        self.assertRegex(lines[-1], r"^Migrated '%s' to %s in [0-9.]+s( \(downtime \d+ ms\))?\.$"
                         % (re.escape(g.name), re.escape(self.uri(a))))
        self.moved(g, a, src_serial, serial, src_pid, boot)

        # There again, switched to post-copy 1 s after the stream started (1 MiB/s does not converge).
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        xml, serial = self.dest_xml(g)
        out, err = self.ctl(a, 'migrate', g.name, '--to', self.uri(b), '--live', '--xml', xml,
                            '--bandwidth', 1, '--postcopy-after', 1)
        self.assertRegex(out, r"(?m)^Switched the migration of '%s' to post-copy after [0-9.]+s; the guest runs "
                              r"on the destination now\.$" % re.escape(g.name))
        self.assertRegex(out.splitlines()[-1], r"^Migrated '%s' to %s in " % (re.escape(g.name), re.escape(self.uri(b))))
        self.moved(g, b, src_serial, serial, src_pid, boot)

        # Back, without a bridge on a: the error of the source daemon, and nothing moved.
        self.bridges.pop('a').stop()
        boot, src_pid = snapshot_before(g)
        out, err = self.ctl(b, 'migrate', g.name, '--to', self.uri(a), '--live', expect=1)
        self.assertIn("Failed to migrate '%s' to %s: " % (g.name, self.uri(a)), err)
        self.assertEqual(out, '')
        self.assertStaysHere(g, b, src_pid, ' after migrating to a host without a bridge')
        g.destroy()

    def test_migrationctl_interrupt(self):
        """Ctrl-C during the stream: AbortJob on the source, whose daemon
        cancels the incoming guest on the destination through the bridge;
        migrationctl says so and exits 130, the guest runs on at the
        source, exactly one QEMU is left."""
        a, b = self.a, self.b
        self.bridge(b)
        g = self.guest(a, profile='slow')
        boot, src_pid = snapshot_before(g)
        xml, _ = self.dest_xml(g)
        argv = self.argv(a, 'migrate', g.name, '--to', self.uri(b), '--live', '--xml', xml, '--bandwidth', 1)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env(), text=True)
        self.addCleanup(lambda: proc.poll() is not None or proc.kill())

        def streaming():
            if proc.poll() is not None:
                return True
            kind, stats = job_stats(a, g.path)
            return stats.get('phase') == 'perform3' and stats.get('memory_processed', 0) > 0
        wait_until(streaming, MIGRATION_DEADLINE, "migrationctl's stream to run", poll=0.25)
        if proc.poll() is not None:
            self.fail('migrationctl exited before the stream ran: %r' % (proc.communicate(),))
        # The incoming guest on b exists now.
        self.assertIn(g.path, b.list_domains(0))
        # (migrationctl sends AbortJob once it has seen the stream run itself.)
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: proc.poll() is not None, MIGRATION_DEADLINE, 'migrationctl to exit after Ctrl-C')
        out, err = proc.communicate()
        log('interrupted migrationctl: exit %d\n--- stdout\n%s--- stderr\n%s' % (proc.returncode, out, err))
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn('Aborting the migration', err)
        self.assertIn("Aborted the migration; '%s' stays on the source." % g.name, err)
        self.assertNotIn('Migrated', out)
        self.assertStaysHere(g, a, src_pid, ' after Ctrl-C')
        wait_until(lambda: g.path not in b.list_domains(0), DEADLINE, 'b to throw the incoming guest away')
        self.assertNothingThere(g, b, ' after Ctrl-C')
        kind, stats = job_stats(a, g.path, 1)
        self.assertEqual(kind, 'cancelled', stats)
        g.destroy()

    def test_migrationctl_check(self):
        """migrate NAME --to=URI --check: the preflight (ConnectPeer) and
        exit 0 for a usable peer, nothing migrated; exit 1 with the named
        error for an unreachable or untrusted peer and for an unknown
        domain; --json prints the preflight as JSON."""
        a, b = self.a, self.b
        self.bridge(b)
        g = self.guest(a)
        out, err = self.ctl(a, 'migrate', g.name, '--to', self.uri(b), '--check')
        self.assertRegex(out, r'(?m)^ *Domain: %s \(%s\)$' % (re.escape(g.name), g.uuid))
        self.assertRegex(out, r'(?m)^ *Certificate: CN=host-b$')
        self.assertRegex(out, r'(?m)^ *Protocol: 3-params$')
        self.assertRegex(out, r'(?m)^ *Same host: no$')
        self.assertRegex(out, r'(?m)^ *Usable: yes$')
        self.assertNotIn('Problem', out)
        # Nothing moved, nothing started there.
        self.assertEqual(g.dom(a).prop('State'), 'running')
        self.assertNotIn(g.path, b.list_domains(0))

        out, err = self.ctl(a, '--json', 'migrate', g.name, '--to', self.uri(b), '--check')
        pre = json.loads(out)
        self.assertEqual((pre['usable'], pre['link_reused'], pre['peer_dn']), (True, True, 'CN=host-b'))

        ports = harness.PortBlock()
        self.addCleanup(ports.release)
        out, err = self.ctl(a, 'migrate', g.name, '--to', 'migration+tls://127.0.0.1:%d' % ports.port_min,
                            '--check', expect=1)
        self.assertIn('Failed to connect to the peer', err)
        out, err = self.ctl(a, 'migrate', 'no-such-domain', '--to', self.uri(b), '--check', expect=1)
        self.assertIn('no-such-domain', err)
        out, err = self.ctl(a, 'migrate', g.name, '--check', expect=1)
        self.assertIn('--check needs --to', err)

        # This host trusts only another CA: the bridge is untrusted.
        self.reconfigure(a, ca='ca2')
        out, err = self.ctl(a, 'migrate', g.name, '--to', self.uri(b), '--check', expect=1)
        self.assertIn('Failed to connect to the peer', err)
        self.assertEqual(g.dom(a).prop('State'), 'running')
        g.destroy()


if __name__ == '__main__':
    p2ptest.main()
