#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two hosts on one machine: the fixture the migration tests build on."""

import harness
from harness import TwoHostTestCase


class TwoHostSmoke(TwoHostTestCase):

    def test_both_answer(self):
        """Source and destination each answer on their own bus with their own identity."""
        src, dst = self.source, self.destination
        self.assertNotEqual(src.bus.address, dst.bus.address)
        self.assertNotEqual(src.host_uuid, dst.host_uuid)
        self.assertTrue(set(range(src.ports.port_min, src.ports.port_max + 1)).isdisjoint(
            range(dst.ports.port_min, dst.ports.port_max + 1)), 'port ranges overlap')
        for host in (src, dst):
            props = host.manager_props()
            self.assertEqual(props['HostUUID'], host.host_uuid)
            self.assertEqual(props['Hostname'], host.hostname)
            caps = host.capabilities()
            self.assertEqual(caps['host_uuid'], host.host_uuid)
            self.assertEqual(caps['hostname'], host.hostname)
            # The daemon that answers is this host's own process.
            self.assertEqual(host.connect().name_owner_pid(harness.BUS_NAME), host.proc.pid)

    def test_separate_domains(self):
        """A guest on the source is invisible on the destination; each host runs its own."""
        src, dst = self.source, self.destination
        a = self.make_guest(src, name='twohosts-guest', start=True)
        self.assertEqual(src.list_domains(0), [a.dom.path])
        self.assertEqual(dst.list_domains(0), [])
        with self.assertDBusError('NoSuchDomain'):
            dst.lookup('twohosts-guest')
        # The same name (another UUID) is free on the other host.
        b = self.make_guest(dst, name='twohosts-guest', start=True)
        self.assertNotEqual(a.uuid, b.uuid)
        a.serial.wait_advance(2)
        b.serial.wait_advance(2)
        pids = a.dom.qemu_pids() + b.dom.qemu_pids()
        self.assertEqual(len(pids), 2)
        a.dom.destroy()
        b.dom.destroy()
        harness.wait_until(lambda: not any(harness.pid_alive(p) for p in pids), what='QEMUs to exit')


if __name__ == '__main__':
    harness.main()
