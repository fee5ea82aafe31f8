#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Storage migration (NON_SHARED_DISK, libvirt's NBD flow): the guest's
qcow2 image lives in a directory only the source uses; the destination's
XML names another path, which does not exist before Prepare creates it.
The copy must equal the source's image once the guest is gone; a migration
cancelled after Prepare removes the image the destination created and the
guest runs on at the source."""

import os
import subprocess

from feattest import (FeatureTestCase, FGuest, LIVE, Mig, assert_moved, assert_runs_here, recorder,
                      SIGNAL_DEADLINE)
import feattest
from test_migrationctl import CtlMixin

NON_SHARED_DISK = 1 << 6
DISK_SIZE = 8 << 20


def qcow2_image(tc, name):
    """A qcow2 image in its own directory, with a pattern written into its first MiB."""
    d = os.path.join(tc.workdir, 'src-storage')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, str(DISK_SIZE)], check=True)
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 1M', path], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def qcow2_disk_xml(path):
    return ("    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2' cache='none'/>\n"
            "      <source file='%s'/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>" % path)


class Storage(FeatureTestCase):

    def guest(self):
        src_img = qcow2_image(self, 'disk.qcow2')
        dst_dir = os.path.join(self.workdir, 'dst-storage')
        os.makedirs(dst_dir, exist_ok=True)
        dst_img = os.path.join(dst_dir, 'disk.qcow2')
        g = FGuest(self, self.src, devices_extra=qcow2_disk_xml(src_img))
        boot, pid = g.snapshot()
        return g, src_img, dst_img, boot, pid

    def test_full_copy(self):
        """LIVE|NON_SHARED_DISK: the destination creates the image, the guest moves, the copy is exact."""
        g, src_img, dst_img, boot, pid = self.guest()
        src_serial = g.serial
        self.assertFalse(os.path.exists(dst_img))
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        with recorder(self.src, g.path) as rec:
            m.run()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
        assert_moved(self, src_serial, g.serial, pid, boot)
        self.assertTrue(os.path.exists(dst_img))
        # libvirt's disk statistics in the source's JobCompleted: everything copied.
        completed = done.args[0]
        self.assertGreaterEqual(completed['disk_total'], 1 << 20, completed)
        self.assertEqual(completed['disk_processed'], completed['disk_total'])
        self.assertEqual(completed['disk_remaining'], 0)
        self.assertIn('disk_bps', completed)
        # data_* are memory and disks together; JobProgress climbed through
        # the copy and the stream, never back, and ended at 100.
        self.assertEqual(completed['data_total'], completed['memory_total'] + completed['disk_total'])
        self.assertEqual(completed['progress'], 100.0)
        seen = [dict(s.args[1])['JobProgress'] for s in rec.signals
                if s.member == 'PropertiesChanged' and 'JobProgress' in dict(s.args[1])]
        self.assertEqual(seen[-1], 100.0, seen)
        self.assertEqual(seen[:-1], sorted(seen[:-1]), 'JobProgress went back: %r' % seen)
        self.assertTrue(all(p < 100 for p in seen[:-1]), seen)
        g.destroy()
        info = subprocess.run(['qemu-img', 'info', '--output=json', dst_img], check=True,
                              capture_output=True, text=True).stdout
        self.assertIn('"format": "qcow2"', info)
        self.assertIn('"virtual-size": %d' % DISK_SIZE, info)
        cmp = subprocess.run(['qemu-img', 'compare', '-f', 'qcow2', '-F', 'qcow2', src_img, dst_img],
                             capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)

    def test_cancel_removes_created_image(self):
        """Cancelled after Prepare: the created image is removed; the guest runs on at the source."""
        g, src_img, dst_img, _, pid = self.guest()
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        m.begin()
        m.prepare()
        self.assertTrue(os.path.exists(dst_img), 'Prepare did not create the image')
        m.finish(cancelled=True)
        m.confirm(cancelled=True)
        self.assertFalse(os.path.exists(dst_img), 'the created image was left behind')
        self.assertTrue(os.path.exists(src_img))
        assert_runs_here(self, g, self.src, pid)
        g.destroy()


class StorageCtl(CtlMixin, FeatureTestCase):

    def test_copy_storage_all(self):
        """migrationctl migrate --live --copy-storage-all with a destination XML naming another image path."""
        src_img = qcow2_image(self, 'disk.qcow2')
        dst_dir = os.path.join(self.workdir, 'dst-storage')
        os.makedirs(dst_dir, exist_ok=True)
        dst_img = os.path.join(dst_dir, 'disk.qcow2')
        g = FGuest(self, self.src, devices_extra=qcow2_disk_xml(src_img))
        boot, pid = g.snapshot()
        src_serial = g.serial
        dst_serial = g.next_serial_path()
        xml_file = os.path.join(self.workdir, 'dest-storage.xml')
        with open(xml_file, 'w') as f:
            f.write(g.xml(serial_path=dst_serial).replace(src_img, dst_img))
        self.ctl('migrate', g.name, '--to-bus', self.dst.bus.address, '--xml', xml_file, '--live',
                 '--copy-storage-all')
        g.moved_to(self.dst, dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()
        cmp = subprocess.run(['qemu-img', 'compare', src_img, dst_img], capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)


if __name__ == '__main__':
    feattest.main()
