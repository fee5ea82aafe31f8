#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer-to-peer storage migration: MigrateToURI3 with PEER2PEER|NON_SHARED_DISK
moves a guest whose qcow2 image only the source has; the destination (its
XML naming another path) creates the image, and the copy is exact. With
TLS the disks' NBD stream takes the hosts' certificates too."""

import os
import socket
import subprocess

import p2ptest
from p2ptest import P2PTestCase, LIVE, PEER2PEER, TLS

NON_SHARED_DISK = 1 << 6
DISK_SIZE = 8 << 20


class P2PStorage(P2PTestCase):

    def test_full_copy(self):
        """A -> B with PEER2PEER|NON_SHARED_DISK: the image is created at B and equals A's."""
        self.full_copy(LIVE | PEER2PEER | NON_SHARED_DISK, {})

    def test_full_copy_tls(self):
        """A -> B with PEER2PEER|NON_SHARED_DISK|TLS and disks_port (the source daemon hands it to
        B's Prepare): the copy, over NBD under TLS, is exact."""
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        self.full_copy(LIVE | PEER2PEER | NON_SHARED_DISK | TLS, {'disks_port': ('i', port)})

    def full_copy(self, flags, params):
        src_dir = os.path.join(self.workdir, 'a-storage')
        dst_dir = os.path.join(self.workdir, 'b-storage')
        os.makedirs(src_dir)
        os.makedirs(dst_dir)
        src_img = os.path.join(src_dir, 'disk.qcow2')
        dst_img = os.path.join(dst_dir, 'disk.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', src_img, str(DISK_SIZE)], check=True)
        subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0xa5 0 2M', src_img], check=True,
                       stdout=subprocess.DEVNULL)
        disk = ("    <disk type='file' device='disk'>\n"
                "      <driver name='qemu' type='qcow2' cache='none'/>\n"
                "      <source file='%s'/>\n"
                "      <target dev='vda' bus='virtio'/>\n"
                "    </disk>" % src_img)
        # 'light': what is tested is the copy; a TLS stream under TCG on a
        # loaded machine could not keep up with the normal guest's 32 MiB.
        g = self.guest(self.a, profile='light', devices_extra=disk)
        self.bridge(self.b)
        dst_serial = g.next_serial_path()
        xml = g.xml(serial_path=dst_serial).replace(src_img, dst_img)
        boot, src_pid = p2ptest.snapshot_before(g)
        src_serial = g.serial
        pending, _ = self.migrate(g, self.a, self.b, flags=flags, params=dict(params, destination_xml=('s', xml)))
        self.moved(g, self.b, src_serial, dst_serial, src_pid, boot)
        g.destroy()
        cmp = subprocess.run(['qemu-img', 'compare', src_img, dst_img], capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)


if __name__ == '__main__':
    p2ptest.main()
