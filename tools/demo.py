#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""migrationd demo: two private "hosts" on this machine and a live migration.

    meson setup build && meson compile -C build
    /usr/bin/python3 tools/demo.py [--builddir build]

Starts two private system-like buses, each with a migrationd from the build
tree (with the integration-test harness, tests/integration/harness.py):
the source and the destination host. Defines and starts the test guest
(tests/guest: it prints `counter N` on its serial console) on the source,
shows it running through the bus and on its serial log, live-migrates it
with `migrationctl migrate` (managed mode: the client drives the five v3
phases on both buses, with its progress bar), and shows the counter going
on from where it was on the destination while the source QEMU is gone.
It fails loudly (MIGRATION NOT VERIFIED, both counters, exit status 1)
unless the guest proves it arrived whole: the destination goes on with the
source's last counter + 1, same boot, its memory check clean over the
whole dirty area, and the source QEMU gone (harness.check_arrival).
Needs Debian's python3-gi, dbus-daemon and qemu-system-x86; nothing
installed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import shutil
import time

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'integration'))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build-dir', '--builddir', dest='builddir', default=os.environ.get('MD_BUILDDIR', os.path.join(SOURCE_ROOT, 'build')),
                    help='the meson build directory (default: %(default)s)')
    ap.add_argument('--counters', type=int, default=5, help='how many counter lines to show')
    ap.add_argument('--keep', action='store_true', help='keep the temporary directory')
    ap.add_argument('--bandwidth', type=int, default=48, help='migration bandwidth in MiB/s (default: %(default)s)')
    return ap.parse_args()


def locate(args):
    """Fills the harness' environment from the build directory (MD_* set in
    the environment win)."""
    b = os.path.abspath(args.builddir)
    os.environ.setdefault('MD_MIGRATIOND', os.path.join(b, 'src', 'migrationd'))
    os.environ.setdefault('MD_MIGRATIONCTL', os.path.join(b, 'src', 'migrationctl'))
    os.environ.setdefault('MD_GUEST_KERNEL', os.path.join(b, 'tests', 'guest', 'guest.elf'))
    # Quiet daemon logs (MD_VERBOSE=1 or G_MESSAGES_DEBUG=all for more).
    os.environ.setdefault('G_MESSAGES_DEBUG', 'all' if os.environ.get('MD_VERBOSE') == '1' else '')
    # The demo always runs its own buses, never one from the environment.
    os.environ.pop('DBUS_STARTER_BUS_TYPE', None)
    missing = [os.environ[k] for k in ('MD_MIGRATIOND', 'MD_GUEST_KERNEL') if not os.path.exists(os.environ[k])]
    if missing:
        sys.exit('demo: %s not built; run `meson setup %s && meson compile -C %s` first (or pass --builddir)'
                 % (', '.join(missing), args.builddir, args.builddir))


def say(*a):
    print(*a, flush=True)


def heading(text):
    say('\n== %s' % text)


class Demo:
    def __init__(self, args, harness):
        self.args = args
        self.h = harness
        self.workdir = tempfile.mkdtemp(prefix='migrationd-demo-')
        self.buses = []
        self.hosts = {}
        self.guest = None

    # -- hosts

    def add_host(self, name):
        h = self.h
        bus = h.Bus(self.workdir, name + '-bus').start()
        self.buses.append(bus)
        # Both "hosts" are on this machine: the migration stream goes over loopback.
        host = h.Host(bus, self.workdir, name, config_extra={'migration': {'address': '127.0.0.1'}})
        self.hosts[name] = host
        host.start()
        props = host.manager_props()
        heading('host %r: migrationd pid %d on bus %s' % (name, host.proc.pid, bus.address))
        for key in ('Version', 'Hostname', 'HostUUID', 'ProtocolVersions', 'Features'):
            say('  %-16s %s' % (key, props.get(key)))
        return host

    # -- the guest

    def define_and_start(self, host):
        h = self.h
        # Big enough, and dirtying enough, for the progress bar to have
        # something to show; a pass over the area takes 3.2 s, so the check
        # after the migration (two passes) is short.
        self.guest = g = h.Guest(host, name='demo-guest', workdir=self.workdir, memory_mib=512,
                                 cmdline='dirty=64M rate=2M period=100')
        heading('DefineXML + Start on %r (%s guest, kernel %s)' % (host.name, h.domain_type(), h.GUEST_KERNEL))
        g.define()
        say('  object path      %s' % g.dom.path)
        g.dom.start()
        g.serial.wait_counter(1)

    def show(self, host, serial=None):
        g = self.guest
        serial = serial or g.serial
        dom = host.lookup(g.name)
        props = dom.props()
        heading('domain %r on %r, through the bus' % (g.name, host.name))
        for key in ('Name', 'UUID', 'State', 'StateReason', 'Persistent', 'JobType'):
            say('  %-16s %s' % (key, props.get(key)))
        say('  QEMU pid         %s' % ', '.join(map(str, dom.qemu_pids())))
        self.show_migrationctl(host)
        heading('serial console of the guest (%s)' % serial.path)
        first = serial.last_counter()
        serial.wait_counter(first + self.args.counters)
        lines = [l for l in serial.lines() if l.startswith('counter ')]
        for line in lines[-self.args.counters:]:
            say('  ' + line)
        serial.assert_continuous()

    def migrate(self, source, destination):
        """Live migration with migrationctl, its progress bar on this
        terminal; then the guest's own proof that it arrived whole
        (harness.check_arrival), or ArrivalFailed."""
        h, g = self.h, self.guest
        dest_serial = os.path.join(self.workdir, 'serial-%s-destination.log' % g.uuid)
        dest_xml = os.path.join(self.workdir, 'destination.xml')
        with open(dest_xml, 'w') as f:
            f.write(g.xml().replace(g.serial_path, dest_serial))
        before = g.serial.last_counter()
        source_pids = h.find_qemu_pids(g.uuid)
        argv = [h.MIGRATIONCTL, '--bus', source.bus.address, 'migrate', g.name,
                '--to-bus', destination.bus.address, '--live', '--persistent', '--undefine-source',
                '--bandwidth', str(self.args.bandwidth), '--xml', dest_xml]
        heading('live migration %r -> %r (the guest printed counter %d so far)' % (source.name, destination.name, before))
        say('  $ migrationctl --bus SOURCE migrate %s --to-bus DESTINATION --live --persistent '
            '--undefine-source --bandwidth %d --xml destination.xml' % (g.name, self.args.bandwidth))
        r = subprocess.run(argv, timeout=600)
        if r.returncode != 0:
            raise AssertionError('migrationctl migrate failed with status %d' % r.returncode)
        say('  waiting for the guest to check its whole dirty area on the destination ...')
        last, first = h.check_arrival(g.serial, dest_serial, dirty=True, source_pids=source_pids)
        say('  the source stopped at counter %d; the destination went on with counter %d, '
            'memory check clean' % (last, first))
        left = h.find_qemu_pids(g.uuid)
        say('  QEMU processes of the guest now: %s (one: the destination\'s; the source\'s %s are gone)'
            % (left, source_pids))
        if len(left) != 1:
            raise AssertionError('expected exactly one QEMU for the guest, found %s' % left)
        return h.SerialLog(dest_serial)

    def show_migrationctl(self, host):
        ctl = self.h.MIGRATIONCTL
        if not ctl or not os.access(ctl, os.X_OK):
            return
        argv = [ctl, '--bus', host.bus.address, 'list']
        say('  $ migrationctl --bus ... list')
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            say('    (migrationctl failed: %s)' % e)
            return
        for line in (r.stdout + r.stderr).splitlines():
            say('    ' + line)
        if r.returncode != 0:
            say('    (exit status %d)' % r.returncode)

    # -- cleanup

    def cleanup(self, failed=False):
        """Stops everything; keeps the temporary directory (consoles, logs)
        with --keep or after a failure."""
        heading('cleaning up')
        h = self.h
        for host in self.hosts.values():
            if self.guest is not None and host.running():
                try:
                    dom = host.lookup(self.guest.name)
                    if dom.state != 'shutoff':
                        dom.destroy()
                    dom.undefine()
                    say('  destroyed and undefined %r on %r' % (self.guest.name, host.name))
                except h.GLib.Error:
                    pass
            try:
                host.teardown()
            except AssertionError as e:
                say('  %s' % e)
        for bus in self.buses:
            bus.stop()
        left = []
        for host in self.hosts.values():
            for u in host.domain_uuids:
                for pid in h.find_qemu_pids(u):
                    h.kill_and_reap(pid)
                    left.append(pid)
        if left:
            say('  killed QEMU left behind: %s' % left)
        if self.args.keep or failed:
            say('  kept %s' % self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return not left

    def run(self):
        source = self.add_host('source')
        destination = self.add_host('destination')
        self.define_and_start(source)
        self.show(source)
        serial = self.migrate(source, destination)
        self.show(destination, serial)


def main():
    args = parse_args()
    locate(args)
    import harness
    harness.check_prerequisites()
    demo = Demo(args, harness)
    t0 = time.monotonic()
    ok = False
    try:
        demo.run()
        ok = True
    except harness.ArrivalFailed as e:
        bar = '!' * 78
        say('\n%s\nMIGRATION NOT VERIFIED: the guest did not arrive whole.\n'
            '  source\'s last counter:      %s\n  destination\'s first counter: %s\n  %s\n%s'
            % (bar, e.source_last, e.destination_first, e, bar))
        for host in demo.hosts.values():
            host.dump_logs(sys.stdout, tail=40)
    except (AssertionError, harness.GLib.Error) as e:
        say('\ndemo failed: %s' % e)
        for host in demo.hosts.values():
            host.dump_logs(sys.stdout, tail=40)
    except KeyboardInterrupt:
        say('\ninterrupted')
    finally:
        ok = demo.cleanup(failed=not ok) and ok
    say('\n%s in %.1f s' % ('done' if ok else 'FAILED', time.monotonic() - t0))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
