#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""migrationctl migrate with the feature options: --parallel N --compress
METHOD, --auto-converge, --protocol 2, --offline; each exits 0 and its effect
is visible (job statistics, the protocol the hosts accept, the definition
that moved). Plus the combinations migrationctl refuses before anything
starts."""

import json
import os
import signal
import subprocess
import time

import feattest
from feattest import (FeatureTestCase, FGuest, job_stats, assert_moved, assert_runs_here, find_qemu_pids,
                      wait_until, pid_alive, log, DEADLINE, MIGRATION_DEADLINE)
import harness


class CtlMixin:

    def ctl_start(self, *args):
        argv = [harness.MIGRATIONCTL, '--no-ask-password', '--bus', self.src.bus.address] + list(args)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is not None or proc.kill())
        return proc

    def ctl_interrupted(self, g, *options):
        """Starts migrationctl migrate @options at 1 MiB/s with a 1 ms downtime
        (it cannot converge) and returns the process once Perform runs; then
        ctl_stop() interrupts it."""
        dst_serial = g.next_serial_path()
        xml_file = os.path.join(self.workdir, 'dest-int-%d.xml' % len(g.serials))
        with open(xml_file, 'w') as f:
            f.write(g.xml(serial_path=dst_serial))
        proc = self.ctl_start('migrate', g.name, '--to-bus', self.dst.bus.address, '--xml', xml_file,
                              '--bandwidth', '1', '--max-downtime', '1', *options)
        # Until the stream really runs: an AbortJob that comes before QEMU has
        # started the stream is lost (see test_jobcontrol.py), and this test is
        # about migrationctl.
        def streaming():
            if proc.poll() is not None:
                return True
            kind, stats = job_stats(self.src, g.path, 0)
            return stats.get('phase') == 'perform3' and stats.get('memory_processed', 0) > 0
        wait_until(streaming, MIGRATION_DEADLINE, 'migrationctl\'s stream to run', poll=0.25)
        if proc.poll() is not None:
            self.fail('migrationctl exited before Perform: %r' % (proc.communicate(),))
        return proc

    def ctl_stop(self, proc):
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: proc.poll() is not None, MIGRATION_DEADLINE, 'migrationctl to exit after SIGINT')
        out, err = proc.communicate()
        log('interrupted migrationctl: exit %d\n--- stdout\n%s--- stderr\n%s' % (proc.returncode, out, err))
        return out, err

    def ctl(self, *args, expect=0):
        argv = [harness.MIGRATIONCTL, '--no-ask-password', '--bus', self.src.bus.address] + list(args)
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        wait_until(lambda: proc.poll() is not None, MIGRATION_DEADLINE, 'migrationctl to exit')
        out, err = proc.communicate()
        log('%s: exit %d after %.1f s\n--- stdout\n%s--- stderr\n%s' % (
            ' '.join(args), proc.returncode, time.monotonic() - t0, out, err))
        if expect is not None:
            self.assertEqual(proc.returncode, expect, 'migrationctl %s: exit %d\n%s%s'
                             % (' '.join(args), proc.returncode, out, err))
        return out, err

    def migrate(self, g, *options, expect=0):
        """migrationctl migrate of running guest @g to the destination, with its
        own serial log there (--xml)."""
        dst_serial = g.next_serial_path()
        xml_file = os.path.join(self.workdir, 'dest-%d.xml' % len(g.serials))
        with open(xml_file, 'w') as f:
            f.write(g.xml(serial_path=dst_serial))
        out, err = self.ctl('migrate', g.name, '--to-bus', self.dst.bus.address, '--xml', xml_file,
                            *options, expect=expect)
        return out, err, dst_serial

    def migrate_and_check(self, g, *options):
        boot, pid = g.snapshot()
        src_serial = g.serial
        out, err, dst_serial = self.migrate(g, *options)
        g.moved_to(self.dst, dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        return out


class MigrationctlOptions(CtlMixin, FeatureTestCase):

    def test_parallel_zstd(self):
        """--parallel 4 --compress zstd: multifd with 4 channels and zstd (JSON output and GetJobStats(1))."""
        g = FGuest(self, self.src)
        out = self.migrate_and_check(g, '--live', '--json', '--parallel', '4', '--compress', 'zstd')
        report = json.loads(out)
        expected = {'qemu.cap.multifd': True, 'qemu.multifd-channels': 4, 'qemu.multifd-compression': 'zstd',
                    'qemu.cap.xbzrle': False}
        for k, v in expected.items():
            self.assertEqual(report.get(k), v, 'migrationctl --json: %s is %r (%r)' % (k, report.get(k), report))
        self.assertIs(report.get('success'), True)
        self.assertEqual(report.get('destination_domain'), g.path)
        kind, stats = job_stats(self.src, g.path, 1)
        self.assertEqual(kind, 'completed')
        self.assertSettings(stats, expected, 'the source\'s GetJobStats(1)')
        g.destroy()

    def test_auto_converge(self):
        """--auto-converge: the job ran with QEMU's auto-converge capability."""
        g = FGuest(self, self.src)
        out = self.migrate_and_check(g, '--live', '--auto-converge')
        self.assertRegex(out, r"Migrated '%s' to .* in \d+\.\ds" % g.name)
        kind, stats = job_stats(self.src, g.path, 1)
        self.assertSettings(stats, {'qemu.cap.auto-converge': True, 'qemu.cpu-throttle-initial': 20,
                                    'qemu.cpu-throttle-increment': 10, 'qemu.cap.multifd': False},
                            'the source\'s GetJobStats(1)')
        g.destroy()

    def test_compress_plain(self):
        """--compress xbzrle with --plain: the plain phases carry the flag (xbzrle is the default method).
        Under TCG before QEMU 9.0 --live is refused (Error.Unsafe: XBZRLE loses
        writes there) and the migration is paused for the copy instead."""
        g = FGuest(self, self.src)
        live = ('--live',)
        if harness.tcg_dirty_tracking_flawed():
            _, pid = g.snapshot()
            out, err, _ = self.migrate(g, '--live', '--plain', '--compress', 'xbzrle', expect=1)
            self.assertIn('XBZRLE', err, 'migrationctl did not say why: %r' % err)
            assert_runs_here(self, g, self.src, pid)
            self.assertEqual(self.dst.list_domains(0), [])
            live = ()
        self.migrate_and_check(g, *live, '--plain', '--compress', 'xbzrle')
        kind, stats = job_stats(self.src, g.path, 1)
        self.assertSettings(stats, {'qemu.cap.xbzrle': True, 'qemu.cap.multifd': False},
                            'the source\'s GetJobStats(1)')
        g.destroy()

    def test_offline(self):
        """--offline --persistent --undefine-source on a shut-off domain: the definition moves."""
        g = FGuest(self, self.src, start=False, title='moved by migrationctl')
        out, err = self.ctl('migrate', g.name, '--to-bus', self.dst.bus.address, '--offline', '--persistent',
                            '--undefine-source')
        self.assertIn("Moved the definition of '%s'" % g.name, out)
        dom = g.dom(self.dst)
        self.assertEqual((dom.prop('State'), dom.prop('Persistent')), ('shutoff', True))
        self.assertIn('moved by migrationctl', dom.xml())
        with self.assertDBusError('NoSuchDomain'):
            self.src.lookup_uuid(g.uuid)
        self.assertEqual(find_qemu_pids(g.uuid), [])

    def test_postcopy_flag(self):
        """--postcopy alone: post-copy enabled in QEMU, never switched; a converging guest completes in pre-copy."""
        g = FGuest(self, self.src)
        out = self.migrate_and_check(g, '--live', '--postcopy')
        self.assertNotIn('post-copy', out)
        kind, stats = job_stats(self.src, g.path, 1)
        self.assertSettings(stats, {'qemu.cap.postcopy-ram': True}, 'the source\'s GetJobStats(1)')
        self.assertNotEqual(g.dom(self.dst).prop('StateReason'), 'postcopy')
        g.destroy()

    def test_change_protection(self):
        """--change-protection: DefineXML refused while migrationctl runs the job; Ctrl-C
        rolls back (exit 130) and the definition is free again."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        proc = self.ctl_interrupted(g, '--live', '--change-protection')
        with self.assertDBusError('JobActive', 'holds'):
            self.src.define(g.xml(title='changed during the migration'))
        out, err = self.ctl_stop(proc)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn('stays on the source', err)
        self.speed_up(g)
        assert_runs_here(self, g, self.src, pid, ' after Ctrl-C')
        self.src.define(g.xml(title='changed after the migration'))
        self.assertIn('changed after the migration', g.dom(self.src).xml(2))
        self.assertEqual(self.dst.list_domains(0), [])
        g.destroy()

    def test_refusals(self):
        """Combinations migrationctl or the daemon refuse leave the guest where it was, without a job."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        cases = [
            (('--live', '--plain', '--parallel', '4'), '--parallel'),
            (('--live', '--protocol', '2', '--compress', 'zstd', '--parallel', '2'), '--parallel'),
            (('--live', '--protocol', '2', '--offline', '--persistent'), '--offline'),
            (('--live', '--compress', 'zstd'), 'PARALLEL'),           # the daemon: zstd needs PARALLEL
            (('--offline',), 'PERSIST_DEST'),                          # the daemon: OFFLINE needs PERSIST_DEST
            (('--live', '--protocol', '4'), '--protocol'),
            (('--live', '--parallel', '0'), '--parallel'),
        ]
        for options, says in cases:
            out, err, _ = self.migrate(g, *options, expect=1)
            self.assertIn(says, err, 'migrationctl %s did not say why: %r' % (' '.join(options), err))
            dom = g.dom(self.src)
            self.assertEqual((dom.prop('State'), dom.prop('JobType')), ('running', 'none'))
            self.assertEqual(self.dst.list_domains(0), [])
        assert_runs_here(self, g, self.src, pid)
        g.destroy()


class MigrationctlProtocol2(CtlMixin, FeatureTestCase):
    # Hosts that speak only protocol 2: protocol 3 is refused, so a migration
    # that works went through Prepare2/Perform2/Finish2.
    source_config = {'migration': {'protocol_versions': '2'}}
    destination_config = {'migration': {'protocol_versions': '2'}}

    def test_protocol2(self):
        """--protocol 2 between hosts that accept only protocol 2; without it the same migration is refused."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        src_serial = g.serial
        out, err, _ = self.migrate(g, '--live', expect=1)
        self.assertIn('protocol_versions', err)
        self.assertEqual(g.dom(self.src).prop('JobType'), 'none')
        out, err, dst_serial = self.migrate(g, '--live', '--protocol', '2')
        self.assertRegex(out, r"Migrated '%s' to " % g.name)
        g.moved_to(self.dst, dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        src_dom = g.dom(self.src)
        self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('shutoff', 'migrated'))
        dst_dom = g.dom(self.dst)
        self.assertEqual((dst_dom.prop('State'), dst_dom.prop('StateReason')), ('running', 'migrated'))
        g.destroy()


    def test_protocol2_interrupt(self):
        """--protocol 2 interrupted during Perform2: AbortJob, Finish2(retcode=1), exit 130, the guest stays."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        proc = self.ctl_interrupted(g, '--live', '--protocol', '2')
        dst_pid = [p for p in g.qemu_pids() if p != pid]
        self.assertEqual(len(dst_pid), 1, 'no incoming QEMU during Perform2')
        out, err = self.ctl_stop(proc)
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn('stays on the source', err)
        wait_until(lambda: not pid_alive(dst_pid[0]), DEADLINE, 'the incoming QEMU to go')
        self.assertEqual(self.dst.list_domains(0), [])
        self.speed_up(g)
        assert_runs_here(self, g, self.src, pid, ' after Ctrl-C')
        self.assertIn(job_stats(self.src, g.path, 1)[0], ('cancelled', 'failed'))
        g.destroy()


if __name__ == '__main__':
    feattest.main()
