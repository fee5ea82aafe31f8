#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The guest's peripherals under migrationd (issue 12): each new device on
QEMU's command line (/proc/PID/cmdline) and through GetXMLDesc; a NIC on a
Linux bridge (the test makes the bridge mdtest-brN and removes it): the tap
is attached while QEMU runs and gone after Destroy; a migration moves the
tap (source's gone, destination's attached) and the VNC display answers at
the destination; a missing bridge fails Prepare and the guest stays."""

import contextlib
import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PARENT = os.path.dirname(HERE)
sys.path.insert(0, PARENT)
sys.path.append(os.path.join(PARENT, 'migration'))

import harness  # noqa: E402
import migtest  # noqa: E402
from harness import DEADLINE, proc_cmdline, wait_until  # noqa: E402
from migtest import LIVE, Managed, MigGuest, MigrationTestCase  # noqa: E402

GLib = harness.GLib
MAC = '52:54:00:6d:64:01'


def make_bridge(tc):
    """A Linux bridge of this test (up), removed in cleanup; its name."""
    for n in range(100):
        name = 'mdtest-br%d' % n
        if subprocess.run(['ip', 'link', 'add', name, 'type', 'bridge'],
                          stderr=subprocess.DEVNULL).returncode == 0:
            break
    else:
        raise AssertionError('no free mdtest-brN name')
    tc.addCleanup(subprocess.run, ['ip', 'link', 'del', name], stderr=subprocess.DEVNULL)
    subprocess.run(['ip', 'link', 'set', name, 'up'], check=True)
    return name


def bridge_ports(bridge):
    """The interfaces attached to @bridge."""
    try:
        return sorted(os.listdir('/sys/class/net/%s/brif' % bridge))
    except FileNotFoundError:
        return []


def master_of(ifname):
    try:
        return os.path.basename(os.readlink('/sys/class/net/%s/master' % ifname))
    except FileNotFoundError:
        return None


def rfb_banner(port, host='127.0.0.1'):
    """The first bytes a VNC server sends ("RFB 003.008\\n")."""
    with socket.create_connection((host, port), timeout=10) as s:
        data = b''
        while len(data) < 12:
            chunk = s.recv(12 - len(data))
            if not chunk:
                break
            data += chunk
        return data


def spice_link_reply(port, host='127.0.0.1'):
    """The magic of a SPICE server's answer to a client's link message
    (SpiceLinkHeader "REDQ", protocol 2.2, and a SpiceLinkMess for the main
    channel without capabilities, little-endian)."""
    import struct
    mess = struct.pack('<IBBIII', 0, 1, 0, 0, 0, 18)
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b'REDQ' + struct.pack('<III', 2, 2, len(mess)) + mess)
        data = b''
        while len(data) < 4:
            chunk = s.recv(4 - len(data))
            if not chunk:
                break
            data += chunk
        return data


def graphics_port(xml_text, kind='vnc'):
    import xml.etree.ElementTree as ET
    for g in ET.fromstring(xml_text).iter('graphics'):
        if g.get('type') == kind:
            return int(g.get('port'))
    return None


def nic_xml(bridge, mac=MAC):
    return ("    <interface type='bridge'><mac address='%s'/><source bridge='%s'/>"
            "<model type='virtio'/></interface>" % (mac, bridge))


VNC_XML = "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
SPICE_XML = "    <graphics type='spice' autoport='yes' listen='127.0.0.1'/>"
RELOCATED = 'QEMU relocates SPICE clients to 127.0.0.1 port %d'


class Devices(harness.SingleHostTestCase):

    def _pid(self, guest):
        pids = harness.find_qemu_pids(guest.uuid)
        self.assertEqual(len(pids), 1)
        return pids[0]

    def test_peripherals(self):
        """user NIC, VNC with a password, virtio video, agent channel, RNG, USB tablet, metadata."""
        extra = '\n'.join([
            "    <controller type='usb' index='0' model='qemu-xhci'/>",
            "    <interface type='user'><model type='e1000e'/></interface>",
            "    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
            "    <input type='tablet' bus='usb'/>",
            "    <graphics type='vnc' autoport='yes' passwd='n0tl0gged'/>",
            "    <video><model type='virtio'/></video>",
            "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
        ])
        g = self.make_guest(self.host, start=True, devices_extra=extra)
        pid = self._pid(g)
        argv = proc_cmdline(pid)
        joined = ' '.join(argv)
        live = g.dom.xml()
        inactive = g.dom.xml(2)
        port = graphics_port(live)
        self.assertIsNotNone(port, live)
        self.assertGreaterEqual(port, 5900)
        self.assertIn('127.0.0.1:%d,password=on' % (port - 5900), argv)
        self.assertIn('user,id=net0', argv)
        self.assertRegex(joined, r'e1000e,netdev=net0,mac=52:54:00:[0-9a-f:]{8},id=nic0')
        self.assertIn('virtio-vga,id=video0', argv)
        self.assertIn('qemu-xhci,id=usb', argv)
        self.assertIn('usb-tablet,id=input0,bus=usb.0', argv)
        self.assertIn('rng-random,id=objrng0,filename=/dev/urandom', argv)
        self.assertIn('virtserialport,bus=virtio-serial0.0,chardev=channel0,name=org.qemu.guest_agent.0', argv)
        sock = os.path.join(self.host.runtime_dir, '%s.ch0.sock' % g.uuid)
        self.assertIn('path="%s"' % sock, live)
        wait_until(lambda: os.path.exists(sock), DEADLINE, 'the agent socket')
        # The generated MAC is kept in the definition; the password nowhere.
        mac = [a for a in argv if 'netdev=net0' in a][0].split('mac=')[1].split(',')[0]
        self.assertIn(mac, inactive)
        for text in (joined, live, inactive, g.dom.xml(1)):
            self.assertNotIn('n0tl0gged', text)
        with open(os.path.join(self.host.log_dir, '%s.log' % g.name), errors='replace') as f:
            self.assertNotIn('n0tl0gged', f.read())
        with open(self.host.stderr_path, errors='replace') as f:
            self.assertNotIn('n0tl0gged', f.read())
        # VNC answers (and asks for the password: security type 2 offered).
        self.assertTrue(rfb_banner(port).startswith(b'RFB '))
        g.dom.destroy()
        self.assertNotIn('port="%d"' % port, g.dom.xml(0).replace('port="-1"', ''))

    def test_metadata_round_trip(self):
        """<metadata> as written comes back from GetXMLDesc."""
        meta = ('<metadata><libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">'
                '<libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo></metadata>')
        xml = harness.guest_xml('meta-guest').replace('  <memory', '  %s\n  <memory' % meta, 1)
        dom = self.host.define(xml)
        text = dom.xml(0)
        self.assertIn('<libosinfo:os id="http://debian.org/debian/12"/>', text)
        self.assertIn('xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"', text)
        dom.undefine()

    def test_bridge_nic(self):
        """A bridge NIC: a tap on the bridge while QEMU runs, gone after Destroy."""
        bridge = make_bridge(self)
        g = self.make_guest(self.host, start=True, devices_extra=nic_xml(bridge))
        argv = proc_cmdline(self._pid(g))
        self.assertIn('virtio-net-pci,netdev=net0,mac=%s,id=nic0' % MAC, argv)
        self.assertTrue(any(a.startswith('tap,id=net0,fd=') for a in argv), argv)
        ports = bridge_ports(bridge)
        self.assertEqual(len(ports), 1, ports)
        tap = ports[0]
        self.assertEqual(master_of(tap), bridge)
        with open('/sys/class/net/%s/operstate' % tap) as f:
            self.assertIn(f.read().strip(), ('up', 'unknown'))
        # QEMU holds the tap: a daemon restart leaves it in place.
        self.host.restart()
        g.dom = self.host.lookup_uuid(g.uuid)
        wait_until(lambda: g.dom.state == 'running', DEADLINE, 'the guest to be found again')
        self.assertEqual(bridge_ports(bridge), [tap])
        g.dom.destroy()
        wait_until(lambda: not os.path.exists('/sys/class/net/%s' % tap), DEADLINE, 'the tap to go')
        self.assertEqual(bridge_ports(bridge), [])

    def test_ethernet_nic(self):
        """type='ethernet': QEMU gets the existing tap; it stays after Destroy; a missing one is refused."""
        for n in range(100):
            tap = 'mdtest-tap%d' % n
            if subprocess.run(['ip', 'tuntap', 'add', 'dev', tap, 'mode', 'tap'],
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
        self.addCleanup(subprocess.run, ['ip', 'link', 'del', tap], stderr=subprocess.DEVNULL)
        nic = ("    <interface type='ethernet'><mac address='%s'/><target dev='%s' managed='no'/>"
               "<model type='rtl8139'/></interface>")
        g = self.make_guest(self.host, start=True, devices_extra=nic % (MAC, tap))
        pid = self._pid(g)
        argv = proc_cmdline(pid)
        netdev = [a for a in argv if a.startswith('tap,id=net0,fd=')]
        self.assertEqual(len(netdev), 1, argv)
        self.assertIn('rtl8139,netdev=net0,mac=%s,id=nic0' % MAC, argv)
        # QEMU holds the fd the command line names, and it is that tap (tun's fdinfo names it).
        with open('/proc/%d/fdinfo/%s' % (pid, netdev[0].split('fd=')[1])) as f:
            self.assertIn('iff:\t%s' % tap, f.read())
        g.dom.destroy()
        self.assertTrue(os.path.exists('/sys/class/net/%s' % tap), 'an ethernet tap is not ours to remove')
        g2 = self.make_guest(self.host, devices_extra=nic % ('52:54:00:6d:64:02', 'mdtest-notap'))
        with self.assertDBusError('Unsupported', "'mdtest-notap'"):
            g2.dom.start()

    def test_missing_bridge(self):
        """Start with a bridge that does not exist: Unsupported naming it, nothing runs."""
        g = self.make_guest(self.host, devices_extra=nic_xml('mdtest-nobr'))
        with self.assertDBusError('Unsupported', "bridge 'mdtest-nobr'"):
            g.dom.start()
        self.assertEqual(g.dom.state, 'shutoff')
        self.assertEqual(harness.find_qemu_pids(g.uuid), [])


class DevicesMigration(MigrationTestCase):

    def test_bridge_vnc_moves(self):
        """A -> B with a bridge NIC and VNC: the tap moves, VNC answers at B."""
        bridge = make_bridge(self)
        g = MigGuest(self, self.src, devices_extra=nic_xml(bridge) + '\n' + VNC_XML)
        src_taps = bridge_ports(bridge)
        self.assertEqual(len(src_taps), 1)
        self.migrate_observed(g, self.src, self.dst)
        wait_until(lambda: not os.path.exists('/sys/class/net/%s' % src_taps[0]), DEADLINE,
                   'the source tap to go')
        dst_taps = bridge_ports(bridge)
        self.assertEqual(len(dst_taps), 1, dst_taps)
        self.assertEqual(master_of(dst_taps[0]), bridge)
        port = graphics_port(g.dom(self.dst).xml())
        self.assertIsNotNone(port)
        self.assertTrue(rfb_banner(port).startswith(b'RFB '))
        # Finish had QEMU announce the NIC (a failure would be logged).
        with open(self.dst.stderr_path, errors='replace') as f:
            self.assertNotIn('Failed to announce', f.read())
        g.destroy()
        wait_until(lambda: bridge_ports(bridge) == [], DEADLINE, 'the destination tap to go')

    def _move_with_display(self, kind, graphics_xml, dest_graphics_xml=None):
        """A -> B (managed) of a guest with a display: Prepare's cookie
        carries the destination's display as QEMU has it; the port of the
        cookie (decoded here, opaque to real clients)."""
        g = MigGuest(self, self.src, devices_extra=graphics_xml)
        src_port = graphics_port(g.dom(self.src).xml(), 'vnc' if dest_graphics_xml else kind)
        dst_serial = g.next_serial_path()
        dest_xml = g.xml(serial_path=dst_serial)
        if dest_graphics_xml:
            dest_xml = dest_xml.replace(graphics_xml.strip(), dest_graphics_xml.strip())
        m = Managed(self, g, self.src, self.dst, dest_xml=dest_xml)
        m.begin()
        m.prepare()
        display = json.loads(m.cookie).get('graphics')
        dst_port = graphics_port(g.dom(self.dst).xml(), kind)
        self.assertEqual(display, {'type': kind, 'listen': '127.0.0.1', 'port': dst_port})
        self.assertNotEqual(dst_port, src_port)
        m.perform()
        m.finish()
        m.confirm()
        g.serials.append(harness.SerialLog(dst_serial))
        g.host = self.dst
        wait_until(lambda: g.dom(self.dst).prop('State') == 'running', DEADLINE, 'the guest to run at B')
        self.assertEqual(graphics_port(g.dom(self.dst).xml(), kind), dst_port)
        self.addCleanup(g.destroy)
        return dst_port

    def test_spice_cookie(self):
        """SPICE: the cookie carries B's display; A's QEMU got client_migrate_info; SPICE answers at B."""
        port = self._move_with_display('spice', SPICE_XML)
        with open(self.src.stderr_path, errors='replace') as f:
            log = f.read()
        self.assertIn(RELOCATED % port, log)
        self.assertNotIn('Failed to tell QEMU where the SPICE display moves', log)
        self.assertEqual(spice_link_reply(port), b'REDQ')

    def test_spice_relocate_fails(self):
        """A's QEMU refuses client_migrate_info (it has VNC, B SPICE): a warning, the guest still moves."""
        port = self._move_with_display('spice', VNC_XML, SPICE_XML)
        with open(self.src.stderr_path, errors='replace') as f:
            self.assertIn('Failed to tell QEMU where the SPICE display moves', f.read())
        self.assertEqual(spice_link_reply(port), b'REDQ')

    def test_vnc_cookie(self):
        """VNC: the cookie carries B's display, but QEMU relocates no VNC client (no call)."""
        port = self._move_with_display('vnc', VNC_XML)
        with open(self.src.stderr_path, errors='replace') as f:
            self.assertNotIn('relocates SPICE clients', f.read())
        self.assertTrue(rfb_banner(port).startswith(b'RFB '))

    def test_missing_bridge_at_destination(self):
        """The destination XML names a bridge that is not there: Prepare fails, the guest stays."""
        bridge = make_bridge(self)
        g = MigGuest(self, self.src, devices_extra=nic_xml(bridge))
        pids = g.qemu_pids()
        dest_xml = g.xml(serial_path=g.next_serial_path()).replace(bridge, 'mdtest-nobr')
        m = Managed(self, g, self.src, self.dst, dest_xml=dest_xml)
        m.begin()
        with self.assertDBusError('Unsupported', "bridge 'mdtest-nobr'"):
            m.prepare()
        m.confirm(cancelled=True)
        migtest.assert_runs_here(self, g, self.src, pids)
        self.assertEqual(len(bridge_ports(bridge)), 1)
        g.destroy()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    migtest.main()
