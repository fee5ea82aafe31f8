#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A guest with <memoryBacking><hugepages/>: its RAM on 2 MiB huge pages of
a hugetlbfs at both hosts, and a destination without one refusing Prepare3
with the guest left on the source.

Needs root unless the host has both already: the module reserves the huge
pages for two guests in the kernel's 2 MiB pool (restoring its size
afterwards) and mounts a hugetlbfs in a directory of its own when none of
2 MiB pages is mounted (unmounted afterwards). It skips (77) only when the
pages or the mount cannot be had."""

import contextlib
import fcntl
import os
import re
import subprocess
import sys
import tempfile

import migtest
from harness import proc_cmdline, pid_alive, skip_everything
from migtest import (MigrationTestCase, MigGuest, Managed, assert_runs_here, snapshot_before, wait_until, DEADLINE,
                     LIVE, POSTCOPY)

MEMORY_MIB = 64
PAGE_KIB = 2048
POOL = '/sys/kernel/mm/hugepages/hugepages-%dkB' % PAGE_KIB
# At most: under TCG the -m size has the pad (8 KiB) on top, one page more
# than 64 MiB; under KVM it has none (guest_pages() says which).
PAGES_PER_GUEST = (MEMORY_MIB * 1024 + 8 + PAGE_KIB - 1) // PAGE_KIB
# The source's and the destination's QEMU during the migration.
PAGES_NEEDED = 2 * PAGES_PER_GUEST

# Set by the module's entry point: the hugetlbfs mount the daemons will find.
MOUNT = None
# The pool is the machine's: test processes that size it take turns, also
# those of other checkouts with another TMPDIR.
LOCK = os.path.join('/run/lock' if os.access('/run/lock', os.W_OK) else tempfile.gettempdir(),
                    'migrationd-test-hugepages.lock')


def pool(key):
    with open(os.path.join(POOL, key)) as f:
        return int(f.read())


def available_pages():
    """Pages of the pool neither used nor promised to a mapping: a QEMU
    reserves its guest's RAM when it maps it, before touching it."""
    return pool('free_hugepages') - pool('resv_hugepages')


def hugetlbfs_mounts(page_kib):
    """Mount points of hugetlbfs with @page_kib pages, from /proc/mounts."""
    found = []
    with open('/proc/mounts') as f:
        for line in f:
            _, path, fstype, opts = line.split()[:4]
            size = [o.split('=', 1)[1] for o in opts.split(',') if o.startswith('pagesize=')]
            if fstype == 'hugetlbfs' and size and size[0] in ('%dK' % page_kib, '%dM' % (page_kib // 1024)):
                # The kernel escapes ' ', '\t', '\n' and '\\' as \ooo.
                found.append(re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), path))
    return found


@contextlib.contextmanager
def host_huge_pages():
    """Reserves PAGES_NEEDED free 2 MiB pages and makes sure a hugetlbfs of
    them is mounted; undoes both on the way out. Either needs root only when
    the host does not have it already."""
    if not os.path.isdir(POOL):
        skip_everything('this kernel has no %d KiB huge pages (%s is missing)' % (PAGE_KIB, POOL))
    with contextlib.ExitStack() as stack:
        lock = stack.enter_context(open(LOCK, 'w'))
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = pool('nr_hugepages')
        if available_pages() < PAGES_NEEDED:
            try:
                write_pool(old + PAGES_NEEDED - available_pages())
            except OSError as e:
                stack.close()
                skip_everything('the kernel\'s huge page pool cannot be sized here (%s: %s)' %
                                (os.path.join(POOL, 'nr_hugepages'), e))
            stack.callback(lambda: write_pool(old))
            if available_pages() < PAGES_NEEDED:
                got = available_pages()
                stack.close()
                skip_everything('the kernel gave only %d of the %d free %d KiB huge pages asked for '
                                '(memory too fragmented or too small)' % (got, PAGES_NEEDED, PAGE_KIB))
        mounts = hugetlbfs_mounts(PAGE_KIB)
        if mounts:
            mount = mounts[0]
        else:
            mount = tempfile.mkdtemp(prefix='md-hugetlbfs-')
            stack.callback(os.rmdir, mount)
            mounted = subprocess.run(['mount', '-t', 'hugetlbfs', '-o', 'pagesize=%dK' % PAGE_KIB, 'md-test',
                                      mount], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if mounted.returncode != 0:
                stack.close()
                skip_everything('a hugetlbfs cannot be mounted here: %s' % mounted.stdout.strip())
            stack.callback(subprocess.run, ['umount', mount], check=True)
        sys.stderr.write('[hugepages] %d KiB pages on %s; pool %d -> %d, %d available\n' %
                         (PAGE_KIB, mount, old, pool('nr_hugepages'), available_pages()))
        yield mount


def write_pool(n):
    with open(os.path.join(POOL, 'nr_hugepages'), 'w') as f:
        f.write('%d\n' % n)


def huge_backing():
    """<hugepages/> on PAGE_KIB pages: with a <page> when the host's default
    size is another."""
    default = open('/proc/meminfo').read().split('Hugepagesize:')[1].split()[0]
    return '<hugepages/>' if int(default) == PAGE_KIB else \
        "<hugepages><page size='%d' unit='KiB'/></hugepages>" % PAGE_KIB


def ram_backend(pid):
    """The -object argument of QEMU @pid that backs its RAM, or None."""
    argv = proc_cmdline(pid) or []
    for opt, value in zip(argv, argv[1:]):
        if opt == '-object' and value.startswith('memory-backend-'):
            return value
    return None


def guest_pages(pid):
    """The huge pages the RAM of QEMU @pid takes: its -m size in whole pages."""
    argv = proc_cmdline(pid) or []
    size = re.fullmatch(r'size=(\d+)k', argv[argv.index('-m') + 1])
    return (int(size.group(1)) + PAGE_KIB - 1) // PAGE_KIB


def hugetlb_mappings(pid):
    """(size KiB, KiB of huge pages in use) of each mapping of QEMU @pid on
    PAGE_KIB pages, from its smaps."""
    found, cur = [], None
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            if ' ' in key or '-' in key:            # a mapping's header line
                cur = {}
                continue
            cur[key] = int(value.split()[0]) if value.split() and value.split()[0].isdigit() else value
            if key == 'VmFlags' and cur.get('KernelPageSize') == PAGE_KIB:
                found.append((cur['Size'], cur.get('Private_Hugetlb', 0) + cur.get('Shared_Hugetlb', 0)))
    return found


class HugePages(MigrationTestCase):

    def assert_on_huge_pages(self, pid, where):
        backend = ram_backend(pid)
        self.assertIsNotNone(backend, 'the %s QEMU has no RAM backend: %r' % (where, proc_cmdline(pid)))
        self.assertTrue(backend.startswith('memory-backend-file,id=pc.ram,'), backend)
        self.assertIn('mem-path=%s,' % MOUNT.replace(',', ',,'), backend)
        self.assertIn('share=off', backend)
        self.assertIn('memory-backend=pc.ram', proc_cmdline(pid))
        big = [m for m in hugetlb_mappings(pid) if m[0] >= MEMORY_MIB * 1024]
        self.assertTrue(big, 'the %s QEMU maps no %d MiB on %d KiB pages: %r'
                        % (where, MEMORY_MIB, PAGE_KIB, hugetlb_mappings(pid)))
        return big[0]

    def assert_on_plain_memory(self, pid, where):
        self.assertIsNone(ram_backend(pid), 'the %s QEMU has a RAM backend of its own: %r'
                          % (where, proc_cmdline(pid)))
        self.assertEqual(hugetlb_mappings(pid), [], 'the %s QEMU maps huge pages' % where)

    def migrate_across(self, src_backing, dst_backing, machine='pc'):
        """A guest with @src_backing at A migrated with a destination XML of
        @dst_backing: the RAM block keeps its name (the machine's own RAM id)
        whichever side has the backend of its own. Returns (guest, source
        pid, destination pid)."""
        g = MigGuest(self, self.src, memory_mib=MEMORY_MIB, memory_backing=src_backing, machine=machine)
        src_pid = g.qemu_pid_with(g.serial.path)
        g.xml_kw['memory_backing'] = dst_backing
        self.migrate_observed(g, self.src, self.dst)
        dst_pid = g.qemu_pid_with(g.serial.path)
        self.assertFalse(pid_alive(src_pid))
        desc = g.dom(self.dst).call('GetXMLDesc', 'u', (0,), 's')[0]
        # The destination's definition is the one it was given.
        self.assertEqual('<hugepages' in desc, '<hugepages' in dst_backing, desc)
        return g, src_pid, dst_pid

    def test_to_plain(self):
        """<hugepages/> at A, a destination XML without: B's QEMU takes the stream on its own RAM."""
        g, src_pid, dst_pid = self.migrate_across(huge_backing(), '')
        self.assertFalse(pid_alive(src_pid))
        self.assert_on_plain_memory(dst_pid, 'destination')
        g.destroy()

    def test_old_machine_to_plain(self):
        """<hugepages/> at A on machine type pc-i440fx-3.1, a destination XML without: that machine type
        names a file backend's RAM block by its path unless told not to; B finds pc.ram."""
        g, src_pid, dst_pid = self.migrate_across(huge_backing(), '', machine='pc-i440fx-3.1')
        self.assertIn('pc-i440fx-3.1', proc_cmdline(dst_pid))
        self.assert_on_plain_memory(dst_pid, 'destination')
        g.destroy()

    def test_prealloc(self):
        """<hugepages/> with <allocation mode='immediate' threads='2'/>: both QEMUs fill their huge pages before
        they run (prealloc on the file backend), the counter goes on."""
        backing = huge_backing() + "<allocation mode='immediate' threads='2'/>"
        g, src_pid, dst_pid = self.migrate_across(backing, backing)
        backend = ram_backend(dst_pid)
        self.assertIn(',prealloc=on,prealloc-threads=2', backend)
        _, touched = self.assert_on_huge_pages(dst_pid, 'destination')
        self.assertGreaterEqual(touched, MEMORY_MIB * 1024, 'the destination\'s huge pages are not all in use')
        g.destroy()

    def test_from_plain(self):
        """No <hugepages/> at A, a destination XML with: B's QEMU takes the stream on huge pages."""
        g, src_pid, dst_pid = self.migrate_across('', huge_backing())
        _, touched = self.assert_on_huge_pages(dst_pid, 'destination')
        self.assertGreater(touched, 0, 'the stream wrote nothing to the destination\'s huge pages')
        g.destroy()

    def postcopy(self, src_backing, dst_backing):
        """A POSTCOPY migration of a guest with @src_backing at A and a
        destination XML of @dst_backing, up to Begin3; returns (guest, its
        Managed, boot id, source pid)."""
        g = MigGuest(self, self.src, memory_mib=MEMORY_MIB, memory_backing=src_backing)
        boot, pid = snapshot_before(g)
        g.xml_kw['memory_backing'] = dst_backing
        m = Managed(self, g, self.src, self.dst, flags=LIVE | POSTCOPY,
                    dest_xml=g.xml(serial_path=g.next_serial_path()))
        m.begin()
        return g, m, boot, pid

    def test_postcopy_to_plain(self):
        """POSTCOPY from huge pages to ordinary memory: QEMU's stream then carries the page size, which
        differs; Perform3 fails (MigrationFailed), the guest runs on at the source."""
        g, m, boot, pid = self.postcopy(huge_backing(), '')
        m.prepare()
        with self.assertDBusError('MigrationFailed'):
            m.perform()
        m.finish(cancelled=True)
        m.confirm(cancelled=True)
        assert_runs_here(self, g, self.src, [pid], ' after a POSTCOPY migration to ordinary memory')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()

    def test_postcopy_tcg(self):
        """POSTCOPY on huge pages under TCG: the padded RAM is no whole number of pages, the destination's
        QEMU refuses postcopy in Prepare3 (QemuFailed); the guest runs on at the source."""
        if migtest.harness.domain_type() == 'kvm':
            self.skipTest('under KVM the RAM has no pad: QEMU postcopies it on huge pages')
        g, m, boot, pid = self.postcopy(huge_backing(), huge_backing())
        with self.assertDBusError('QemuFailed', 'Postcopy is not supported'):
            m.prepare()
        # Prepare3's QEMU and its domain go with the failure.
        wait_until(lambda: g.qemu_pids() == [pid], DEADLINE, 'the destination QEMU to be gone')
        wait_until(lambda: self.dst.list_domains(0) == [], DEADLINE, 'the destination to drop the domain')
        with self.assertDBusError('NoSuchDomain'):
            self.dst.lookup_uuid(g.uuid)
        m.confirm(cancelled=True, cookie=b'')
        assert_runs_here(self, g, self.src, [pid], ' after a POSTCOPY Prepare3 on huge pages')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()

    def test_migrate(self):
        """<hugepages/>, A -> B: both QEMUs take the guest's RAM from the pool, the counter goes on."""
        backing = huge_backing()
        before = available_pages()
        g = MigGuest(self, self.src, memory_mib=MEMORY_MIB, memory_backing=backing)
        src_pid = g.qemu_pid_with(g.serial.path)
        self.assert_on_huge_pages(src_pid, 'source')
        held = before - available_pages()
        self.assertGreaterEqual(held, guest_pages(src_pid), 'the source QEMU took %d huge pages, not %d'
                                % (held, guest_pages(src_pid)))
        self.assertIn(backing.replace("'", '"'), g.dom(self.src).call('GetXMLDesc', 'u', (0,), 's')[0])

        self.migrate_observed(g, self.src, self.dst)

        dst_pid = g.qemu_pid_with(g.serial.path)
        self.assertFalse(pid_alive(src_pid))
        size, touched = self.assert_on_huge_pages(dst_pid, 'destination')
        self.assertGreater(touched, 0, 'the stream wrote nothing to the destination\'s huge pages')
        # The source's pages went back to the pool; the destination's are taken.
        pages = guest_pages(dst_pid)
        wait_until(lambda: before - available_pages() < 2 * pages, DEADLINE,
                   'the source QEMU\'s huge pages to return to the pool')
        held = before - available_pages()
        self.assertGreaterEqual(held, pages, 'the destination QEMU holds %d huge pages, not %d' % (held, pages))
        migtest.log('huge pages: %d per guest, the destination maps %d KiB (%d KiB written by the stream)'
                    % (pages, size, touched))
        g.destroy()
        wait_until(lambda: available_pages() >= before, DEADLINE, 'the destination\'s huge pages to return')


class DestinationWithout(MigrationTestCase):
    """The destination's [qemu] hugetlbfs_mount names a directory that is no
    hugetlbfs: that host has none to offer."""

    @property
    def destination_config(self):
        self.plain_dir = os.path.join(self.workdir, 'not-hugetlbfs')
        os.makedirs(self.plain_dir, exist_ok=True)
        return {'qemu': {'hugetlbfs_mount': self.plain_dir}}

    def test_refused(self):
        """Start there fails, and Prepare3 fails: Unsupported naming the path; the guest runs on the source."""
        lone = self.make_guest(self.dst, name='lone', memory_mib=MEMORY_MIB, memory_backing=huge_backing())
        with self.assertDBusError('Unsupported', 'hugetlbfs', self.plain_dir):
            lone.dom.start()
        self.assertEqual(lone.dom.prop('State'), 'shutoff')
        self.assertEqual(migtest.find_qemu_pids(lone.uuid), [])

        g = MigGuest(self, self.src, memory_mib=MEMORY_MIB, memory_backing=huge_backing())
        boot, pid = snapshot_before(g)
        for form in ('params', 'plain'):
            m = Managed(self, g, self.src, self.dst, form=form, dest_xml=g.xml(serial_path=g.next_serial_path()))
            m.begin()
            with self.assertDBusError('Unsupported', 'hugetlbfs', self.plain_dir):
                m.prepare()
            self.dst.check_alive()
            with self.assertDBusError('NoSuchDomain'):
                self.dst.lookup_uuid(g.uuid)
            self.assertEqual(g.qemu_pids(), [pid])
            m.confirm(cancelled=True, cookie=b'')
            assert_runs_here(self, g, self.src, [pid], ' after a Prepare3 without huge pages (%s)' % form)
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()


if __name__ == '__main__':
    with host_huge_pages() as MOUNT:
        migtest.main()
