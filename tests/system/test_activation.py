#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus activation: a call starts migrationd, it exits when idle, and the next
call starts it again, and it finds its running guest again (same QEMU).

dbus-daemon activates it itself here (an activation file with Exec=); on a
real system the shipped file hands over to systemd (SystemdService=), which
needs a real init and is not what this test is about."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'integration'))

import harness  # noqa: E402
from harness import GLib, Gio, wait_until, DEADLINE  # noqa: E402

BUS_NAME = 'org.example.Migration1'
MANAGER = '/org/example/Migration1'
IDLE = 2


class Activation(unittest.TestCase):

    def setUp(self):
        harness.check_prerequisites()
        self.dir = tempfile.mkdtemp(prefix='md-activation-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.uuid = str(uuidlib.uuid4())
        self.addCleanup(self.kill_guests)
        self.services = os.path.join(self.dir, 'services')
        os.makedirs(self.services)
        conf = os.path.join(self.dir, 'bus.conf')
        # A bus of its own whose activation runs the daemon from the build tree.
        with open(conf, 'w') as f:
            f.write('''<busconfig>
  <listen>unix:dir=%s</listen>
  <auth>EXTERNAL</auth>
  <servicedir>%s</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
''' % (self.dir, self.services))
        self.bus = subprocess.Popen([harness.DBUS_DAEMON, '--config-file=' + conf, '--nofork',
                                     '--nopidfile', '--print-address=1'],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_bus)
        self.address = self.bus.stdout.readline().decode().strip()
        config = os.path.join(self.dir, 'migrationd.conf')
        with open(config, 'w') as f:
            f.write('[host]\nuuid=%s\nhostname=activation\n[daemon]\nidle_timeout=%d\n'
                    % (uuidlib.uuid4(), IDLE))
        self.log = os.path.join(self.dir, 'daemon.log')
        with open(os.path.join(self.services, BUS_NAME + '.service'), 'w') as f:
            f.write('[D-BUS Service]\nName=%s\nExec=/bin/sh -c "DBUS_SYSTEM_BUS_ADDRESS=$DBUS_STARTER_ADDRESS '
                    'exec %s --config %s --state-dir %s/state --runtime-dir %s/run --log-dir %s/log '
                    '>>%s 2>&1"\n' % (BUS_NAME, harness.MIGRATIOND, config, self.dir, self.dir, self.dir,
                                      self.log))
        self.client = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def stop_bus(self):
        self.bus.terminate()
        self.bus.wait(30)

    def kill_guests(self):
        for pid in harness.find_qemu_pids(self.uuid):
            harness.kill_and_reap(pid)

    def call(self, path, iface, method, args, reply=None):
        return self.client.call_sync(BUS_NAME, path, iface, method, args,
                                     GLib.VariantType(reply) if reply else None,
                                     Gio.DBusCallFlags.NONE, 300000, None).unpack()

    def daemon_pid(self):
        try:
            return self.client.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                                         'GetConnectionUnixProcessID', GLib.Variant('(s)', (BUS_NAME,)),
                                         None, Gio.DBusCallFlags.NONE, 10000, None).unpack()[0]
        except GLib.Error:
            return None

    def test_reactivated_with_running_guest(self):
        """The first call starts it; it leaves when idle; the next call finds the guest again."""
        self.assertIsNone(self.daemon_pid(), 'nothing should own the name before the first call')
        serial = os.path.join(self.dir, 'serial.log')
        xml = harness.guest_xml('activated', self.uuid, serial)
        (path,) = self.call(MANAGER, BUS_NAME + '.Manager', 'DefineXML', GLib.Variant('(s)', (xml,)), '(o)')
        first = self.daemon_pid()
        self.assertIsNotNone(first, 'DefineXML should have activated migrationd')
        self.call(path, BUS_NAME + '.Domain', 'Start', GLib.Variant('(u)', (0,)))
        log = harness.SerialLog(serial)
        log.wait_counter(2)
        qemu = harness.find_qemu_pids(self.uuid)
        self.assertEqual(len(qemu), 1, 'one QEMU for the guest')

        # Idle: the daemon leaves, the guest does not.
        wait_until(lambda: self.daemon_pid() is None, DEADLINE, 'migrationd to exit on idle')
        wait_until(lambda: not os.path.exists('/proc/%d' % first), DEADLINE, 'the first daemon to be gone')
        before = log.last_counter()
        log.wait_counter(before + 2)
        self.assertEqual(harness.find_qemu_pids(self.uuid), qemu, 'the guest must outlive the daemon')

        # The next call activates it again, and the guest is found running.
        (state,) = self.call(path, 'org.freedesktop.DBus.Properties', 'Get',
                             GLib.Variant('(ss)', (BUS_NAME + '.Domain', 'State')), '(v)')
        second = self.daemon_pid()
        self.assertIsNotNone(second)
        self.assertNotEqual(second, first, 'a new daemon process should serve the call')
        self.assertEqual(state, 'running')
        self.assertEqual(harness.find_qemu_pids(self.uuid), qemu, 'same QEMU after re-activation')
        self.call(path, BUS_NAME + '.Domain', 'Destroy', GLib.Variant('(u)', (0,)))
        self.call(path, BUS_NAME + '.Domain', 'Undefine', GLib.Variant('(u)', (0,)))


if __name__ == '__main__':
    unittest.main()
