#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""migrationctl migrate: managed migration from the command line, there
with --json, back with progress lines (stdout is not a terminal)."""

import json
import os
import re
import subprocess

import migtest
from migtest import (MigrationTestCase, MigGuest, assert_moved, snapshot_before, log, harness,
                     MIGRATION_DEADLINE)

PROGRESS_LINE = re.compile(r'^(begin3|perform3|perform3_done|confirm3|starting) \d+%')


class Ctl(MigrationTestCase):

    def ctl(self, *args):
        if not harness.MIGRATIONCTL or not os.access(harness.MIGRATIONCTL, os.X_OK):
            harness.fail_everything('MD_MIGRATIONCTL (%r) is not an executable' % harness.MIGRATIONCTL)
        argv = [harness.MIGRATIONCTL] + [str(a) for a in args]
        log('running ' + ' '.join(argv))
        env = dict(os.environ)
        for k in ('DBUS_SYSTEM_BUS_ADDRESS', 'DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS'):
            env.pop(k, None)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=MIGRATION_DEADLINE)
        out, err = p.stdout.decode(errors='replace'), p.stderr.decode(errors='replace')
        for line in out.splitlines():
            log('  stdout| ' + line)
        for line in err.splitlines():
            log('  stderr| ' + line)
        return p.returncode, out, err

    def write_xml(self, guest, serial_path):
        path = os.path.join(self.workdir, 'dest-%d.xml' % len(guest.serials))
        with open(path, 'w') as f:
            f.write(guest.xml(serial_path=serial_path))
        return path

    def test_migrate(self):
        """migrationctl migrate --live --xml --json there, and back with progress lines."""
        g = MigGuest(self, self.src, profile='light')
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        dst_serial = g.next_serial_path()
        xml = self.write_xml(g, dst_serial)

        rc, out, err = self.ctl('--bus', self.src.bus.address, 'migrate', g.name, '--to-bus', self.dst.bus.address,
                                '--live', '--xml', xml, '--json')
        self.assertEqual(rc, 0, 'migrationctl migrate failed: %s' % err)
        result = json.loads(out)
        self.assertIs(result.get('success'), True, result)
        self.assertEqual(result.get('errmsg'), '')
        self.assertEqual(result.get('destination_domain'), g.path)
        self.assertIsInstance(result.get('destination_downtime'), int)
        self.assertEqual(result.get('progress'), 100.0)
        g.serials.append(harness.SerialLog(dst_serial))
        g.host = self.dst
        assert_moved(self, g, src_serial, g.serial, src_pid, boot)
        self.assertEqual(g.dom(self.dst).prop('State'), 'running')
        self.assertEqual(g.dom(self.src).prop('State'), 'shutoff')

        # The last job as jobinfo sees it, on both hosts.
        for host in (self.src, self.dst):
            rc, out, err = self.ctl('--bus', host.bus.address, 'jobinfo', g.name, '--completed', '--json')
            self.assertEqual(rc, 0, err)
            self.assertIn('"completed"', out)

        # Back, plain arguments, under a speed limit the guest's 8 MiB dirty
        # area converges with (one pass at 8 MiB/s fits in 2 s of downtime),
        # so that the stream lasts long enough for progress lines.
        _, src_pid = snapshot_before(g)
        src_serial = g.serial
        dst_serial = g.next_serial_path()
        xml = self.write_xml(g, dst_serial)
        rc, out, err = self.ctl('--bus', self.dst.bus.address, 'migrate', g.name, '--to-bus', self.src.bus.address,
                                '--live', '--xml', xml, '--plain', '--bandwidth', 8, '--max-downtime', 2000)
        self.assertEqual(rc, 0, 'migrationctl migrate failed: %s' % err)
        self.assertNotIn('\r', out, 'a progress bar drawn on a pipe')
        self.assertNotIn('\x1b', out, 'terminal escapes on a pipe')
        lines = out.splitlines()
        progress = [l for l in lines if PROGRESS_LINE.match(l)]
        self.assertTrue(progress, 'no progress lines on stdout: %r' % out)
        self.assertRegex(lines[-1], r"^Migrated '%s' to .* in [0-9.]+s( \(downtime \d+ ms\))?\.$" % re.escape(g.name))
        percents = [int(re.match(r'^\S+ (\d+)%', l).group(1)) for l in progress]
        migtest.assert_monotonic(self, percents, 'the percentages of the progress lines')
        g.serials.append(harness.SerialLog(dst_serial))
        g.host = self.src
        assert_moved(self, g, src_serial, g.serial, src_pid, boot)
        self.assertEqual(self.dst.list_domains(0), [])
        g.destroy()


if __name__ == '__main__':
    migtest.main()
