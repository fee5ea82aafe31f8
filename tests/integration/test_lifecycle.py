#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Domain lifecycle on one host: define, start, XML, suspend/resume,
destroy, shutdown, undefine."""

import os
import signal
import uuid as uuidlib
import xml.etree.ElementTree as ET

import harness
from harness import (DOMAIN_IFACE, PROPERTIES_IFACE, BOOT_DEADLINE, DEADLINE,
                     SingleHostTestCase, domain_path, properties_changed, pid_alive,
                     wait_until, holds_for)


def memory_kib(elem):
    """<memory unit='...'>N</memory> in KiB (libvirt's units)."""
    units = {'b': 1 / 1024, 'bytes': 1 / 1024, 'k': 1, 'kib': 1, 'kb': 1000 / 1024,
             'm': 1024, 'mib': 1024, 'mb': 1000 ** 2 / 1024, 'g': 1024 ** 2, 'gib': 1024 ** 2,
             'gb': 1000 ** 3 / 1024}
    unit = (elem.get('unit') or 'KiB').lower()
    return int(elem.text.strip()) * units[unit]


class Lifecycle(SingleHostTestCase):

    def assertGuestGone(self, pids, what='QEMU'):
        for pid in pids:
            wait_until(lambda: not pid_alive(pid), DEADLINE, '%s pid %d to exit' % (what, pid))

    def test_define_start(self):
        """Define, then Start: State running/booted, one QEMU, counter on the serial log."""
        g = self.make_guest(self.host, define=False)
        with self.client.record(iface='org.freedesktop.DBus.ObjectManager', member='InterfacesAdded') as added:
            dom = g.define()
            self.assertEqual(dom.path, domain_path(g.uuid))
            added.wait_for(lambda s: s.args[0] == dom.path, what='InterfacesAdded for ' + dom.path)

        props = dom.props()
        self.assertEqual(props['Name'], g.name)
        self.assertEqual(props['UUID'], g.uuid)
        self.assertEqual(props['State'], 'shutoff')
        self.assertTrue(props['Persistent'])
        self.assertEqual(props['JobType'], 'none')
        self.assertEqual(props['JobPhase'], 'none')
        self.assertEqual(dom.qemu_pids(), [], 'a QEMU runs for a domain that was only defined')
        self.assertTrue(os.path.isfile(os.path.join(self.host.state_dir, 'domains', g.name + '.xml')),
                        'no STATE/domains/NAME.xml after DefineXML')

        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=dom.path) as rec:
            dom.start()
            # Start replies once the guest runs: no waiting for the state.
            self.assertEqual(dom.state, 'running')
            self.assertEqual(dom.prop('StateReason'), 'booted')
            rec.wait_for(properties_changed(dom.path, DOMAIN_IFACE, State='running'),
                         what='PropertiesChanged State=running')

        pids = dom.qemu_pids()
        self.assertEqual(len(pids), 1, 'expected exactly one QEMU for the domain, found %r' % pids)
        first = g.serial.wait_counter(1, BOOT_DEADLINE)
        g.serial.wait_counter(first + 3)
        g.serial.assert_continuous()
        self.assertEqual(len(g.serial.boot_ids()), 1)
        self.assertTrue(os.path.exists(os.path.join(self.host.log_dir, g.name + '.log')),
                        'no LOGDIR/NAME.log for the QEMU of the domain')

        dom.destroy()
        self.assertGuestGone(pids)

    def test_xml_roundtrip(self):
        """GetXMLDesc returns the definition; defining it again is the same domain."""
        g = self.make_guest(self.host, title='round trip')
        dom = g.dom
        xml1 = dom.xml()
        root = ET.fromstring(xml1)
        self.assertEqual(root.tag, 'domain')
        self.assertEqual(root.get('type'), harness.domain_type())
        self.assertEqual(root.findtext('name'), g.name)
        self.assertEqual(root.findtext('uuid').lower(), g.uuid)
        self.assertEqual(root.findtext('title'), 'round trip')
        self.assertEqual(memory_kib(root.find('memory')), 64 * 1024)
        self.assertEqual(root.findtext('vcpu').strip(), '1')
        self.assertEqual(root.find('os/type').text.strip(), 'hvm')
        self.assertEqual(root.find('os/type').get('arch'), 'x86_64')
        self.assertEqual(root.find('os/type').get('machine'), 'pc')
        self.assertEqual(root.findtext('os/kernel'), harness.GUEST_KERNEL)
        self.assertEqual(root.findtext('os/cmdline'), 'dirty=8M period=100')
        serials = root.findall('devices/serial')
        self.assertEqual(len(serials), 1)
        self.assertEqual(serials[0].get('type'), 'file')
        self.assertEqual(serials[0].find('source').get('path'), g.serial_path)

        # Defining the returned XML again updates the same domain; the
        # canonical form is a fixed point.
        with self.client.record(iface='org.freedesktop.DBus.ObjectManager', member='InterfacesAdded') as added:
            dom2 = self.host.define(xml1)
            self.assertEqual(dom2.path, dom.path)
            self.assertEqual(dom2.xml(), xml1)
            self.assertEqual(self.host.list_domains(0), [dom.path])
            # A round trip through the manager: no new object was announced.
            self.host.manager_props()
            self.assertEqual(added.matching(lambda s: s.args[0] == dom.path), [],
                             'redefining an existing domain announced it again')

        # Without <uuid>, one is generated and shows in XML, property and path.
        name = 'gen-' + uuidlib.uuid4().hex[:8]
        xml = harness.guest_xml(name, None, os.path.join(self.workdir, 'gen.log'))
        dom3 = self.host.define(xml)
        gen_uuid = dom3.prop('UUID')
        self.host.domain_uuids.add(gen_uuid)
        self.assertEqual(str(uuidlib.UUID(gen_uuid)), gen_uuid, 'generated UUID not canonical')
        self.assertEqual(dom3.path, domain_path(gen_uuid))
        self.assertEqual(ET.fromstring(dom3.xml()).findtext('uuid').lower(), gen_uuid)

    def test_suspend_resume(self):
        """Suspend/Resume: PropertiesChanged paused/running; the guest stops and
        continues where it was."""
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        # Running: measure how fast the counter moves (the guest prints every
        # 100 ms of its time; on a loaded TCG host it can be much slower).
        c0 = g.serial.wait_counter(3)
        t0 = harness.time.monotonic()
        c1 = g.serial.wait_counter(c0 + 5)
        period = (harness.time.monotonic() - t0) / (c1 - c0)

        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=dom.path) as rec:
            dom.suspend()
            self.assertEqual(dom.state, 'paused')
            self.assertEqual(dom.prop('StateReason'), 'user')
            rec.wait_for(properties_changed(dom.path, DOMAIN_IFACE, State='paused'),
                         what='PropertiesChanged State=paused')

        # Paused: the counter stands still. A line already on its way through
        # the UART may still land, hence +1. The window is what the running
        # guest needed for ~15 lines (at least 1.5 s): a guest that had not
        # stopped would have printed many; and the daemon must keep saying
        # paused throughout.
        paused_at = g.serial.last_counter()
        window = min(max(1.5, 15 * period), 20.0)
        holds_for(lambda: g.serial.last_counter() <= paused_at + 1 and dom.state == 'paused',
                  window, 'counter stands still while paused (at %d)' % paused_at, poll=0.1)
        stopped_at = g.serial.last_counter()

        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=dom.path) as rec:
            dom.resume()
            self.assertEqual(dom.state, 'running')
            self.assertEqual(dom.prop('StateReason'), 'unpaused')
            rec.wait_for(properties_changed(dom.path, DOMAIN_IFACE, State='running'),
                         what='PropertiesChanged State=running')

        # The same guest goes on from where it stood: the next lines continue
        # the sequence (no reboot, nothing skipped).
        g.serial.wait_counter(stopped_at + 5)
        entries = g.serial.entries()
        self.assertEqual(len({b for _, b in entries}), 1, 'the guest rebooted: %r' % g.serial.boot_ids())
        g.serial.assert_continuous()

        pids = dom.qemu_pids()
        dom.destroy()
        self.assertGuestGone(pids)

    def test_start_paused(self):
        """Start(VIR_DOMAIN_START_PAUSED): QEMU runs but the guest has not, until Resume."""
        g = self.make_guest(self.host)
        dom = g.dom
        dom.start(1)
        self.assertEqual(dom.state, 'paused')
        pids = dom.qemu_pids()
        self.assertEqual(len(pids), 1)
        self.assertEqual(self.host.list_domains(harness.LIST_ACTIVE), [dom.path])
        # Not one instruction of the guest ran: its console is still empty.
        self.assertEqual(g.serial.text(), '', 'the guest ran before Resume')
        dom.resume()
        self.assertEqual(dom.state, 'running')
        g.serial.wait_counter(3)
        self.assertEqual(g.serial.counters()[0], 1)
        g.serial.assert_continuous()
        dom.destroy()
        self.assertGuestGone(pids)

    def test_destroy(self):
        """Destroy: State shutoff/destroyed by signal, QEMU gone, still defined, can start again."""
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        pids = dom.qemu_pids()
        self.assertEqual(len(pids), 1)
        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=dom.path) as rec:
            dom.destroy()
            rec.wait_for(properties_changed(dom.path, DOMAIN_IFACE, State='shutoff'),
                         what='PropertiesChanged State=shutoff')
        self.assertEqual(dom.state, 'shutoff')
        self.assertEqual(dom.prop('StateReason'), 'destroyed')
        self.assertGuestGone(pids)
        self.assertEqual(dom.qemu_pids(), [])
        self.assertTrue(dom.prop('Persistent'))
        self.assertEqual(self.host.list_domains(0), [dom.path])

        # A destroyed domain starts again: a new QEMU, a new boot.
        dom.start()
        self.assertEqual(dom.state, 'running')
        pids2 = dom.qemu_pids()
        self.assertEqual(len(pids2), 1)
        self.assertNotEqual(pids2, pids)
        g.serial.wait_counter(2, BOOT_DEADLINE)
        dom.destroy()
        self.assertGuestGone(pids2)

    def test_shutdown(self):
        """Shutdown presses the ACPI power button and replies at once; the guest
        powers off: State shutoff/shutdown, QEMU gone, still defined."""
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        pids = dom.qemu_pids()
        self.assertEqual(len(pids), 1)
        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=dom.path) as rec:
            dom.shutdown()
            rec.wait_for(properties_changed(dom.path, DOMAIN_IFACE, State='shutoff'),
                         what='PropertiesChanged State=shutoff after the guest powered off')
        self.assertEqual(dom.prop('StateReason'), 'shutdown')
        self.assertIn('power button', g.serial.text(), 'the guest never saw the power button')
        self.assertGuestGone(pids)
        self.assertTrue(dom.prop('Persistent'))
        self.assertEqual(self.host.list_domains(harness.LIST_INACTIVE), [dom.path])
        with self.assertDBusError('OperationInvalid'):
            dom.shutdown()

    def test_qemu_crash(self):
        """QEMU dying under the daemon (SIGKILL): State shutoff/crashed, still
        defined, and it starts again."""
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        pids = dom.qemu_pids()
        self.assertEqual(len(pids), 1)
        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=dom.path) as rec:
            os.kill(pids[0], signal.SIGKILL)
            rec.wait_for(properties_changed(dom.path, DOMAIN_IFACE, State='shutoff'),
                         what='PropertiesChanged State=shutoff after QEMU died')
        self.assertEqual(dom.prop('StateReason'), 'crashed')
        self.assertTrue(dom.prop('Persistent'))
        dom.start()
        g.serial.wait_counter(1)
        pids2 = dom.qemu_pids()
        self.assertEqual(len(pids2), 1)
        dom.destroy()
        self.assertGuestGone(pids2)

    def test_undefine(self):
        """Undefine of a shut-off domain: InterfacesRemoved, lookups fail, file gone."""
        g = self.make_guest(self.host)
        dom = g.dom
        state_file = os.path.join(self.host.state_dir, 'domains', g.name + '.xml')
        self.assertTrue(os.path.isfile(state_file))
        with self.client.record(iface='org.freedesktop.DBus.ObjectManager', member='InterfacesRemoved') as rec:
            dom.undefine()
            s = rec.wait_for(lambda s: s.args[0] == dom.path, what='InterfacesRemoved for ' + dom.path)
        self.assertIn(DOMAIN_IFACE, s.args[1])
        with self.assertDBusError('NoSuchDomain'):
            self.host.lookup(g.name)
        with self.assertDBusError('NoSuchDomain'):
            self.host.lookup_uuid(g.uuid)
        self.assertEqual(self.host.list_domains(0), [])
        self.assertNotIn(dom.path, self.host.managed_objects())
        self.assertFalse(os.path.exists(state_file), 'the definition file survived Undefine')
        # The object is gone from the bus too.
        with self.assertRaises(harness.GLib.Error) as cm:
            dom.prop('State')
        self.assertIn(harness.dbus_error_name(cm.exception),
                      ('org.freedesktop.DBus.Error.UnknownObject', 'org.freedesktop.DBus.Error.UnknownInterface',
                       'org.freedesktop.DBus.Error.UnknownMethod', harness.ERROR_PREFIX + 'NoSuchDomain'))

    def test_undefine_running(self):
        """Undefine of a running domain makes it transient; it disappears when it stops."""
        g = self.make_guest(self.host, start=True)
        dom = g.dom
        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=dom.path) as rec:
            dom.undefine()
            rec.wait_for(properties_changed(dom.path, DOMAIN_IFACE, Persistent=False),
                         what='PropertiesChanged Persistent=false')
        self.assertEqual(dom.state, 'running')
        self.assertFalse(dom.prop('Persistent'))
        g.serial.wait_advance(2)
        self.assertFalse(os.path.exists(os.path.join(self.host.state_dir, 'domains', g.name + '.xml')))
        with self.assertDBusError('OperationInvalid'):
            dom.undefine()

        pids = dom.qemu_pids()
        with self.client.record(iface='org.freedesktop.DBus.ObjectManager', member='InterfacesRemoved') as rec:
            dom.destroy()
            rec.wait_for(lambda s: s.args[0] == dom.path, what='InterfacesRemoved of the transient domain')
        self.assertGuestGone(pids)
        with self.assertDBusError('NoSuchDomain'):
            self.host.lookup(g.name)
        self.assertEqual(self.host.list_domains(0), [])


    def test_machine_settings(self):
        """What the definition says of the CPU, clock, boot and power reaches QEMU, and the guest runs."""
        g = self.make_guest(
            self.host, start=True,
            vcpu_xml="<vcpu current='1'>2</vcpu>",
            os_extra="<boot dev='hd'/><bootmenu enable='no'/><bios rebootTimeout='0'/>",
            machine_extra=("<features><acpi/><apic/><pae/><vmport state='off'/><pmu state='off'/></features>"
                           "<cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model>"
                           "<feature policy='require' name='sse4.1'/><topology sockets='1' cores='2' threads='1'/></cpu>"
                           "<clock offset='localtime'><timer name='rtc' tickpolicy='catchup'/>"
                           "<timer name='pit' tickpolicy='delay'/><timer name='hpet' present='no'/></clock>"
                           "<on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>"
                           "<pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>"),
            devices_extra="    <memballoon model='virtio' autodeflate='on'/>")
        pids = g.dom.qemu_pids()
        self.assertEqual(len(pids), 1)
        argv = harness.proc_cmdline(pids[0])
        for option, value in [('-smp', '1,maxcpus=2,sockets=1,dies=1,cores=2,threads=1'),
                              ('-cpu', 'qemu64,sse4.1=on,pmu=off'),
                              ('-rtc', 'base=localtime,driftfix=slew'),
                              ('-global', 'kvm-pit.lost_tick_policy=delay'),
                              ('-machine', 'hpet=off'), ('-machine', 'vmport=off'),
                              ('-boot', 'order=c,menu=off,reboot-timeout=0'),
                              ('-global', 'PIIX4_PM.disable_s3=1'), ('-global', 'PIIX4_PM.disable_s4=1'),
                              ('-device', 'virtio-balloon-pci,id=balloon0,deflate-on-oom=on')]:
            self.assertTrue(any(a == option and b == value for a, b in zip(argv, argv[1:])),
                            '%s %s not in %s' % (option, value, argv))
        self.assertIn('-no-reboot', argv)
        g.serial.wait_advance(3)
        g.serial.assert_continuous()
        self.assertEqual(g.dom.state, 'running')
        g.dom.destroy()
        self.assertGuestGone(pids)

    def test_not_implemented_refused(self):
        """A setting QEMU would not be given is kept in the definition, and Start refuses it by name."""
        g = self.make_guest(self.host, machine_extra="<cputune><shares>2048</shares></cputune>")
        with self.assertDBusError('Unsupported', "/domain/cputune/shares='2048'"):
            g.dom.start()
        self.assertEqual(g.dom.state, 'shutoff')
        self.assertEqual(g.dom.qemu_pids(), [])
        self.assertIn('<shares>2048</shares>', g.dom.xml(2))

if __name__ == '__main__':
    harness.main()
