#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every error name of the foundation, with a message that says what was wrong."""

import uuid as uuidlib

import harness
from harness import GLib
from harness import SingleHostTestCase, MANAGER_PATH, MANAGER_IFACE, DOMAIN_IFACE


class Errors(SingleHostTestCase):

    def test_no_such_domain(self):
        """LookupByName/LookupByUUID of an unknown domain: NoSuchDomain naming it."""
        self.make_guest(self.host)  # one that exists, so the lookup is not trivially empty
        with self.assertDBusError('NoSuchDomain', 'no-such-guest'):
            self.host.lookup('no-such-guest')
        u = str(uuidlib.uuid4())
        with self.assertDBusError('NoSuchDomain', u):
            self.host.lookup_uuid(u)

    def test_invalid_lookup_args(self):
        """LookupByUUID of something that is not a UUID: InvalidArgs."""
        with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs', 'not-a-uuid'):
            self.host.lookup_uuid('not-a-uuid')

    def test_domain_exists(self):
        """DefineXML of a name another UUID uses, or a UUID another name uses: DomainExists."""
        g = self.make_guest(self.host)
        other = str(uuidlib.uuid4())
        self.host.domain_uuids.add(other)
        with self.assertDBusError('DomainExists', g.name):
            self.host.define(harness.guest_xml(g.name, other, g.serial_path))
        with self.assertDBusError('DomainExists', g.uuid):
            self.host.define(harness.guest_xml('renamed-' + g.name, g.uuid, g.serial_path))
        # Nothing changed.
        self.assertEqual(self.host.list_domains(0), [g.dom.path])
        self.assertEqual(g.dom.prop('Name'), g.name)

    def test_invalid_xml(self):
        """Malformed XML: InvalidXML naming the line; a missing <name>: InvalidXML."""
        broken = ("<domain type='qemu'>\n"
                  "  <name>broken</name>\n"
                  "  <memory unit='MiB'>64</mem>\n"      # line 3: end tag mismatch
                  "  <vcpu>1</vcpu>\n"
                  "</domain>\n")
        with self.assertDBusError('InvalidXML', '3') as err:
            self.host.define(broken)
        self.assertRegex(err.message.lower(), r'line\D{0,3}3\b',
                         'the InvalidXML message does not name line 3: %r' % err.message)

        g = harness.Guest(self.host, workdir=self.workdir)
        no_name = g.xml().replace('<name>%s</name>' % g.name, '')
        with self.assertDBusError('InvalidXML', 'name'):
            self.host.define(no_name)
        with self.assertDBusError('InvalidXML'):
            self.host.define('')
        self.assertEqual(self.host.list_domains(0), [])

    def test_unsupported_element(self):
        """An element outside the supported subset: Unsupported naming it, XPath-like."""
        g = harness.Guest(self.host, workdir=self.workdir,
                          devices_extra="    <sound model='ich9'/>")
        with self.assertDBusError('Unsupported', '/domain/devices/sound'):
            self.host.define(g.xml())
        self.assertEqual(self.host.list_domains(0), [])

    def test_operation_invalid(self):
        """Lifecycle calls in the wrong state: OperationInvalid."""
        g = self.make_guest(self.host)
        dom = g.dom
        # Shut off: only Start and Undefine make sense.
        for method in ('Destroy', 'Suspend', 'Resume', 'Shutdown'):
            with self.subTest(state='shutoff', method=method):
                with self.assertDBusError('OperationInvalid'):
                    dom.call(method, 'u', (0,))
        self.assertEqual(dom.state, 'shutoff')

        dom.start()
        g.serial.wait_counter(1)
        pids = dom.qemu_pids()
        for method in ('Start', 'Resume'):
            with self.subTest(state='running', method=method):
                with self.assertDBusError('OperationInvalid'):
                    dom.call(method, 'u', (0,))
        self.assertEqual(dom.state, 'running')
        self.assertEqual(dom.qemu_pids(), pids, 'a refused Start changed the QEMU process')

        dom.suspend()
        for method in ('Start', 'Suspend'):
            with self.subTest(state='paused', method=method):
                with self.assertDBusError('OperationInvalid'):
                    dom.call(method, 'u', (0,))
        self.assertEqual(dom.state, 'paused')

        # Undefine of a transient domain.
        dom.undefine()
        with self.assertDBusError('OperationInvalid'):
            dom.undefine()
        dom.destroy()
        harness.wait_until(lambda: not any(harness.pid_alive(p) for p in pids), what='QEMU to exit')

    def test_invalid_flags(self):
        """A flag bit no method knows (1<<30) is refused, not ignored: InvalidArgs."""
        g = self.make_guest(self.host)
        dom = g.dom
        for method in ('Start', 'GetXMLDesc', 'Undefine'):
            with self.subTest(method=method):
                with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs'):
                    dom.call(method, 'u', (1 << 30,), None)
        with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs'):
            self.host.manager_call('ListDomains', 'u', (1 << 30,), 'ao')
        # None of them acted.
        self.assertEqual(dom.state, 'shutoff')
        self.assertEqual(dom.qemu_pids(), [])
        self.assertEqual(self.host.list_domains(0), [dom.path])

    def test_wrong_signature(self):
        """A call with the wrong argument types is refused by the bus layer: InvalidArgs."""
        with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs'):
            self.client.call_raw(MANAGER_PATH, MANAGER_IFACE, 'DefineXML', GLib.Variant('(u)', (1,)))
        g = self.make_guest(self.host)
        with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs'):
            self.client.call_raw(g.dom.path, DOMAIN_IFACE, 'Start', GLib.Variant('(s)', ('now',)))
        self.assertEqual(g.dom.state, 'shutoff')


if __name__ == '__main__':
    harness.main()
