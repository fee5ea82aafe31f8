#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A guest whose definition sets the CPU, clock, timers, boot, power and a
balloon: both hosts give them to QEMU, so the destination's QEMU takes the
stream (the devices and CPU state match) and the counter goes on."""

import migtest
from harness import proc_cmdline
from migtest import MigrationTestCase, MigGuest

OPTIONS = [('-smp', '1,maxcpus=2,sockets=1,dies=1,cores=2,threads=1'),
           ('-cpu', 'qemu64,sse4.1=on'),
           ('-rtc', 'base=localtime,driftfix=slew'),
           ('-machine', 'hpet=off'), ('-machine', 'vmport=off'),
           ('-boot', 'order=c'),
           ('-global', 'PIIX4_PM.disable_s3=1'),
           ('-device', 'virtio-balloon-pci,id=balloon0,deflate-on-oom=on'),
           ('-device', 'piix3-usb-uhci,id=usb'), ('-device', 'usb-kbd,id=input2,bus=usb.0')]


class MachineSettings(MigrationTestCase):

    def assert_options(self, pid, where):
        argv = proc_cmdline(pid) or []
        pairs = list(zip(argv, argv[1:]))
        for pair in OPTIONS:
            self.assertIn(pair, pairs, 'the %s QEMU lacks %s %s: %r' % (where, pair[0], pair[1], argv))
        self.assertIn('-no-reboot', argv)

    def test_migrate(self):
        """CPU model and topology, clock, hpet, boot, pm, balloon, USB keyboard, A -> B: the counter goes on."""
        g = MigGuest(self, self.src,
                     vcpu_xml="<vcpu current='1'>2</vcpu>",
                     os_extra="<boot dev='hd'/>",
                     machine_extra=("<features><acpi/><vmport state='off'/></features>"
                                    "<cpu mode='custom'><model>qemu64</model><feature name='sse4.1'/>"
                                    "<topology sockets='1' cores='2' threads='1'/></cpu>"
                                    "<clock offset='localtime'><timer name='rtc' tickpolicy='catchup'/>"
                                    "<timer name='hpet' present='no'/></clock>"
                                    "<on_reboot>destroy</on_reboot><pm><suspend-to-mem enabled='no'/></pm>"),
                     devices_extra=("    <controller type='usb' index='0'/>\n"
                                    "    <input type='keyboard' bus='usb'/>\n"
                                    "    <memballoon model='virtio' autodeflate='on'/>"))
        self.assert_options(g.qemu_pid_with(g.serial.path), 'source')
        self.migrate_observed(g, self.src, self.dst)
        self.assert_options(g.qemu_pid_with(g.serial.path), 'destination')
        g.destroy()


if __name__ == '__main__':
    migtest.main()
