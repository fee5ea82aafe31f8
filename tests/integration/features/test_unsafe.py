#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live migration under TCG is exact, or refused with Error.Unsafe.

QEMU before 9.0 under TCG loses guest writes during a live migration when
the guest's RAM block is a multiple of 256 KiB. migrationd gives TCG guests
8 KiB more (off that grid); a guest whose QEMU has RAM on the grid (started
by an older daemon; here through a wrapper that strips the 8 KiB) is
refused LIVE unless UNSAFE, and migrates exactly without LIVE (paused for
the copy), its destination QEMU given the same RAM size through the cookie.
The guests are type 'qemu' (TCG) on every machine."""

import os

from feattest import (FeatureTestCase, FGuest, LIVE, UNSAFE, Mig, assert_moved, assert_runs_here,
                      dbus_error_name, dbus_error_message, mcall, proc_cmdline, wait_until, DEADLINE)
import feattest
import harness
import migtest  # feattest puts it on the path
from gi.repository import GLib

WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'qemu-ram-on-grid')
MEMORY_MIB = 64


def ram_arg(pid):
    argv = proc_cmdline(pid) or []
    return next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == '-m'), None)


class Unsafe(FeatureTestCase):

    def old_guest(self):
        g = FGuest(self, self.src, virt_type='qemu', memory_mib=MEMORY_MIB,
                   devices_extra='    <emulator>%s</emulator>' % WRAPPER)
        boot, pid = g.snapshot()
        self.assertEqual(ram_arg(pid), 'size=%dk' % (MEMORY_MIB * 1024), 'the wrapper did not take effect')
        return g, boot, pid

    def test_padded(self):
        """A TCG guest started here gets 8 KiB more RAM; GetCapabilities says how TCG is kept exact."""
        g = FGuest(self, self.src, virt_type='qemu', memory_mib=MEMORY_MIB)
        _, pid = g.snapshot()
        self.assertEqual(ram_arg(pid), 'size=%dk' % (MEMORY_MIB * 1024 + 8))
        (caps,) = mcall(self.src, 'GetCapabilities', None, (), 'a{sv}')
        self.assertEqual(caps['tcg_live_guard'], 'ram-off-grid')
        self.assertIn('tcg-live-safe', caps['features'])
        g.destroy()

    def test_live_refused(self):
        """LIVE on a guest with RAM on the grid: Error.Unsafe naming the ways out; nothing changes."""
        g, _, pid = self.old_guest()
        m = Mig(self, g, self.src, self.dst, flags=LIVE)
        if harness.qemu_version() >= (9, 0):
            m.begin()          # QEMU 9.0 fixed the loss: nothing to refuse
            m.confirm(cancelled=True)
            assert_runs_here(self, g, self.src, pid)
            g.destroy()
            return
        with self.assertRaises(GLib.Error) as cm:
            m.begin()
        self.assertEqual(dbus_error_name(cm.exception), 'org.example.Migration1.Error.Unsafe')
        msg = dbus_error_message(cm.exception)
        for word in ('TCG', 'without LIVE', 'UNSAFE', g.name):
            self.assertIn(word, msg)
        self.assertEqual(g.dom(self.src).prop('JobType'), 'none')
        assert_runs_here(self, g, self.src, pid)
        g.destroy()

    def test_unsafe_forces(self):
        """LIVE|UNSAFE is accepted (libvirt's force); the job can be cancelled and the guest runs on."""
        g, _, pid = self.old_guest()
        m = Mig(self, g, self.src, self.dst, flags=LIVE | UNSAFE)
        m.begin()
        self.assertEqual(g.dom(self.src).prop('JobType'), 'migration-out')
        m.confirm(cancelled=True)
        assert_runs_here(self, g, self.src, pid)
        g.destroy()

    def test_not_live_exact(self):
        """Without LIVE the old guest moves exactly; the destination QEMU gets the source's RAM size."""
        g, boot, pid = self.old_guest()
        src_serial = g.serial
        m = Mig(self, g, self.src, self.dst, flags=0)
        m.run()
        assert_moved(self, src_serial, g.serial, pid, boot)
        dst_pids = g.qemu_pids()
        self.assertEqual(len(dst_pids), 1)
        self.assertEqual(ram_arg(dst_pids[0]), 'size=%dk' % (MEMORY_MIB * 1024))
        wait_until(lambda: g.dom(self.dst).prop('State') == 'running', DEADLINE, 'the guest to run')
        g.destroy()



class UnsafeDisk(FeatureTestCase):
    """libvirt's rule for disks: LIVE with a writable disk whose cache mode
    is not none or directsync, on storage not known to be shared (the test's
    directory is a local file system), is refused unless UNSAFE."""

    def disk_guest(self, cache, extra=''):
        img = migtest.disk_image(self, 'disk-%s.img' % cache)
        g = FGuest(self, self.src, devices_extra=migtest.disk_xml(img, cache=cache) + extra)
        boot, pid = g.snapshot()
        return g, img, boot, pid

    def test_refused(self):
        """cache='writeback' on a local file system: Error.Unsafe naming the domain, the disk, the cache mode and the ways out."""
        g, img, _, pid = self.disk_guest('writeback')
        m = Mig(self, g, self.src, self.dst, flags=LIVE)
        with self.assertRaises(GLib.Error) as cm:
            m.begin()
        self.assertEqual(dbus_error_name(cm.exception), 'org.example.Migration1.Error.Unsafe')
        msg = dbus_error_message(cm.exception)
        for word in (g.name, 'vda', img, "'writeback'", "cache='none'", "cache='directsync'", 'shared storage',
                     'UNSAFE'):
            self.assertIn(word, msg)
        self.assertEqual(g.dom(self.src).prop('JobType'), 'none')
        assert_runs_here(self, g, self.src, pid)
        g.destroy()

    def test_cache_none_moves(self):
        """cache='none' (and an empty cdrom, a read-only disk with writeback beside it): the guest moves live."""
        ro = migtest.disk_image(self, 'readonly.img')
        extra = ("\n    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>"
                 "\n    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='writeback'/>"
                 "<source file='%s'/><target dev='vdb' bus='virtio'/><readonly/></disk>" % ro)
        g, _, boot, pid = self.disk_guest('none', extra)
        src_serial = g.serial
        Mig(self, g, self.src, self.dst, flags=LIVE).run()
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()

    def test_unsafe_forces(self):
        """cache='writeback' with LIVE|UNSAFE: accepted (libvirt's force); cancelled, the guest runs on."""
        g, _, _, pid = self.disk_guest('writeback')
        m = Mig(self, g, self.src, self.dst, flags=LIVE | UNSAFE)
        m.begin()
        self.assertEqual(g.dom(self.src).prop('JobType'), 'migration-out')
        m.confirm(cancelled=True)
        assert_runs_here(self, g, self.src, pid)
        g.destroy()


if __name__ == '__main__':
    feattest.main()
