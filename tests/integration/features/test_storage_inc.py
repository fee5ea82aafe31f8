#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Storage migration of the top image only (NON_SHARED_INC) and Prepare's
refusals. The guest's qcow2 overlay lives in a directory only the source
uses, on top of a base image both hosts share (the same path); the
destination XML names another overlay path, which Prepare creates on top of
the same base. Only what the overlay holds crosses; what the base holds
stays unallocated in the destination's overlay. Refusals: the base missing
at the destination, an image the destination cannot create; each fails at
Prepare, and the guest runs on at the source with nothing left behind."""

import json
import os
import subprocess
import sys

from feattest import FeatureTestCase, FGuest, LIVE, Mig, assert_moved, assert_runs_here, recorder, SIGNAL_DEADLINE
import feattest
from test_migrationctl import CtlMixin
from test_storage import DISK_SIZE, qcow2_disk_xml

NON_SHARED_DISK = 1 << 6
NON_SHARED_INC = 1 << 7
MIB = 1 << 20


def qemu_io(path, fmt, cmd):
    subprocess.run(['qemu-io', '-f', fmt, '-c', cmd, path], check=True, stdout=subprocess.DEVNULL)


def image_info(path):
    return json.loads(subprocess.run(['qemu-img', 'info', '-U', '--output=json', path], check=True,
                                     capture_output=True, text=True).stdout)


def top_allocated(path):
    """[(offset, length)] of the data the image itself holds (not its backing file)."""
    out = subprocess.run(['qemu-img', 'map', '-U', '--output=json', path], check=True, capture_output=True,
                         text=True).stdout
    return [(e['start'], e['length']) for e in json.loads(out) if e['depth'] == 0 and e['data']]


def images(tc, backing=True):
    """(base or None, the source's image, the path of the destination's, which does not exist yet)."""
    src_dir = os.path.join(tc.workdir, 'src-storage')
    dst_dir = os.path.join(tc.workdir, 'dst-storage')
    os.makedirs(src_dir)
    os.makedirs(dst_dir)
    top = os.path.join(src_dir, 'top.qcow2')
    base = None
    if backing:
        # The shared base: 0x11 in its first MiB; the overlay: 0x5a in the third.
        base = os.path.join(tc.workdir, 'shared', 'base.qcow2')
        os.makedirs(os.path.dirname(base))
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, str(DISK_SIZE)], check=True)
        qemu_io(base, 'qcow2', 'write -P 0x11 0 1M')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top], check=True)
    else:
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', top, str(DISK_SIZE)], check=True)
        qemu_io(top, 'qcow2', 'write -P 0x11 0 1M')
    qemu_io(top, 'qcow2', 'write -P 0x5a 2M 1M')
    return base, top, os.path.join(dst_dir, 'top.qcow2')


class StorageInc(FeatureTestCase):

    def moved(self, flags, backing=True):
        base, top, dst_top = images(self, backing)
        g = FGuest(self, self.src, devices_extra=qcow2_disk_xml(top))
        boot, pid = g.snapshot()
        src_serial = g.serial
        m = Mig(self, g, self.src, self.dst, flags=flags)
        m.dest_xml = m.dest_xml.replace(top, dst_top)
        with recorder(self.src, g.path) as rec:
            m.run()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()
        cmp = subprocess.run(['qemu-img', 'compare', top, dst_top], capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, 'the guest sees another disk at the destination: '
                         + cmp.stdout + cmp.stderr)
        return base, dst_top, done.args[0]

    def test_top_only(self):
        """LIVE|NON_SHARED_INC: the destination's overlay is created on the shared base; only the top crosses."""
        base, dst_top, completed = self.moved(LIVE | NON_SHARED_INC)
        info = image_info(dst_top)
        self.assertEqual((info['format'], info['virtual-size']), ('qcow2', DISK_SIZE), info)
        self.assertEqual(info.get('full-backing-filename'), base, info)
        self.assertEqual(info.get('backing-filename-format'), 'qcow2', info)
        # The base's MiB stayed in the base: only the overlay's MiB was copied.
        self.assertEqual(top_allocated(dst_top), [(2 * MIB, MIB)])
        self.assertLess(completed['disk_total'], 2 * MIB, completed)
        self.assertEqual(completed['disk_processed'], completed['disk_total'], completed)

    def test_without_backing_copies_all(self):
        """NON_SHARED_INC of an image without backing file copies it whole (as libvirt: its top is all of it)."""
        _, dst_top, _ = self.moved(LIVE | NON_SHARED_INC, backing=False)
        self.assertNotIn('backing-filename', image_info(dst_top))
        self.assertEqual(sorted(top_allocated(dst_top)), [(0, MIB), (2 * MIB, MIB)])

    def refused_at_prepare(self, flags, top, dst_top, error, *parts, before_prepare=None):
        """Begin, then Prepare fails with @error naming @parts; the client
        cancels; the guest runs on at the source, the destination has no
        domain and no image."""
        g = FGuest(self, self.src, devices_extra=qcow2_disk_xml(top))
        _, pid = g.snapshot()
        m = Mig(self, g, self.src, self.dst, flags=flags)
        m.dest_xml = m.dest_xml.replace(top, dst_top)
        m.begin()
        if before_prepare:
            before_prepare()
        with self.assertDBusError(error, *parts) as ctx:
            m.prepare()
        sys.stderr.write('Prepare3Params refused as expected: %s: %s\n' % (ctx.name, ctx.message))
        m.confirm(cancelled=True)
        assert_runs_here(self, g, self.src, pid)
        self.assertEqual(self.dst.list_domains(), [], 'Prepare left a domain at the destination')
        self.assertFalse(os.path.exists(dst_top), 'Prepare left the image %s' % dst_top)
        return g

    def test_backing_missing_at_destination(self):
        """NON_SHARED_INC, the base not at the destination: Prepare names disk and base; the guest stays."""
        base, top, dst_top = images(self)
        hidden = base + '.elsewhere'

        def hide():
            # One file system for both hosts: the base leaves between Begin and
            # Prepare (the source's QEMU keeps it open).
            os.rename(base, hidden)
            self.addCleanup(lambda: os.path.exists(hidden) and os.rename(hidden, base))
        g = self.refused_at_prepare(LIVE | NON_SHARED_INC, top, dst_top, 'MigrationFailed', 'disk vda',
                                    'backing file %s' % base, 'NON_SHARED_DISK', before_prepare=hide)
        os.rename(hidden, base)
        g.destroy()

    def test_destination_cannot_create(self):
        """NON_SHARED_DISK, the destination XML names an image in a missing directory: Prepare fails, the guest stays."""
        _, top, _ = images(self, backing=False)
        dst_top = os.path.join(self.workdir, 'no-such-dir', 'top.qcow2')
        g = self.refused_at_prepare(LIVE | NON_SHARED_DISK, top, dst_top, 'MigrationFailed',
                                    'Cannot create image %s for disk vda' % dst_top, 'No such file or directory')
        self.assertFalse(os.path.exists(os.path.dirname(dst_top)))
        g.destroy()


class StorageIncCtl(CtlMixin, FeatureTestCase):

    def test_copy_storage_inc(self):
        """migrationctl migrate --live --copy-storage-inc: the destination's overlay holds only the top."""
        base, top, dst_top = images(self)
        g = FGuest(self, self.src, devices_extra=qcow2_disk_xml(top))
        boot, pid = g.snapshot()
        src_serial = g.serial
        dst_serial = g.next_serial_path()
        xml_file = os.path.join(self.workdir, 'dest-storage.xml')
        with open(xml_file, 'w') as f:
            f.write(g.xml(serial_path=dst_serial).replace(top, dst_top))
        self.ctl('migrate', g.name, '--to-bus', self.dst.bus.address, '--xml', xml_file, '--live',
                 '--copy-storage-inc')
        g.moved_to(self.dst, dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()
        self.assertEqual(image_info(dst_top).get('full-backing-filename'), base)
        self.assertEqual(top_allocated(dst_top), [(2 * MIB, MIB)])
        cmp = subprocess.run(['qemu-img', 'compare', top, dst_top], capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)


if __name__ == '__main__':
    feattest.main()
