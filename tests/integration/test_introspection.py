#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the daemon exports matches introspection/*.xml, member by member.

Compared for each org.example.Migration1.* interface: methods (argument
names, types and directions, in order), properties (type, access), signals
(argument names and types), and the org.freedesktop.DBus.* annotations
(EmitsChangedSignal, with its default "true", Deprecated, NoReply).
Documentation annotations and sd-bus' own org.freedesktop.systemd1.*
annotations are ignored."""

import os
import xml.etree.ElementTree as ET

import harness
from harness import SingleHostTestCase, MANAGER_PATH, DOMAIN_PATH_PREFIX

OUR_PREFIX = 'org.example.Migration1.'
COMPARED_ANNOTATIONS = ('org.freedesktop.DBus.Deprecated', 'org.freedesktop.DBus.Method.NoReply',
                        'org.freedesktop.DBus.Property.EmitsChangedSignal')


def _annotations(elem, defaults=None):
    out = dict(defaults or {})
    for a in elem.findall('annotation'):
        if a.get('name') in COMPARED_ANNOTATIONS:
            out[a.get('name')] = a.get('value')
    return out


def describe(iface_elem):
    """{('method'|'property'|'signal', name): description} of an interface."""
    members = {}
    iface_ann = _annotations(iface_elem)
    emits_default = iface_ann.get('org.freedesktop.DBus.Property.EmitsChangedSignal', 'true')
    for m in iface_elem.findall('method'):
        args = [(a.get('name'), a.get('type'), a.get('direction') or 'in') for a in m.findall('arg')]
        members[('method', m.get('name'))] = {'args': args, 'annotations': _annotations(m)}
    for p in iface_elem.findall('property'):
        members[('property', p.get('name'))] = {
            'type': p.get('type'), 'access': p.get('access'),
            'annotations': _annotations(p, {'org.freedesktop.DBus.Property.EmitsChangedSignal': emits_default})}
    for s in iface_elem.findall('signal'):
        args = [(a.get('name'), a.get('type')) for a in s.findall('arg')]
        members[('signal', s.get('name'))] = {'args': args, 'annotations': _annotations(s)}
    return members


def interfaces(xml_text):
    root = ET.fromstring(xml_text)
    return {i.get('name'): i for i in root.findall('interface')}


def compare(iface, exported, documented):
    """A list of human-readable differences (empty when equal)."""
    diffs = []
    a, b = describe(exported), describe(documented)
    for key in sorted(set(a) | set(b)):
        kind, name = key
        where = '%s %s.%s' % (kind, iface, name)
        if key not in a:
            diffs.append('%s: in introspection/%s.xml but not exported by migrationd' % (where, iface))
            continue
        if key not in b:
            diffs.append('%s: exported by migrationd but not in introspection/%s.xml' % (where, iface))
            continue
        for field in sorted(set(a[key]) | set(b[key])):
            if a[key].get(field) != b[key].get(field):
                diffs.append('%s: %s differ:\n      exported:   %r\n      documented: %r' %
                             (where, field, a[key].get(field), b[key].get(field)))
    return diffs


class Introspection(SingleHostTestCase):

    def read_documented(self, iface):
        path = os.path.join(harness.INTROSPECTION_DIR, iface + '.xml')
        with open(path) as f:
            ifaces = interfaces(f.read())
        self.assertIn(iface, ifaces, '%s does not describe %s' % (path, iface))
        return ifaces[iface]

    def check_object(self, path, expected_ours):
        exported = interfaces(self.client.introspect(path))
        ours = sorted(n for n in exported if n.startswith(OUR_PREFIX))
        self.assertEqual(ours, sorted(expected_ours), 'project interfaces at %s' % path)
        for std in ('org.freedesktop.DBus.Properties', 'org.freedesktop.DBus.Introspectable',
                    'org.freedesktop.DBus.Peer'):
            self.assertIn(std, exported, '%s lacks %s' % (path, std))
        diffs = []
        for iface in ours:
            diffs += compare(iface, exported[iface], self.read_documented(iface))
        if diffs:
            self.fail('%d difference(s) between the bus and introspection/*.xml at %s:\n  - %s' %
                      (len(diffs), path, '\n  - '.join(diffs)))
        return exported

    def test_manager(self):
        """The manager object exports Manager (as documented) and ObjectManager."""
        exported = self.check_object(MANAGER_PATH, ['org.example.Migration1.Manager',
                                                    'org.example.Migration1.PeerRelay'])
        self.assertIn('org.freedesktop.DBus.ObjectManager', exported)

    def test_domain(self):
        """A domain object exports Domain as documented, and is enumerated as a child node."""
        g = self.make_guest(self.host)
        self.check_object(g.dom.path, ['org.example.Migration1.Domain'])
        # The node enumerator: the domain shows under .../domain.
        parent = DOMAIN_PATH_PREFIX.rstrip('/')
        children = [n.get('name') for n in ET.fromstring(self.client.introspect(parent)).findall('node')]
        self.assertIn(g.dom.path[len(parent) + 1:], children)


if __name__ == '__main__':
    harness.main()
