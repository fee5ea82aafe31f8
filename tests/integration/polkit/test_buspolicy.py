#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The shipped system bus policy (data/org.example.Migration1.conf) on a bus
that, like the real system bus, denies owning names and sending method
calls unless a policy file punches a hole."""

import os

import fixtures
from fixtures import AccessTestCase, Call, ACCESS_DENIED
import harness_base
from harness import (MANAGER_PATH, MANAGER_IFACE, DOMAIN_IFACE, PROPERTIES_IFACE, INTROSPECTABLE_IFACE,
                     OBJECT_MANAGER_IFACE, BUS_NAME)

STRICT_BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- Debian's system.conf default policy, and only the policy under test. -->
<busconfig>
  <type>system</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <include>%s</include>
  <limit name="reply_timeout">3600000</limit>
</busconfig>
'''

REJECTED = 'Rejected send message'


class BusPolicy(AccessTestCase):
    polkit_template = None

    def make_bus(self, name='bus', external_ok=True):
        conf = os.path.join(self.workdir, 'strict-system-bus.conf')
        with open(conf, 'w') as f:
            f.write(STRICT_BUS_CONFIG % fixtures.BUS_POLICY)
        # Bus.start reads the setting from harness_base.
        saved, harness_base.BUS_CONFIG = harness_base.BUS_CONFIG, conf
        try:
            return super().make_bus(name, external_ok)
        finally:
            harness_base.BUS_CONFIG = saved

    def test_bus_policy(self):
        """root owns the name (migrationd is up); anyone reaches the Manager,
        Domain, Properties, Introspectable, Peer and ObjectManager interfaces
        (a mutating call gets to migrationd, which refuses it itself); any
        other interface, or none, is refused by the bus; nobody else may own
        the name."""
        g = self.make_guest(self.host)
        # The daemon (root) owns the name: it answered make_guest's DefineXML.
        owner = self.root.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetConnectionUnixUser',
                               's', (BUS_NAME,), 'u', dest='org.freedesktop.DBus')[0]
        self.assertEqual(owner, 0)

        allowed = [
            Call(MANAGER_PATH, MANAGER_IFACE, 'ListDomains', 'u', (0,)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'GetCapabilities'),
            Call(MANAGER_PATH, PROPERTIES_IFACE, 'GetAll', 's', (MANAGER_IFACE,)),
            Call(MANAGER_PATH, INTROSPECTABLE_IFACE, 'Introspect'),
            Call(MANAGER_PATH, 'org.freedesktop.DBus.Peer', 'Ping'),
            Call(MANAGER_PATH, OBJECT_MANAGER_IFACE, 'GetManagedObjects'),
            Call(g.dom.path, DOMAIN_IFACE, 'GetXMLDesc', 'u', (0,)),
            Call(g.dom.path, PROPERTIES_IFACE, 'Get', 'ss', (DOMAIN_IFACE, 'State')),
        ]
        reaches_daemon = [
            Call(g.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'DefineXML', 's', (g.xml(title='x'),)),
        ]
        rejected_by_bus = [
            Call(MANAGER_PATH, 'org.example.Migration1.Secret', 'Anything'),
            Call(MANAGER_PATH, None, 'ListDomains', 'u', (0,)),
            Call(MANAGER_PATH, 'org.freedesktop.DBus.Mock', 'AddMethod', 'sssss', ('', 'X', '', '', '')),
        ]
        own = [Call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'RequestName', 'su', (BUS_NAME, 0),
                    dest='org.freedesktop.DBus')]
        results = self.nobody.run(allowed + reaches_daemon + rejected_by_bus + own)
        n1 = len(allowed)
        n2 = n1 + len(reaches_daemon)
        n3 = n2 + len(rejected_by_bus)
        for r in results[:n1]:
            self.assertSucceeded(r)
        for r in results[n1:n2]:
            self.assertRefused(r, ACCESS_DENIED)        # by migrationd: no polkit here
            self.assertIn('polkit', r.message)
        for r in results[n2:n3]:
            self.assertFalse(r.ok, '%r went through the bus' % r)
            self.assertEqual(r.error, ACCESS_DENIED, r)
            self.assertIn(REJECTED, r.message, r)
        self.assertFalse(results[n3].ok, 'uid %d could own %s' % (fixtures.NOBODY, BUS_NAME))
        self.assertEqual(results[n3].error, ACCESS_DENIED, results[n3])

        # root may send anything to it (the daemon itself answers UnknownMethod).
        with self.assertDBusError('org.freedesktop.DBus.Error.UnknownMethod'):
            self.root.call(MANAGER_PATH, 'org.example.Migration1.Secret', 'Anything')


if __name__ == '__main__':
    fixtures.main()
