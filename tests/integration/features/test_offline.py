#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""OFFLINE migration: a shut-off persistent domain's definition moves with
the five phases, without any QEMU; OFFLINE needs PERSIST_DEST."""

import feattest
from feattest import (FeatureTestCase, FGuest, LIVE, OFFLINE, PERSIST_DEST, UNDEFINE_SOURCE, Mig,
                      find_qemu_pids, job_stats, members, recorder, variant_dict, dcall, mcall, log,
                      SIGNAL_DEADLINE, BOOT_DEADLINE)
import harness


def phases(signals):
    out = []
    for s in signals:
        if s.member == 'PropertiesChanged' and s.args[0] == harness.DOMAIN_IFACE and 'JobPhase' in s.args[1]:
            p = s.args[1]['JobPhase']
            if not out or out[-1] != p:
                out.append(p)
    return out


class Offline(FeatureTestCase):

    def offline(self, g, flags, params=None):
        """The five phases of an offline migration; checks that nothing ran
        anywhere and the source's job; returns (destination path, source signals)."""
        src_dom = g.dom(self.src)
        self.assertEqual(src_dom.prop('State'), 'shutoff')
        m = Mig(self, g, self.src, self.dst, flags=flags, params=params, dest_xml=False)
        with recorder(self.src, g.path) as rec:
            xml = m.begin()
            self.assertIn(g.uuid, xml)
            self.assertEqual((src_dom.prop('JobType'), src_dom.prop('JobPhase')), ('migration-out', 'begin3'))
            uri = m.prepare()
            self.assertEqual(uri, '', 'Prepare3 of an offline migration returned a URI')
            self.assertEqual(find_qemu_pids(g.uuid), [], 'an offline Prepare3 started a QEMU')
            with self.assertDBusError('NoSuchDomain'):
                self.dst.lookup_uuid(g.uuid)
            cookie = m.perform()
            self.assertTrue(cookie, 'Perform3 of an offline migration returned no cookie')
            self.assertEqual(src_dom.prop('JobPhase'), 'perform3_done')
            self.assertEqual(find_qemu_pids(g.uuid), [], 'an offline Perform3 started a QEMU')
            path = m.finish()
            self.assertEqual(path, g.path)
            m.confirm()
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', SIGNAL_DEADLINE, 'JobCompleted')
            self.assertIs(done.args[0]['success'], True, done.args[0])
            signals = list(rec.signals)
        self.assertEqual(find_qemu_pids(g.uuid), [], 'an offline migration started a QEMU')
        self.assertEqual(phases(signals)[:3], ['begin3', 'perform3', 'perform3_done'])
        dst_dom = g.dom(self.dst)
        self.assertEqual(dst_dom.prop('State'), 'shutoff')
        self.assertIs(dst_dom.prop('Persistent'), True)
        self.assertEqual(dst_dom.prop('Name'), g.name)
        self.assertEqual(dst_dom.prop('JobType'), 'none')
        self.assertIn(dst_dom.path, self.dst.list_domains(harness.LIST_INACTIVE))
        return path, signals

    def test_offline_undefine_source(self):
        """OFFLINE|PERSIST_DEST|UNDEFINE_SOURCE: defined and shut off on the destination, undefined on the source."""
        g = FGuest(self, self.src, start=False, title='offline guest')
        before = g.dom(self.src).xml()
        self.offline(g, OFFLINE | PERSIST_DEST | UNDEFINE_SOURCE)
        with self.assertDBusError('NoSuchDomain'):
            self.src.lookup_uuid(g.uuid)
        self.assertEqual(self.src.list_domains(0), [])
        # The definition arrived whole: same UUID, name, title, serial path.
        after = g.dom(self.dst).xml()
        for part in (g.uuid, '<name>%s</name>' % g.name, 'offline guest', g.serial.path):
            self.assertIn(part, after, 'the destination\'s definition lacks %r:\n%s\n(source had:\n%s)'
                          % (part, after, before))

    def test_offline_persistent_xml(self):
        """OFFLINE|PERSIST_DEST with persistent_xml: the destination defines that
        XML; the source keeps its definition; the moved definition starts there."""
        g = FGuest(self, self.src, start=False)
        dst_serial = g.next_serial_path()
        persistent = g.xml(serial_path=dst_serial, title='defined by persistent_xml')
        self.offline(g, OFFLINE | PERSIST_DEST, {'persistent_xml': ('s', persistent)})
        src_dom = g.dom(self.src)
        self.assertEqual(src_dom.prop('State'), 'shutoff')
        self.assertIs(src_dom.prop('Persistent'), True, 'the source lost its definition without UNDEFINE_SOURCE')
        self.assertNotIn('defined by persistent_xml', src_dom.xml())
        dst_dom = g.dom(self.dst)
        xml = dst_dom.xml()
        self.assertIn('defined by persistent_xml', xml)
        self.assertIn(dst_serial, xml)
        # The definition works there: the guest boots on the destination.
        g.moved_to(self.dst, dst_serial)
        dst_dom.start()
        g.serial.wait_counter(3, BOOT_DEADLINE)
        self.assertEqual(len(g.qemu_pids()), 1)
        g.destroy()

    def test_offline_needs_persist_dest(self):
        """OFFLINE without PERSIST_DEST: InvalidArgs at Begin3 and Prepare3, before anything starts."""
        g = FGuest(self, self.src, start=False)
        src_dom = g.dom(self.src)
        xml_before = src_dom.xml()
        with recorder(self.src, g.path) as rec:
            for flags in (OFFLINE, OFFLINE | UNDEFINE_SOURCE):
                with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', 'OFFLINE', 'PERSIST_DEST'):
                    dcall(self.src, g.path, 'Begin3Params', 'a{sv}u', ({}, flags), 'say')
                with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', 'OFFLINE', 'PERSIST_DEST'):
                    dcall(self.src, g.path, 'Begin3', 'sstu', ('', '', 0, flags), 'say')
            rec.matching()
            self.assertEqual(members(rec.signals, 'JobCompleted'), [], 'a refused Begin3 ran a job')
            self.assertFalse([s for s in rec.signals if s.member == 'PropertiesChanged'
                              and 'JobType' in s.args[1]], 'a refused Begin3 started a job: %r' % rec.signals)
        self.assertEqual((src_dom.prop('JobType'), src_dom.prop('JobPhase')), ('none', 'none'))
        self.assertEqual(job_stats(self.src, g.path, 0)[0], 'none')
        self.assertEqual(job_stats(self.src, g.path, 1)[0], 'none', 'a refused Begin3 left a job record')
        self.assertEqual(src_dom.prop('State'), 'shutoff')
        self.assertIs(src_dom.prop('Persistent'), True)
        self.assertEqual(src_dom.xml(), xml_before)
        # The destination refuses it too, whatever the cookie.
        with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', 'OFFLINE', 'PERSIST_DEST'):
            mcall(self.dst, 'Prepare3Params', 'a{sv}ayu',
                  (variant_dict({'destination_xml': ('s', xml_before)}), b'', OFFLINE), 'ays')
        self.assertEqual(self.dst.list_domains(0), [])
        self.assertEqual(find_qemu_pids(g.uuid), [])
        # The domain still migrates offline with the flag it needs.
        self.offline(g, OFFLINE | PERSIST_DEST)


if __name__ == '__main__':
    feattest.main()
