#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The manager object: properties, capabilities, lookups, listing, ObjectManager."""

import os
import uuid as uuidlib

import harness
from harness import (SingleHostTestCase, MANAGER_PATH, MANAGER_IFACE, DOMAIN_IFACE,
                     OBJECT_MANAGER_IFACE, LIST_ACTIVE, LIST_INACTIVE, domain_path)


class Manager(SingleHostTestCase):

    def test_properties(self):
        """Version, Hostname, HostUUID, ProtocolVersions, Features; GetCapabilities says the same."""
        props = self.host.manager_props()
        expected_version = os.environ.get('MD_VERSION')
        self.assertTrue(props['Version'])
        if expected_version:
            self.assertEqual(props['Version'], expected_version)
        self.assertEqual(props['Hostname'], self.host.hostname)
        self.assertEqual(props['HostUUID'], self.host.host_uuid)
        self.assertIsInstance(props['ProtocolVersions'], list)
        self.assertTrue(props['ProtocolVersions'], 'ProtocolVersions is empty')
        self.assertIn(3, props['ProtocolVersions'])
        self.assertTrue(all(v in (2, 3) for v in props['ProtocolVersions']), props['ProtocolVersions'])
        self.assertEqual(len(set(props['ProtocolVersions'])), len(props['ProtocolVersions']))
        self.assertIsInstance(props['Features'], list)
        self.assertTrue(all(isinstance(f, str) and f for f in props['Features']))

        # Each property by itself, with its D-Bus type.
        for name, sig in (('Version', 's'), ('Hostname', 's'), ('HostUUID', 's'),
                          ('ProtocolVersions', 'au'), ('Features', 'as')):
            v = self.client.call(MANAGER_PATH, harness.PROPERTIES_IFACE, 'Get', 'ss',
                                 (MANAGER_IFACE, name), 'v')
            raw = self.client.conn.call_sync(
                harness.BUS_NAME, MANAGER_PATH, harness.PROPERTIES_IFACE, 'Get',
                harness.GLib.Variant('(ss)', (MANAGER_IFACE, name)), None,
                harness.Gio.DBusCallFlags.NONE, harness.CALL_TIMEOUT_MS, None)
            self.assertEqual(raw.get_child_value(0).get_variant().get_type_string(), sig, name)
            self.assertEqual(v[0], props[name])

        caps = self.host.capabilities()
        self.assertEqual(caps['version'], props['Version'])
        self.assertEqual(caps['hostname'], props['Hostname'])
        self.assertEqual(caps['host_uuid'], props['HostUUID'])
        self.assertEqual(list(caps['protocol_versions']), props['ProtocolVersions'])
        self.assertEqual(list(caps['features']), props['Features'])

        # Read-only.
        with self.assertRaises(harness.GLib.Error) as cm:
            self.client.call(MANAGER_PATH, harness.PROPERTIES_IFACE, 'Set', 'ssv',
                             (MANAGER_IFACE, 'Hostname', harness.GLib.Variant('s', 'evil')))
        self.assertIn(harness.dbus_error_name(cm.exception),
                      ('org.freedesktop.DBus.Error.PropertyReadOnly', 'org.freedesktop.DBus.Error.AccessDenied',
                       'org.freedesktop.DBus.Error.UnknownProperty'))
        self.assertEqual(self.host.manager_props()['Hostname'], self.host.hostname)

    def test_lookup(self):
        """LookupByName and LookupByUUID (any case) give the UUID-derived path
        (sd_bus_path_encode: a leading digit is escaped too)."""
        for first in ('0', 'c'):
            u = first + str(uuidlib.uuid4())[1:]
            with self.subTest(uuid=u):
                g = self.make_guest(self.host, uuid=u)
                self.assertEqual(g.dom.path, domain_path(g.uuid))
                self.assertEqual(self.host.lookup(g.name).path, g.dom.path)
                self.assertEqual(self.host.lookup_uuid(g.uuid).path, g.dom.path)
                self.assertEqual(self.host.lookup_uuid(g.uuid.upper()).path, g.dom.path)
        self.assertTrue(domain_path('0' + str(uuidlib.uuid4())[1:]).startswith(
            harness.DOMAIN_PATH_PREFIX + '_30'))

    def test_list_domains(self):
        """ListDomains: 0 and 3 all, 1 active (running and paused), 2 inactive."""
        self.assertEqual(self.host.list_domains(0), [])
        off = self.make_guest(self.host, name='list-off')
        run = self.make_guest(self.host, name='list-run', start=True)
        paused = self.make_guest(self.host, name='list-paused', start=True)
        paused.dom.suspend()
        everything = sorted([off.dom.path, run.dom.path, paused.dom.path])
        self.assertEqual(self.host.list_domains(0), everything)
        self.assertEqual(self.host.list_domains(LIST_ACTIVE | LIST_INACTIVE), everything)
        self.assertEqual(self.host.list_domains(LIST_ACTIVE), sorted([run.dom.path, paused.dom.path]))
        self.assertEqual(self.host.list_domains(LIST_INACTIVE), [off.dom.path])

        pids = run.dom.qemu_pids() + paused.dom.qemu_pids()
        run.dom.destroy()
        paused.dom.destroy()
        self.assertEqual(self.host.list_domains(LIST_ACTIVE), [])
        self.assertEqual(self.host.list_domains(LIST_INACTIVE), everything)
        harness.wait_until(lambda: not any(harness.pid_alive(p) for p in pids), what='QEMUs to exit')

    def test_object_manager(self):
        """GetManagedObjects lists every domain with its properties; InterfacesAdded
        and InterfacesRemoved follow DefineXML and Undefine."""
        self.assertEqual(self.host.managed_objects(), {})
        with self.client.record(iface=OBJECT_MANAGER_IFACE, path=MANAGER_PATH) as rec:
            g = self.make_guest(self.host)
            added = rec.wait_for(lambda s: s.member == 'InterfacesAdded' and s.args[0] == g.dom.path,
                                 what='InterfacesAdded')
            ifaces = added.args[1]
            self.assertIn(DOMAIN_IFACE, ifaces)
            self.assertEqual(ifaces[DOMAIN_IFACE].get('Name'), g.name)
            self.assertEqual(ifaces[DOMAIN_IFACE].get('UUID'), g.uuid)
            self.assertEqual(ifaces[DOMAIN_IFACE].get('State'), 'shutoff')

            objects = self.host.managed_objects()
            self.assertEqual(list(objects), [g.dom.path])
            self.assertEqual(objects[g.dom.path][DOMAIN_IFACE], g.dom.props())

            g.dom.undefine()
            removed = rec.wait_for(lambda s: s.member == 'InterfacesRemoved' and s.args[0] == g.dom.path,
                                   what='InterfacesRemoved')
            self.assertIn(DOMAIN_IFACE, removed.args[1])
            self.assertEqual(self.host.managed_objects(), {})
            # Exactly one of each, in order.
            seq = [(s.member, s.args[0]) for s in rec.signals]
            self.assertEqual(seq, [('InterfacesAdded', g.dom.path), ('InterfacesRemoved', g.dom.path)])


if __name__ == '__main__':
    harness.main()
