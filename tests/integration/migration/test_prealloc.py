#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A guest with <memoryBacking><allocation mode='immediate'/>: both hosts
start its QEMU with the RAM preallocated, the destination's in Prepare."""

from unittest import mock

import migtest
from harness import proc_cmdline
from migtest import MigrationTestCase, MigGuest

MEMORY_MIB = 64
PREALLOC = 'prealloc=on'


def ram_backend(pid):
    """The -object memory-backend-ram argument of QEMU @pid, or None."""
    argv = proc_cmdline(pid) or []
    for opt, value in zip(argv, argv[1:]):
        if opt == '-object' and value.startswith('memory-backend-ram,id=pc.ram,'):
            return value
    return None


def largest_rss_kib(pid):
    """The largest resident size of one mapping of QEMU @pid, in KiB."""
    best = 0
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            if line.startswith('Rss:'):
                best = max(best, int(line.split()[1]))
    return best


class Prealloc(MigrationTestCase):

    def test_immediate(self):
        """allocation mode='immediate', A -> B: the destination QEMU preallocates, the counter goes on."""
        g = MigGuest(self, self.src, memory_mib=MEMORY_MIB,
                     memory_backing="<allocation mode='immediate' threads='2'/>")
        self.assertIn("<allocation mode=\"immediate\" threads=\"2\"/>", g.dom(self.src).call(
            'GetXMLDesc', 'u', (0,), 's')[0])
        src_pid = g.qemu_pid_with(g.serial.path)
        self.assertIn(PREALLOC, ram_backend(src_pid) or '', 'the source QEMU was started without prealloc')

        # The destination QEMU as Prepare3 leaves it, before the stream. Only
        # then does preallocation show: the stream makes all of the RAM
        # resident anyway (measured with mode='ondemand': about 4.8 MiB
        # resident after Prepare3, all 64 MiB after the migration).
        at_prepare = {}
        prepare = migtest.Managed.prepare

        def observed_prepare(m, *args, **kw):
            ret = prepare(m, *args, **kw)
            pid = g.qemu_pid_with(g.next_serial_path())
            at_prepare.update(pid=pid, argv=proc_cmdline(pid), rss=largest_rss_kib(pid))
            return ret

        with mock.patch.object(migtest.Managed, 'prepare', observed_prepare):
            self.migrate_observed(g, self.src, self.dst)

        dst_pid = g.qemu_pid_with(g.serial.path)
        self.assertEqual(dst_pid, at_prepare['pid'], 'the QEMU left is not the one Prepare3 started')
        backend = ram_backend(dst_pid)
        self.assertIsNotNone(backend, 'the destination QEMU has no RAM backend: %r' % proc_cmdline(dst_pid))
        self.assertIn(PREALLOC, backend)
        self.assertIn('prealloc-threads=2', backend)
        argv = at_prepare['argv']
        m_size = argv[argv.index('-m') + 1]
        self.assertIn(m_size, backend, 'the backend is not the -m size (the TCG pad included)')
        self.assertIn('memory-backend=pc.ram', argv)
        self.assertGreaterEqual(at_prepare['rss'], MEMORY_MIB * 1024,
                                'the destination\'s guest RAM was not resident before the stream')
        self.assertIn("<allocation mode=\"immediate\" threads=\"2\"/>", g.dom(self.dst).call(
            'GetXMLDesc', 'u', (0,), 's')[0])
        g.destroy()


if __name__ == '__main__':
    migtest.main()
