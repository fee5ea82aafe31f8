#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Storage migration (NON_SHARED_DISK, libvirt's NBD flow): the guest's
qcow2 image lives in a directory only the source uses; the destination's
XML names another path, which does not exist before Prepare creates it.
The copy must equal the source's image once the guest is gone; a migration
cancelled after Prepare removes the image the destination created and the
guest runs on at the source."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

from feattest import (DEADLINE, DOMAIN_IFACE, FeatureTestCase, FGuest, LIVE, MIGRATION_DEADLINE, Mig, Pending,
                      assert_moved, assert_runs_here, dcall, job_stats, log, pid_alive, recorder, variant_dict,
                      wait_until, SIGNAL_DEADLINE)
import feattest
from test_migrationctl import CtlMixin

NON_SHARED_DISK = 1 << 6
DISK_SIZE = 8 << 20


def qcow2_image(tc, name, data_mib=1, size=DISK_SIZE):
    """A qcow2 image in its own directory, with a pattern written into its first @data_mib MiB
    (allocated data: the mirror copies unallocated areas as zeroes, outside any rate limit)."""
    d = os.path.join(tc.workdir, 'src-storage')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, str(size)], check=True)
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 %dM' % data_mib, path], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def free_port():
    """A TCP port nothing listens on now, outside the hosts' migration ranges (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def daemon_log(host):
    with open(host.stderr_path, 'rb') as f:
        return f.read().decode(errors='replace')


def qcow2_disk_xml(path):
    return ("    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2' cache='none'/>\n"
            "      <source file='%s'/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>" % path)


class Storage(FeatureTestCase):

    def guest(self, data_mib=1, size=DISK_SIZE):
        src_img = qcow2_image(self, 'disk.qcow2', data_mib, size)
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

    def gated_qemu_img(self):
        """The destination's qemu-img from its next start on: the real one, then held while the FIFO
        gate exists (the image is there, Prepare still waits for qemu-img). Returns (wrapper, gate)."""
        gate = os.path.join(self.workdir, 'qemu-img-gate')
        os.mkfifo(gate, 0o600)
        self.addCleanup(lambda: os.path.exists(gate) and os.unlink(gate))
        bindir = os.path.join(self.workdir, 'gated-bin')
        os.makedirs(bindir)
        wrapper = os.path.join(bindir, 'qemu-img')
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\n# qemu-img, then held while the gate exists\n'
                    '%s "$@" || exit\n[ -p %s ] && read _ < %s\nexit 0\n' % (shutil.which('qemu-img'), gate, gate))
        os.chmod(wrapper, 0o755)
        old_path = os.environ['PATH']
        self.addCleanup(os.environ.__setitem__, 'PATH', old_path)
        os.environ['PATH'] = bindir + ':' + old_path
        self.dst.restart()
        os.environ['PATH'] = old_path
        return wrapper, gate

    def test_restart_during_image_create(self):
        """The destination's daemon killed -9 while Prepare's qemu-img create runs, before any QEMU is
        spawned: Prepare recorded the image before creating it (early record, no pid), so the restarted
        daemon removes the image and the record, kills nothing; the guest runs on at the source and then
        migrates there."""
        g, src_img, dst_img, boot, pid = self.guest()
        wrapper, gate = self.gated_qemu_img()
        record_path = os.path.join(self.dst.state_dir, 'status', g.uuid + '.json')

        def held():
            return [p for p in (int(e) for e in os.listdir('/proc') if e.isdigit())
                    if (feattest.harness.proc_cmdline(p) or [''])[1:2] == [wrapper]
                    and dst_img in (feattest.harness.proc_cmdline(p) or []) and pid_alive(p)]

        self.addCleanup(lambda: [feattest.harness.kill_and_reap(p) for p in held()])
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        m.begin()
        prepare = Pending(self.dst.connect(), feattest.MANAGER_PATH, feattest.MANAGER_IFACE, 'Prepare3Params',
                          'a{sv}ayu', (m._params(destination_xml=('s', m.xml)), m.cookie, m.flags), 'ays')
        wait_until(lambda: held() and os.path.exists(dst_img), DEADLINE, 'qemu-img to create the image and wait')
        with open(record_path) as f:
            record = json.load(f)
        self.assertEqual((record.get('starting'), 'pid' in record, record.get('job_storage_created')),
                         (True, False, [dst_img]), record)
        self.assertEqual(g.qemu_pids(), [pid], 'a QEMU of the guest before Prepare spawned one')
        self.dst.kill()
        with self.assertRaises(feattest.GLib.Error):
            prepare.wait(DEADLINE)
        for p in held():        # a child of the dead daemon, at the gate for good
            feattest.harness.kill_and_reap(p)
        os.unlink(gate)
        self.dst.start()
        wait_until(lambda: not os.path.exists(record_path), DEADLINE, 'the restarted destination to drop the record')
        self.assertFalse(os.path.exists(dst_img), 'the image Prepare created before its QEMU was left behind')
        self.assertIn('its QEMU had not finished starting; none had been spawned', daemon_log(self.dst))
        self.assertNotIn(g.path, self.dst.list_domains(0))
        feattest.dcall(self.src, g.path, 'AbortJob', 'u', (0,))
        assert_runs_here(self, g, self.src, pid, ' after the destination\'s restart')
        src_serial = g.serial
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        m.run()
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()
        cmp = subprocess.run(['qemu-img', 'compare', '-f', 'qcow2', '-F', 'qcow2', src_img, dst_img],
                             capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)

    def test_restart_removes_created_image(self):
        """The destination's daemon killed -9 after Prepare and started again: it abandons the incoming
        job, kills its QEMU and removes the image Prepare created (the journal names it); the guest
        runs on at the source."""
        g, src_img, dst_img, _, pid = self.guest()
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        m.begin()
        m.prepare()
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.assertIsNotNone(dst_pid)
        self.assertTrue(os.path.exists(dst_img), 'Prepare did not create the image')
        self.dst.restart(kill=True)
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the restarted destination to kill the incoming QEMU')
        wait_until(lambda: not os.path.exists(dst_img), DEADLINE, 'the restarted destination to remove the image')
        self.assertIn('Removed image %s' % dst_img, daemon_log(self.dst))
        self.assertTrue(os.path.exists(src_img))
        feattest.dcall(self.src, g.path, 'AbortJob', 'u', (0,))
        assert_runs_here(self, g, self.src, pid, ' after the destination\'s restart')
        g.destroy()

    def full_copy_with(self, params, during_prepare=None):
        """A full copy with typed @params; @during_prepare(m) runs between Prepare and Perform."""
        g, src_img, dst_img, boot, pid = self.guest()
        src_serial = g.serial
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK, params=params)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        m.begin()
        m.prepare()
        if during_prepare:
            during_prepare(m)
        m.perform()
        m.finish()
        m.confirm()
        g.moved_to(self.dst, m.dst_serial)
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()
        cmp = subprocess.run(['qemu-img', 'compare', src_img, dst_img], capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)

    def test_disks_uri_unix(self):
        """disks_uri unix:///PATH: the destination's NBD server listens on that socket (and on no
        TCP port of the cookie), the source mirrors into it; the copy is exact."""
        sock = os.path.join(self.workdir, 'nbd.sock')

        def listening(m):
            self.assertTrue(os.path.exists(sock), 'no NBD socket at %s after Prepare' % sock)
            self.assertNotIn(b'"nbd"', m.cookie.replace(b' ', b''), 'Prepare\'s cookie names an NBD port')
        self.full_copy_with({'disks_uri': ('s', 'unix://' + sock)}, listening)

    def test_disks_uri_tcp(self):
        """disks_uri tcp://127.0.0.1:PORT: the NBD server listens on exactly that port."""
        port = free_port()

        def listening(m):
            with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
                self.assertTrue(c.recv(8).startswith(b'NBDMAGIC'), 'no NBD server on port %d' % port)
        self.full_copy_with({'disks_uri': ('s', 'tcp://127.0.0.1:%d' % port)}, listening)

    def test_disks_port_in_range(self):
        """disks_port the first port of the destination's [migration] range: the NBD server gets it,
        the memory stream another port of the range."""
        port = self.dst.ports.port_min

        def listening(m):
            self.assertNotEqual(int(m.uri.rsplit(':', 1)[1]), port, 'the stream took the NBD port')
            with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
                self.assertTrue(c.recv(8).startswith(b'NBDMAGIC'), 'no NBD server on port %d' % port)
        self.full_copy_with({'disks_port': ('i', port)}, listening)

    def test_disks_refused(self):
        """Bad disks_port / disks_uri are refused, named, before anything changes (Begin3 and Prepare3)."""
        g, src_img, dst_img, _, pid = self.guest()
        invalid = 'org.freedesktop.DBus.Error.InvalidArgs'
        cases = [({'disks_port': ('i', 65536)}, invalid, 0, 'disks_port'),
                 ({'disks_port': ('i', -1)}, invalid, 0, 'disks_port'),
                 ({'disks_port': ('u', 5000)}, invalid, 0, 'int32'),
                 ({'disks_uri': ('s', 'nbd://127.0.0.1:5000')}, invalid, 0, 'tcp://HOST'),
                 ({'disks_uri': ('s', 'unix://host/x.sock')}, invalid, 0, 'disks_uri'),
                 ({'disks_uri': ('s', 'tcp://127.0.0.1:5000'), 'disks_port': ('i', 5001)}, invalid, 0, 'exclude'),
                 ({'disks_port': ('i', 5001)}, invalid, -1, 'NON_SHARED'),
                 ({'disks_uri': ('s', 'unix:///tmp/x.sock')}, 'Unsupported', feattest.migtest.TLS, 'TLS')]
        for params, name, more_flags, part in cases:
            flags = LIVE | NON_SHARED_DISK | more_flags if more_flags >= 0 else LIVE
            m = Mig(self, g, self.src, self.dst, flags=flags, params=params)
            with self.assertDBusError(name, part):
                m.begin()
            m.xml, m.cookie = m.dest_xml, b''
            with self.assertDBusError(name, part):
                m.prepare()
        assert_runs_here(self, g, self.src, pid, ' after the refusals')
        self.assertFalse(os.path.exists(dst_img))
        g.destroy()

    def copy_again_on_same_names(self, g, src_img, dst_img, pid, boot):
        """A second copy, unlimited, on the names the first one used: it completes, the guest
        moves intact and the destination's image equals the source's."""
        src_serial = g.serial
        m2 = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m2.dest_xml = m2.dest_xml.replace(src_img, dst_img)
        m2.run()
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()
        cmp = subprocess.run(['qemu-img', 'compare', src_img, dst_img], capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)

    def slow_copy_started(self):
        """A copy at 1 MiB/s of 24 MiB of data, Perform3 sent: the guest, its images, boot id and
        QEMU pid, the migration and the incoming QEMU's pid."""
        g, src_img, dst_img, boot, pid = self.guest(data_mib=24, size=64 << 20)
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK, params={'bandwidth': ('t', 1)})
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        m.begin()
        m.prepare()
        dst_pid = g.qemu_pid_with(m.dst_serial)
        self.assertIsNotNone(dst_pid)
        m.perform_start()
        return g, src_img, dst_img, boot, pid, m, dst_pid

    def test_begin_waits_for_stuck_qemu(self):
        """Begin3 asks the source QEMU for its images (query-block): with QEMU stopped (SIGSTOP) the call
        waits, its job in phase begin3, while the daemon answers everyone else at once; AbortJob ends
        the job and Begin3 fails (MigrationAborted) with its message; QEMU's late answer changes nothing, and the guest
        then migrates with its disk."""
        g, src_img, dst_img, boot, pid = self.guest()
        src_serial = g.serial
        dom = g.dom(self.src)
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        os.kill(pid, signal.SIGSTOP)
        try:
            begin = Pending(self.src.connect(), g.path, DOMAIN_IFACE, 'Begin3Params', 'a{sv}u',
                            (variant_dict({'destination_xml': ('s', m.dest_xml)}), m.flags), 'say')
            wait_until(lambda: dom.prop('JobPhase') == 'begin3', DEADLINE, 'the job of the waiting Begin3')
            t0 = time.monotonic()
            self.assertEqual(dom.prop('JobType'), 'migration-out')
            took = time.monotonic() - t0
            log('A property read took %.3f s while Begin3 waited for the stopped QEMU' % took)
            self.assertLess(took, 1.0, 'the daemon was blocked while Begin3 waited')
            self.assertFalse(begin.done, 'Begin3 answered although the source QEMU was stopped')
            dcall(self.src, g.path, 'AbortJob', 'u', (0,))
            with self.assertDBusError('org.example.Migration1.Error.MigrationAborted', 'aborted'):
                begin.wait(DEADLINE)
            self.assertEqual(job_stats(self.src, g.path, 1)[0], 'cancelled')
        finally:
            os.kill(pid, signal.SIGCONT)
        assert_runs_here(self, g, self.src, pid, ' after AbortJob of a waiting Begin3')
        self.assertFalse(os.path.exists(dst_img))
        m = Mig(self, g, self.src, self.dst, flags=LIVE | NON_SHARED_DISK)
        m.dest_xml = m.dest_xml.replace(src_img, dst_img)
        m.run()
        assert_moved(self, src_serial, g.serial, pid, boot)
        g.destroy()
        cmp = subprocess.run(['qemu-img', 'compare', '-f', 'qcow2', '-F', 'qcow2', src_img, dst_img],
                             capture_output=True, text=True)
        self.assertEqual(cmp.returncode, 0, cmp.stdout + cmp.stderr)

    def test_abort_during_copy(self):
        """The mirror runs at the migration bandwidth (1 MiB/s against 24 MiB of data); AbortJob while
        disk_remaining > 0: Perform3 fails MigrationAborted, the guest runs on at the source, the
        incoming QEMU goes, the created image is removed, the source's mirrors and NBD nodes end;
        a second migration then goes through."""
        g, src_img, dst_img, boot, pid, m, dst_pid = self.slow_copy_started()

        def processed():
            return job_stats(self.src, g.path)[1].get('disk_processed', 0)
        wait_until(lambda: processed() > 0 or m.pending.done, MIGRATION_DEADLINE, 'the disk copy to start')
        start_bytes, t0 = processed(), time.monotonic()
        wait_until(lambda: processed() >= start_bytes + (3 << 20) or m.pending.done, MIGRATION_DEADLINE,
                   '3 MiB more to be copied')
        elapsed = time.monotonic() - t0
        stats = job_stats(self.src, g.path)[1]
        rate = (stats['disk_processed'] - start_bytes) / elapsed / (1 << 20)
        sys_note = '[storage] mirror at bandwidth 1 MiB/s: %.2f MiB/s over %.1f s, disk_remaining %d' % (
            rate, elapsed, stats['disk_remaining'])
        feattest.log(sys_note)
        self.assertFalse(m.pending.done, 'Perform3 ended during the copy: %r' % (m.pending.error,))
        # 3 MiB at 1 MiB/s take about 3 s; unlimited (or with QEMU's first 16 MiB burst), well under one.
        self.assertGreater(elapsed, 1.5, sys_note)
        self.assertLess(rate, 2.0, sys_note)
        self.assertGreater(stats['disk_remaining'], 0, stats)
        Pending(self.src.connect(), g.path, feattest.DOMAIN_IFACE, 'AbortJob', 'u', (0,)).wait(SIGNAL_DEADLINE)
        with self.assertDBusError('MigrationAborted'):
            m.perform_wait()
        m.cancel()
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to go')
        wait_until(lambda: not os.path.exists(dst_img), DEADLINE, 'the created image to be removed')
        assert_runs_here(self, g, self.src, pid, ' after the abort')
        wait_until(lambda: 'the disk mirrors and their NBD nodes are gone' in daemon_log(self.src), DEADLINE,
                   'the source to end its mirrors and delete their NBD nodes')

        # The same names (job, node) are free again (a node left behind would
        # make its blockdev-add fail).
        self.copy_again_on_same_names(g, src_img, dst_img, pid, boot)

    def test_source_restart_during_copy(self):
        """The source's daemon killed -9 while the mirror copies (1 MiB/s against 24 MiB) and started
        again: the journal keeps no mirror, yet recovery cancels the mirror and deletes its NBD node
        (their names are fixed); the guest runs on at the source and a second copy goes through on the
        same names."""
        g, src_img, dst_img, boot, pid, m, dst_pid = self.slow_copy_started()
        wait_until(lambda: job_stats(self.src, g.path)[1].get('disk_processed', 0) > 0 or m.pending.done,
                   MIGRATION_DEADLINE, 'the disk copy to start')
        self.assertFalse(m.pending.done, 'Perform3 ended before the restart: %r' % (m.pending.error,))
        self.assertGreater(job_stats(self.src, g.path)[1]['disk_remaining'], 0)
        self.src.restart(kill=True)
        with self.assertRaises(Exception):
            m.perform_wait()
        # The client saw Perform3 fail: libvirt's failure rules at the destination.
        self.assertEqual(m.finish(cancelled=True), '/')
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to go')
        wait_until(lambda: not os.path.exists(dst_img), DEADLINE, 'the created image to be removed')
        wait_until(lambda: 'the disk mirrors and their NBD nodes are gone' in daemon_log(self.src), DEADLINE,
                   'the restarted source to end the mirror and delete its NBD node')
        assert_runs_here(self, g, self.src, pid, ' after the source\'s restart')

        # The names are free again (before the fix: "duplicate ID" / "node name already in use").
        self.copy_again_on_same_names(g, src_img, dst_img, pid, boot)


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
