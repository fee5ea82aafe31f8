#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration test harness for migrationd: "hosts" on one machine.

A host is a private system-like bus, optionally a python3-dbusmock polkitd on
it, and a migrationd from the build tree with its own state, runtime and log
directories, host UUID, host name and migration port range. Two of them make
a source and a destination.

Run with Debian's /usr/bin/python3 (python3-gi, python3-dbusmock). The test
modules (test_*.py) end with harness.main(); meson runs one test case per
meson test, e.g.

    /usr/bin/python3 test_lifecycle.py Lifecycle.test_define_start

Environment (meson sets the first three):
    MD_MIGRATIOND       the daemon to test (builddir/src/migrationd)
    MD_GUEST_KERNEL     the test guest kernel (tests/guest, `counter N` on COM1)
    MD_MIGRATIONCTL     the CLI (builddir/src/migrationctl), optional
    MD_BUS_CONFIG       dbus-daemon config (default tests/data/system-bus.conf)
    MD_INTROSPECTION_DIR  introspection/*.xml (default: source tree)
    MD_QEMU_BINARY      default /usr/bin/qemu-system-x86_64
    MD_ACCEL            'kvm' or 'qemu' (TCG) to force the domain type
    MD_TIMEOUT_FACTOR   multiplies every deadline (default 1)
    MD_KEEP_TMP=1       keep the temporary directories (their paths are printed)
    MD_VERBOSE=1        print the daemon's log even when a test passes

A single-bus test uses the bus in DBUS_SYSTEM_BUS_ADDRESS when it runs under
`dbus-test-runner --bus-type=system` (which sets DBUS_STARTER_BUS_TYPE=system),
and starts its own dbus-daemon otherwise. It never touches the real system bus.

Waits are condition based (a predicate and a deadline, iterating the GLib main
context so that signals are recorded meanwhile); there are no fixed sleeps.

The harness is split by topic; this module is the one the tests import, and it
re-exports the others' names (harness.X, from harness import X):

    harness_base.py       constants, settings from the environment, deadlines,
                          log, prerequisites, KVM detection, wait_until/holds_for
    harness_dbus.py       Client, Signal, SignalRecorder, properties_changed,
                          D-Bus error names and messages, object paths
    harness_processes.py  /proc lookups, kill_and_reap, PortBlock
    harness_hosts.py      Bus, Host, Domain
    harness_guest.py      SerialLog, check_arrival, guest_xml, Guest
    harness.py            the test case classes, main() and --check-registered

The settings from the environment (harness_base.SETTINGS: MIGRATIOND,
BUS_CONFIG, QEMU_BINARY, ...) are read from harness_base when used; harness.X
gives their current value. A test that overrides one for a while assigns
harness_base.X (assigning harness.X raises, as it would change nothing).
"""

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import types
import unittest

import harness_base
from harness_base import (
    BOOT_DEADLINE, BUS_NAME, CALL_TIMEOUT_MS, DEADLINE, DOMAIN_IFACE, DOMAIN_PATH_PREFIX, ERROR_PREFIX,
    GI_ERROR, HAVE_GI, HERE, INTROSPECTABLE_IFACE, KEEP_TMP, LIST_ACTIVE, LIST_INACTIVE, MANAGER_IFACE,
    MANAGER_PATH, OBJECT_MANAGER_IFACE, POLL_INTERVAL, PROPERTIES_IFACE, SKIP, SOURCE_ROOT, TIMEOUT_FACTOR,
    VERBOSE, Gio, GLib, WaitTimeout, check_prerequisites, domain_type, external_bus_address,
    fail_everything, holds_for, kvm_device_works, kvm_usable, log, qemu_version, skip_everything,
    tcg_dirty_tracking_flawed, wait_until)
from harness_dbus import (
    Client, Signal, SignalRecorder, _variant, dbus_error_message, dbus_error_name, domain_path,
    properties_changed, sd_bus_path_encode)
from harness_processes import (
    PortBlock, _set_pdeathsig, find_qemu_pids, kill_and_reap, pid_alive, proc_cmdline, stop_process)
from harness_hosts import _ALL_HOSTS, Bus, DaemonDied, Domain, Host, _raise, describe_status
from harness_guest import ArrivalFailed, Guest, SerialLog, check_arrival, guest_xml

# Every name the tests, bench/ and tools/ take from here (listed so that
# pyflakes sees the re-exports as used), the private ones some of them use
# included, and `time` (harness.time in a test).
__all__ = [
    # harness_base
    'BOOT_DEADLINE', 'BUS_NAME', 'CALL_TIMEOUT_MS', 'DEADLINE', 'DOMAIN_IFACE', 'DOMAIN_PATH_PREFIX',
    'ERROR_PREFIX', 'GI_ERROR', 'HAVE_GI', 'HERE', 'INTROSPECTABLE_IFACE', 'KEEP_TMP', 'LIST_ACTIVE',
    'LIST_INACTIVE', 'MANAGER_IFACE', 'MANAGER_PATH', 'OBJECT_MANAGER_IFACE', 'POLL_INTERVAL',
    'PROPERTIES_IFACE', 'SKIP', 'SOURCE_ROOT', 'TIMEOUT_FACTOR', 'VERBOSE', 'Gio', 'GLib', 'WaitTimeout',
    'check_prerequisites', 'domain_type', 'external_bus_address', 'fail_everything', 'holds_for',
    'kvm_device_works', 'kvm_usable', 'log', 'qemu_version', 'skip_everything', 'tcg_dirty_tracking_flawed',
    'wait_until',
    # harness_dbus
    'Client', 'Signal', 'SignalRecorder', '_variant', 'dbus_error_message', 'dbus_error_name',
    'domain_path', 'properties_changed', 'sd_bus_path_encode',
    # harness_processes
    'PortBlock', '_set_pdeathsig', 'find_qemu_pids', 'kill_and_reap', 'pid_alive', 'proc_cmdline', 'stop_process',
    # harness_hosts
    'Bus', 'DaemonDied', 'Domain', 'Host', '_raise', 'describe_status',
    # harness_guest
    'ArrivalFailed', 'Guest', 'SerialLog', 'check_arrival', 'guest_xml',
    # this module
    'MigrationdTestCase', 'SingleHostTestCase', 'TwoHosts', 'TwoHostTestCase', 'Terminated',
    'list_test_ids', 'check_registered', 'main',
    'time',
]


# ---------------------------------------------------------------------------
# the settings, read where they live (harness_base)

def __getattr__(name):
    if name in harness_base.SETTINGS:
        return getattr(harness_base, name)
    raise AttributeError('module %r has no attribute %r' % (__name__, name))


def __dir__():
    return sorted(set(globals()) | set(harness_base.SETTINGS))


class _HarnessModule(types.ModuleType):
    """Refuses harness.X = v for a setting: harness_base's code would not see it."""

    def __setattr__(self, name, value):
        if name in harness_base.SETTINGS:
            raise AttributeError('harness.%s is read from harness_base: assign harness_base.%s instead'
                                 % (name, name))
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _HarnessModule


# ---------------------------------------------------------------------------
# test cases

class MigrationdTestCase(unittest.TestCase):
    """Base: a temporary directory, log dumps on failure, and the check that
    no QEMU of this test survives it."""

    maxDiff = None
    hosts = ()

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix='md-%s-' % self.id().rsplit('.', 1)[-1][:40])
        self.hosts = []
        self.buses = []
        # Cleanups run last-in first-out: hosts, buses, then the check for
        # QEMUs left behind (they outlive the daemon), then the log dump.
        self.addCleanup(self._cleanup_workdir)
        self.addCleanup(self._dump_logs_on_failure)
        self.addCleanup(self._check_no_qemu_left)

    # -- fixtures

    def make_bus(self, name='bus', external_ok=True):
        if external_ok and external_bus_address() and not any(b.external for b in self.buses):
            bus = Bus.from_environment(self.workdir, name)
        else:
            bus = Bus(self.workdir, name).start()
        self.buses.append(bus)
        self.addCleanup(bus.stop)
        return bus

    def make_host(self, name='host', bus=None, start=True, **kw):
        bus = bus or self.make_bus(name + '-bus')
        host = Host(bus, self.workdir, name, **kw)
        self.hosts.append(host)
        self.addCleanup(host.teardown)
        if start:
            host.start()
        return host

    def make_guest(self, host, define=True, start=False, wait_boot=True, **kw):
        guest = Guest(host, workdir=self.workdir, **kw)
        if define or start:
            guest.define()
        if start:
            guest.dom.start()
            if wait_boot:
                guest.serial.wait_counter(1, BOOT_DEADLINE)
        return guest

    # -- assertions

    @contextlib.contextmanager
    def assertDBusError(self, name, *message_parts):
        """with self.assertDBusError('org.example.Migration1.Error.X', 'part'): call()
        Checks the error name and that the message contains each part."""
        if not name.startswith('org.'):
            name = ERROR_PREFIX + name
        ctx = _ErrorContext()
        try:
            yield ctx
        except GLib.Error as e:
            got = dbus_error_name(e)
            ctx.name, ctx.message = got, dbus_error_message(e)
            if got != name:
                self.fail('expected D-Bus error %s, got %s: %s' % (name, got, ctx.message))
            for part in message_parts:
                if part.lower() not in ctx.message.lower():
                    self.fail('the %s message does not mention %r: %r' % (name, part, ctx.message))
            self.assertTrue(ctx.message.strip(), 'the %s error has an empty message' % name)
        else:
            self.fail('expected D-Bus error %s, but the call succeeded' % name)

    # -- cleanups

    def _failed(self):
        outcome = getattr(self, '_outcome', None)
        if outcome is None:
            return False
        if hasattr(outcome, 'success'):
            if not outcome.success:
                return True
        result = getattr(outcome, 'result', None)
        if result is not None:
            for test, _ in list(getattr(result, 'failures', [])) + list(getattr(result, 'errors', [])):
                if test is self:
                    return True
        return False

    def _dump_logs_on_failure(self):
        if self._failed() or VERBOSE:
            for host in self.hosts:
                host.dump_logs()
            for entry in sorted(os.listdir(self.workdir)):
                if entry.startswith('serial-'):
                    lines = SerialLog(os.path.join(self.workdir, entry)).text().splitlines()
                    print('----- guest serial log %s%s' % (entry, ', last 15 lines' if len(lines) > 15 else ''),
                          file=sys.stderr)
                    for line in lines[-15:]:
                        print('  | ' + line, file=sys.stderr)
            sys.stderr.flush()

    def _check_no_qemu_left(self):
        left = []
        for host in self.hosts:
            for u in sorted(host.domain_uuids):
                for pid in find_qemu_pids(u):
                    left.append((host.name, u, pid, ' '.join(proc_cmdline(pid) or [])[:300]))
        for _, _, pid, _ in left:
            kill_and_reap(pid)
        if left and not self._failed():
            self.fail('QEMU processes were left behind by the test (killed now): %s' %
                      '; '.join('host %s domain %s pid %d: %s' % l for l in left))

    def _cleanup_workdir(self):
        if KEEP_TMP or (self._failed() and os.environ.get('MD_KEEP_FAILED_TMP') == '1'):
            log('keeping', self.workdir)
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


class _ErrorContext:
    name = None
    message = None


class SingleHostTestCase(MigrationdTestCase):
    """One host on the dbus-test-runner bus (or a private one)."""

    host_kw = {}

    def setUp(self):
        super().setUp()
        self.host = self.make_host('host', **self.host_kw)
        self.client = self.host.connect()


class TwoHosts:
    """Source and destination: each its own bus, host UUID, host name,
    directories and port range."""

    def __init__(self, testcase, **kw):
        self.source = testcase.make_host('source', bus=testcase.make_bus('source-bus', external_ok=False), **kw)
        self.destination = testcase.make_host('destination',
                                              bus=testcase.make_bus('destination-bus', external_ok=False), **kw)

    def __iter__(self):
        return iter((self.source, self.destination))


class TwoHostTestCase(MigrationdTestCase):
    host_kw = {}

    def setUp(self):
        super().setUp()
        self.pair = TwoHosts(self, **self.host_kw)
        self.source, self.destination = self.pair.source, self.pair.destination


# ---------------------------------------------------------------------------
# entry point

class Terminated(Exception):
    pass


def _sigterm(signum, frame):
    # meson and dbus-test-runner stop a test that ran out of time with
    # SIGTERM (and SIGKILL half a second later). The daemon and the buses die
    # with us (PR_SET_PDEATHSIG), QEMU does not: kill this test's guests
    # first, then unwind through the cleanups.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for host in list(_ALL_HOSTS):
        for u in list(host.domain_uuids):
            for pid in find_qemu_pids(u):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    log('SIGTERM: killed the guests of this test; unwinding')
    raise Terminated('the test was stopped by SIGTERM (timeout?)')


def list_test_ids(module_names):
    loader = unittest.TestLoader()
    ids = []
    for mod in module_names:
        suite = loader.loadTestsFromName(mod)

        def walk(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    walk(t)
                else:
                    ids.append(t.id())
        walk(suite)
    return sorted(ids)


def check_registered(directory, registered):
    """`X.py --check-registered ID...`: every test case of @directory's
    test_*.py is registered in its meson.build (the IDs given), and nothing
    else is. Returns the exit status."""
    sys.path.insert(0, directory)
    modules = sorted(f[:-3] for f in os.listdir(directory) if f.startswith('test_') and f.endswith('.py'))
    have, registered = set(list_test_ids(modules)), set(registered)
    build_file = os.path.relpath(os.path.join(directory, 'meson.build'), os.path.dirname(os.path.dirname(HERE)))
    for m in sorted(have - registered):
        print('not registered in %s:' % build_file, m)
    for s in sorted(registered - have):
        print('registered in %s but no such test case:' % build_file, s)
    print('%d test cases, %d registered' % (len(have), len(registered)))
    return 1 if have != registered else 0


def main(need_daemon=True):
    """Entry point of every test module: prerequisites (exit 77 loudly if a
    system dependency is absent), then unittest on the named test cases."""
    check_prerequisites(need_daemon)
    signal.signal(signal.SIGTERM, _sigterm)
    sys.stderr.write('[harness] %s %s (accel %s, bus %s, timeout factor %g)\n' %
                     (os.path.basename(sys.argv[0]), ' '.join(sys.argv[1:]), domain_type(),
                      'dbus-test-runner' if external_bus_address() else 'private', TIMEOUT_FACTOR))
    harness_base.tests_running = True
    result = unittest.main(module='__main__', verbosity=2, buffer=False, exit=False).result
    sys.exit(exit_status(result))


def exit_status(result):
    """unittest's, except that a run in which skip_everything() skipped and no
    test passed is meson's "skipped" (77), as it is before the tests start."""
    if not result.wasSuccessful():
        return 1
    skipped_tests = sum(1 for test, _ in result.skipped if isinstance(test, unittest.TestCase))
    if harness_base.skipped_everything and result.testsRun - skipped_tests == 0:
        return SKIP
    return 0


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(check_registered(HERE, sys.argv[2:]))
    print(__doc__)
