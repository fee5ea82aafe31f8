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
        self.assertIn(g.serial.path, inactive, 'the stored definition is not the destination XML')
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
