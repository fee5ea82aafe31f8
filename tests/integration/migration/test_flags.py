#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The migration flags and parameters that change the outcome: PERSIST_DEST,
UNDEFINE_SOURCE, PAUSED, destination_name (dname), destination_xml."""

import os

import migtest
from migtest import (LIVE, PERSIST_DEST, UNDEFINE_SOURCE, PAUSED, MigrationTestCase, MigGuest,
                     assert_runs_here, wait_until, harness, DEADLINE)


class Flags(MigrationTestCase):

    def definition_file(self, host, name):
        return os.path.join(host.state_dir, 'domains', name + '.xml')

    def test_persist_dest(self):
        """PERSIST_DEST: the domain is persistent on the destination and its
        definition survives a restart of the destination daemon."""
        g = MigGuest(self, self.src)
        r = self.migrate_observed(g, self.src, self.dst, flags=LIVE | PERSIST_DEST)
        dom = g.dom(self.dst)
        self.assertTrue(dom.prop('Persistent'))
        self.assertTrue(os.path.isfile(self.definition_file(self.dst, g.name)),
                        'no definition file in the destination\'s state directory')
        inactive = dom.call('GetXMLDesc', 'u', (2,), 's')[0]
        # libvirt's rule: the source's inactive definition travels (not the
        # live one the destination runs, which has the other serial log).
        self.assertIn(g.serials[-2].path, inactive, 'the stored definition is not the source\'s')
        self.assertNotIn(g.serial.path, inactive, 'the stored definition is the live one')
        # The source keeps its own definition (no UNDEFINE_SOURCE).
        self.assertTrue(g.dom(self.src).prop('Persistent'))
        self.assertEqual(g.dom(self.src).prop('State'), 'shutoff')

        pids = g.qemu_pids()
        self.dst.restart()
        dom = self.dst.lookup(g.name)
        self.assertEqual(dom.path, g.path)
        self.assertTrue(dom.prop('Persistent'), 'the definition did not survive the restart')
        assert_runs_here(self, g, self.dst, pids, ' after the destination daemon restarted')
        self.assertEqual(g.serial.boot_ids(), [r['boot']])
        g.destroy()
        # Still defined, shut off.
        self.assertEqual(self.dst.list_domains(harness.LIST_INACTIVE), [g.path])
        self.assertEqual(g.dom(self.dst).prop('State'), 'shutoff')
        self.dst.restart()
        self.assertEqual(self.dst.lookup(g.name).path, g.path)

    def test_persist_dest_inactive_definition(self):
        """PERSIST_DEST keeps the source's inactive definition: one that
        DefineXML changed while the guest ran arrives changed, and the live
        definition stays as it was."""
        g = MigGuest(self, self.src)
        self.src.define(g.xml(title='changed while running'))
        src_dom = g.dom(self.src)
        self.assertIn('changed while running', src_dom.call('GetXMLDesc', 'u', (2,), 's')[0])
        self.assertNotIn('changed while running', src_dom.xml())
        self.migrate_observed(g, self.src, self.dst, flags=LIVE | PERSIST_DEST)
        dom = g.dom(self.dst)
        self.assertTrue(dom.prop('Persistent'))
        inactive = dom.call('GetXMLDesc', 'u', (2,), 's')[0]
        self.assertIn('changed while running', inactive, 'the destination lost the changed inactive definition')
        with open(self.definition_file(self.dst, g.name)) as f:
            self.assertIn('changed while running', f.read())
        self.assertNotIn('changed while running', dom.xml(), 'the live definition changed')
        g.destroy()
        self.assertIn('changed while running', dom.xml())

    def failed_finish(self, g):
        """A migration with PERSIST_DEST|UNDEFINE_SOURCE to a destination
        that cannot store the definition (its file is a directory): Finish3
        fails before the guest runs there and the incoming QEMU goes.
        Returns (the migration, the Prepare3 cookie, boot id, source QEMU)."""
        boot, src_pid = migtest.snapshot_before(g)
        blocker = self.definition_file(self.dst, g.name)
        os.makedirs(blocker)
        dst_serial = g.next_serial_path()
        m = migtest.Managed(self, g, self.src, self.dst, flags=LIVE | PERSIST_DEST | UNDEFINE_SOURCE,
                            dest_xml=g.xml(serial_path=dst_serial))
        m.begin()
        prepare_cookie, _ = m.prepare()
        dst_pid = g.qemu_pid_with(dst_serial)
        self.assertIsNotNone(dst_pid, 'Prepare3 started no incoming QEMU')
        m.perform_start()
        m.perform_wait()
        with self.assertDBusError('MigrationFailed', blocker, 'Is a directory'):
            m.finish()
        wait_until(lambda: not migtest.pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to be killed')
        wait_until(lambda: self.dst.list_domains(0) == [], DEADLINE, 'the destination to forget the domain')
        self.assertTrue(os.path.isdir(blocker))
        # The guest never ran on the destination.
        self.assertIsNone(harness.SerialLog(dst_serial).last_counter(), 'the guest counted on the destination')
        return m, prepare_cookie, boot, src_pid

    def assert_kept_at_source(self, g, boot, src_pid):
        assert_runs_here(self, g, self.src, [src_pid], ' after the failed Finish3')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.serial.assert_continuous()
        self.assertTrue(g.dom(self.src).prop('Persistent'), 'the source lost its definition')
        self.assertTrue(os.path.isfile(self.definition_file(self.src, g.name)))

    def test_persist_dest_fails(self):
        """A destination that cannot store the definition: Finish3 fails,
        Confirm3(cancelled) lets the guest go on at the source, which keeps
        its definition despite UNDEFINE_SOURCE."""
        g = MigGuest(self, self.src)
        m, _, boot, src_pid = self.failed_finish(g)
        m.confirm(cancelled=True)
        self.assert_kept_at_source(g, boot, src_pid)
        g.destroy()

    def test_persist_dest_start_fails(self):
        """Finish3 stores the definition first, then cannot start the guest
        (another process write-locks the destination's disk image): Finish3
        fails and takes that definition back, so the destination keeps
        nothing; Confirm3(cancelled) lets the guest go on at the source."""
        src_img = migtest.disk_image(self, 'source-disk.img')
        dst_img = migtest.disk_image(self, 'destination-disk.img')
        g = MigGuest(self, self.src, devices_extra=migtest.disk_xml(src_img))
        boot, src_pid = migtest.snapshot_before(g)
        dst_serial = g.next_serial_path()
        m = migtest.Managed(self, g, self.src, self.dst, flags=LIVE | PERSIST_DEST,
                            dest_xml=g.xml(serial_path=dst_serial).replace(src_img, dst_img))
        m.begin()
        m.prepare()
        dst_pid = g.qemu_pid_with(dst_serial)
        self.assertIsNotNone(dst_pid, 'Prepare3 started no incoming QEMU')
        migtest.block_image_writes(self, dst_img)
        m.perform_start()
        m.perform_wait()
        with self.assertDBusError('MigrationFailed', 'lock'):
            m.finish()
        wait_until(lambda: not migtest.pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to be killed')
        wait_until(lambda: self.dst.list_domains(0) == [], DEADLINE, 'the destination to forget the domain')
        self.assertFalse(os.path.exists(self.definition_file(self.dst, g.name)),
                         'the destination kept the definition of a guest it could not start')
        m.confirm(cancelled=True)
        self.assert_kept_at_source(g, boot, src_pid)
        g.destroy()

    def test_confirm_needs_finish_cookie(self):
        """After a failed Finish3 a client that confirms success anyway,
        with the last cookie the destination gave (Prepare3's), is refused:
        only Finish3's cookie stops and undefines the source. Confirm3
        (cancelled) then lets the guest go on there, definition kept."""
        g = MigGuest(self, self.src)
        m, prepare_cookie, boot, src_pid = self.failed_finish(g)
        with self.assertDBusError('OperationInvalid', 'Finish3', 'cancelled'):
            m.confirm(cookie=prepare_cookie)
        self.assertEqual(g.dom(self.src).prop('JobPhase'), 'perform3_done')
        self.assertTrue(migtest.pid_alive(src_pid), 'the refused Confirm3 stopped the source')
        m.confirm(cancelled=True)
        self.assert_kept_at_source(g, boot, src_pid)
        g.destroy()

    def test_persistent_xml_mismatch(self):
        """persistent_xml of another domain (UUID or name) is refused by
        Begin3 and by Prepare3 with InvalidArgs naming both; nothing starts."""
        g = MigGuest(self, self.src, profile='light')
        pid = g.qemu_pids()
        src_dom = g.dom(self.src)
        other_uuid = harness.guest_xml(g.name, '00000000-1111-2222-3333-444444444444', g.serial.path)
        other_name = g.xml(name='someone-else')
        flags = LIVE | PERSIST_DEST
        for xml, part in ((other_uuid, '00000000-1111-2222-3333-444444444444'), (other_name, 'someone-else')):
            with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', 'persistent_xml', part, g.uuid):
                src_dom.call('Begin3Params', 'a{sv}u',
                             (migtest.variant_dict({'persistent_xml': ('s', xml)}), flags), 'say')
            self.assertEqual(src_dom.prop('JobType'), 'none', 'a refused Begin3 started a job')
        with self.assertDBusError('InvalidXML', 'persistent_xml'):
            src_dom.call('Begin3Params', 'a{sv}u',
                         (migtest.variant_dict({'persistent_xml': ('s', '<domain>')}), flags), 'say')

        m = migtest.Managed(self, g, self.src, self.dst, flags=flags,
                            dest_xml=g.xml(serial_path=g.next_serial_path()))
        m.begin()
        for xml, part in ((other_uuid, '00000000-1111-2222-3333-444444444444'), (other_name, 'someone-else')):
            p = {'destination_xml': ('s', m.xml), 'persistent_xml': ('s', xml)}
            with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', 'persistent_xml', part):
                migtest.mcall(self.dst, 'Prepare3Params', 'a{sv}ayu', (migtest.variant_dict(p), m.cookie, flags),
                              'ays')
            self.assertEqual(self.dst.list_domains(0), [], 'a refused Prepare3 left a domain')
            self.assertEqual(g.qemu_pids(), pid, 'a refused Prepare3 started QEMU')
        m.confirm(cancelled=True)
        assert_runs_here(self, g, self.src, pid, ' after the refused phases')
        g.destroy()

    def test_undefine_source(self):
        """UNDEFINE_SOURCE: the source's (persistent) domain is removed after Confirm3."""
        g = MigGuest(self, self.src)
        self.assertTrue(g.dom(self.src).prop('Persistent'))
        src_file = self.definition_file(self.src, g.name)
        self.assertTrue(os.path.isfile(src_file))
        with self.src.connect().record(iface=harness.OBJECT_MANAGER_IFACE, member='InterfacesRemoved') as rec:
            self.migrate_observed(g, self.src, self.dst, flags=LIVE | UNDEFINE_SOURCE)
            rec.wait_for(lambda s: s.args[0] == g.path, migtest.SIGNAL_DEADLINE,
                         'InterfacesRemoved of the source domain')
        with self.assertDBusError('NoSuchDomain'):
            self.src.lookup_uuid(g.uuid)
        with self.assertDBusError('NoSuchDomain'):
            self.src.lookup(g.name)
        self.assertEqual(self.src.list_domains(0), [])
        self.assertFalse(os.path.exists(src_file), 'the source\'s definition file is still there')
        # Without PERSIST_DEST the guest lives on the destination as a transient domain.
        self.assertFalse(g.dom(self.dst).prop('Persistent'))
        g.destroy()
        wait_until(lambda: self.dst.list_domains(0) == [], DEADLINE, 'the transient domain to go')

    def test_paused(self):
        """PAUSED: the guest stays paused on the destination after Finish3 and
        goes on counting after Resume."""
        g = MigGuest(self, self.src)
        # migrate_observed checks: State paused after Finish3, the console
        # silent for 2 s, Resume, then the counter continues.
        self.migrate_observed(g, self.src, self.dst, flags=LIVE | PAUSED)
        dom = g.dom(self.dst)
        self.assertEqual((dom.prop('State'), dom.prop('StateReason')), ('running', 'unpaused'))
        g.serial.wait_advance(5)
        g.serial.assert_continuous()
        g.destroy()

    def test_dname_xml(self):
        """destination_name renames the domain on the destination; destination_xml
        (another title and serial path) takes effect there. Back again with the
        plain form: dname restores the name, the XML from Begin3 edited."""
        g = MigGuest(self, self.src, title='on the source')
        new = 'renamed-' + g.uuid[:8]
        self.migrate_observed(g, self.src, self.dst, form='params', dname=new, title='moved here')
        dom = g.dom(self.dst)
        self.assertEqual(dom.prop('Name'), new)
        self.assertEqual(self.dst.lookup(new).path, g.path)
        with self.assertDBusError('NoSuchDomain'):
            self.dst.lookup(g.name)
        xml = dom.xml()
        self.assertIn('<title>moved here</title>', xml)
        self.assertIn(g.serial.path, xml)
        # The guest writes where the destination XML says (the counter went on there).
        self.assertGreater(g.serial.last_counter(), 0)
        # The source keeps the old name.
        self.assertEqual(g.dom(self.src).prop('Name'), g.name)
        self.assertEqual(self.src.lookup(g.name).path, g.path)

        # Back with plain arguments: dname gives the source's name back.
        self.migrate_observed(g, self.dst, self.src, form='plain', dname=g.name, use_dest_xml=False)
        dom = g.dom(self.src)
        self.assertEqual(dom.prop('Name'), g.name)
        self.assertEqual(self.dst.list_domains(0), [])
        # The XML Begin3 returned on the destination carried its title back.
        self.assertIn('<title>moved here</title>', dom.xml())
        self.assertIn(g.serial.path, dom.xml())
        g.destroy()


if __name__ == '__main__':
    migtest.main()
