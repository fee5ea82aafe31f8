#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Managed live migration in both forms, there and back again."""

import migtest
from migtest import MigrationTestCase, MigGuest


class Managed(MigrationTestCase):

    def _there_and_back(self, form):
        g = MigGuest(self, self.src)
        # There: A -> B. The params form gives the destination its serial log
        # with destination_xml; the plain form edits the XML from Begin3.
        there = self.migrate_observed(g, self.src, self.dst, form=form, use_dest_xml=(form == 'params'))
        src_dom = g.dom(self.src)
        self.assertEqual((src_dom.prop('State'), src_dom.prop('StateReason')), ('shutoff', 'migrated'))
        self.assertTrue(src_dom.prop('Persistent'), 'the source lost its definition without UNDEFINE_SOURCE')
        self.assertEqual(src_dom.prop('JobType'), 'none')
        kind, stats = src_dom.call('GetJobStats', 'u', (1,), 'sa{sv}')
        self.assertEqual(kind, 'completed')
        self.assertIs(stats['success'], True)
        self.assertEqual(stats['progress'], 100.0)
        self.assertFalse(g.dom(self.dst).prop('Persistent'), 'the destination kept a definition without PERSIST_DEST')

        # And back: B -> A, into the definition that stayed on A.
        back = self.migrate_observed(g, self.dst, self.src, form=form, use_dest_xml=(form == 'params'))
        self.assertGreater(back['last'], there['first'])
        # The destination's domain was transient: it went with its QEMU.
        with self.assertDBusError('NoSuchDomain'):
            self.dst.lookup_uuid(g.uuid)
        self.assertEqual(self.dst.list_domains(0), [])
        dom = g.dom(self.src)
        self.assertEqual((dom.prop('State'), dom.prop('StateReason')), ('running', 'migrated'))
        self.assertTrue(dom.prop('Persistent'))
        self.assertEqual(dom.call('GetJobStats', 'u', (1,), 'sa{sv}')[0], 'completed')
        g.destroy()

    def test_params(self):
        """Begin3Params ... Confirm3Params, A -> B -> A: counter goes on, source QEMU gone, signals."""
        self._there_and_back('params')

    def test_plain(self):
        """Begin3 ... Confirm3 (plain arguments), A -> B -> A: counter goes on, source QEMU gone, signals."""
        self._there_and_back('plain')


if __name__ == '__main__':
    migtest.main()
