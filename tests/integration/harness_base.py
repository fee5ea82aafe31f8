#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness' base, which its other modules import: D-Bus names and
constants, the settings read from the environment (MD_*), deadlines, log(),
the prerequisites (exit 77 loudly for an absent system dependency), KVM
detection and the QEMU version, and the condition-based waits (wait_until,
holds_for) that iterate the GLib main context.

The settings a test may override (SETTINGS: MIGRATIOND, BUS_CONFIG, ...)
are read from this module at the time they are used: a test assigns
harness_base.X, not harness.X (see harness.py)."""

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
import unittest


try:
    import gi
    gi.require_version('GLib', '2.0')
    gi.require_version('Gio', '2.0')
    from gi.repository import GLib, Gio
    HAVE_GI = True
    GI_ERROR = None
except (ImportError, ValueError) as e:  # pragma: no cover - depends on the system
    HAVE_GI = False
    GI_ERROR = e
    GLib = Gio = None

SKIP = 77

BUS_NAME = 'org.example.Migration1'
MANAGER_PATH = '/org/example/Migration1'
MANAGER_IFACE = 'org.example.Migration1.Manager'
DOMAIN_IFACE = 'org.example.Migration1.Domain'
DOMAIN_PATH_PREFIX = '/org/example/Migration1/domain/'
ERROR_PREFIX = 'org.example.Migration1.Error.'
OBJECT_MANAGER_IFACE = 'org.freedesktop.DBus.ObjectManager'
PROPERTIES_IFACE = 'org.freedesktop.DBus.Properties'
INTROSPECTABLE_IFACE = 'org.freedesktop.DBus.Introspectable'

# libvirt's virConnectListAllDomains bits
LIST_ACTIVE = 1 << 0
LIST_INACTIVE = 1 << 1

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))


def _env_path(name, default=None):
    v = os.environ.get(name)
    return v if v else default


MIGRATIOND = _env_path('MD_MIGRATIOND')
MIGRATIONCTL = _env_path('MD_MIGRATIONCTL')
GUEST_KERNEL = _env_path('MD_GUEST_KERNEL')
BUS_CONFIG = _env_path('MD_BUS_CONFIG', os.path.join(SOURCE_ROOT, 'tests', 'data', 'system-bus.conf'))
INTROSPECTION_DIR = _env_path('MD_INTROSPECTION_DIR', os.path.join(SOURCE_ROOT, 'introspection'))
QEMU_BINARY = _env_path('MD_QEMU_BINARY', '/usr/bin/qemu-system-x86_64')
DBUS_DAEMON = shutil.which('dbus-daemon') or '/usr/bin/dbus-daemon'

try:
    TIMEOUT_FACTOR = max(float(os.environ.get('MD_TIMEOUT_FACTOR', '1')), 0.1)
except ValueError:
    TIMEOUT_FACTOR = 1.0

# Generous deadlines: CI is a busy 2-core machine where a TCG guest takes a
# whole core and several tests run at once. They are upper bounds, not delays.
DEADLINE = 90.0 * TIMEOUT_FACTOR          # a state change, a name on the bus
BOOT_DEADLINE = 120.0 * TIMEOUT_FACTOR    # first counter lines of a fresh guest
CALL_TIMEOUT_MS = int(300_000 * TIMEOUT_FACTOR)  # one method call
POLL_INTERVAL = 0.05                       # how often a polled condition is re-checked

KEEP_TMP = os.environ.get('MD_KEEP_TMP') == '1'
VERBOSE = os.environ.get('MD_VERBOSE') == '1'

# The paths taken from the environment: read through this module (harness_base.X)
# wherever they are used, so that a test can override one for a while.
SETTINGS = ('MIGRATIOND', 'MIGRATIONCTL', 'GUEST_KERNEL', 'BUS_CONFIG', 'INTROSPECTION_DIR',
            'QEMU_BINARY', 'DBUS_DAEMON')


def log(*args):
    print('[harness %s]' % time.strftime('%H:%M:%S'), *args, file=sys.stderr, flush=True)


def external_bus_address():
    """The bus dbus-test-runner --bus-type=system made for us, if any."""
    addr = os.environ.get('DBUS_SYSTEM_BUS_ADDRESS')
    if not addr:
        return None
    if os.environ.get('DBUS_STARTER_BUS_TYPE') != 'system' and os.environ.get('MD_USE_SYSTEM_BUS_ADDRESS') != '1':
        return None
    if '/run/dbus/system_bus_socket' in addr:
        fail_everything('DBUS_SYSTEM_BUS_ADDRESS points at the real system bus (%s); refusing' % addr)
    return addr


# ---------------------------------------------------------------------------
# prerequisites

class SkipEverything(unittest.SkipTest):
    """skip_everything() inside a running test (setUpClass, setUp, the test
    itself), where unittest would report SystemExit as an error."""


# Set by harness.main() while unittest runs; counts skip_everything()s then.
tests_running = False
skipped_everything = 0


def skip_everything(reason):
    """Exit 77 (meson's "skipped") loudly: only for a truly absent dependency.
    While the tests run it raises SkipEverything instead, and harness.main()
    exits 77 when no test passed."""
    global skipped_everything
    bar = '*' * 72
    print('\n%s\nSKIP: %s\n%s' % (bar, reason, bar), file=sys.stderr, flush=True)
    if tests_running:
        skipped_everything += 1
        raise SkipEverything(reason)
    sys.exit(SKIP)


def fail_everything(reason):
    bar = '!' * 72
    print('\n%s\nERROR: %s\n%s' % (bar, reason, bar), file=sys.stderr, flush=True)
    sys.exit(1)


def check_prerequisites(need_daemon=True):
    if os.environ.get('MD_SKIP_REASON'):
        skip_everything(os.environ['MD_SKIP_REASON'])
    if not HAVE_GI:
        skip_everything('%s has no usable python3-gi (Gio/GLib): %s; '
                        'install python3-gi' % (sys.executable, GI_ERROR))
    if not os.access(QEMU_BINARY, os.X_OK):
        skip_everything('QEMU (%s) is missing; install qemu-system-x86' % QEMU_BINARY)
    if not external_bus_address() and not os.access(DBUS_DAEMON, os.X_OK):
        skip_everything('dbus-daemon is missing; install dbus-daemon')
    if not need_daemon:
        return
    # Not skips: these are built by the project itself, so their absence is a bug.
    if not MIGRATIOND or not os.access(MIGRATIOND, os.X_OK):
        fail_everything('MD_MIGRATIOND (%r) is not an executable: run the tests with '
                        '`meson test --suite integration`, or set it to builddir/src/migrationd'
                        % MIGRATIOND)
    if not GUEST_KERNEL or not os.path.isfile(GUEST_KERNEL):
        fail_everything('MD_GUEST_KERNEL (%r) is not a file: the tests/guest kernel was not built'
                        % GUEST_KERNEL)
    if not os.path.isfile(BUS_CONFIG):
        fail_everything('bus configuration %s is missing' % BUS_CONFIG)


# The device the KVM probe opens (a constant so that tests of the probe
# itself can point it elsewhere).
KVM_DEVICE = '/dev/kvm'
KVM_GET_API_VERSION = 0xAE00
KVM_API_VERSION = 12
KVM_CREATE_VM = 0xAE01

_kvm_usable = None


def kvm_device_works(path):
    """True if @path is a KVM device that really works: it opens read-write,
    speaks API 12 and lets us create a VM (nested or restricted setups can
    fail the last step). A device that merely opens (any character device
    does) is not enough."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != KVM_API_VERSION:
            return False
        os.close(fcntl.ioctl(fd, KVM_CREATE_VM, 0))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def kvm_usable():
    """kvm_device_works(KVM_DEVICE), asked once."""
    global _kvm_usable
    if _kvm_usable is None:
        _kvm_usable = kvm_device_works(KVM_DEVICE)
    return _kvm_usable


def domain_type():
    forced = os.environ.get('MD_ACCEL')
    if forced in ('kvm', 'qemu'):
        return forced
    return 'kvm' if kvm_usable() else 'qemu'


def qemu_version():
    """(major, minor) of the QEMU the daemons run."""
    out = subprocess.run([QEMU_BINARY, '--version'], capture_output=True, text=True, check=True).stdout
    major, minor = re.search(r'version (\d+)\.(\d+)', out).groups()
    return int(major), int(minor)


def tcg_dirty_tracking_flawed(virt_type=None):
    """True when a live migration of a guest of @virt_type (default: the
    suite's) runs on TCG with QEMU before 9.0, whose dirty tracking misses
    guest writes unless the daemon guards against it (migration-safety.c)."""
    return (virt_type or domain_type()) == 'qemu' and qemu_version() < (9, 0)


# ---------------------------------------------------------------------------
# waiting

class WaitTimeout(AssertionError):
    pass


def _iterate(timeout):
    """Dispatches GLib events for at most @timeout seconds (returns early when
    something was dispatched)."""
    ctx = GLib.MainContext.default()
    src = GLib.timeout_source_new(max(int(timeout * 1000), 1))
    src.set_callback(lambda *a: False)
    src.attach(ctx)
    try:
        ctx.iteration(True)
    finally:
        src.destroy()
    while ctx.pending():
        ctx.iteration(False)


def wait_until(predicate, timeout=None, what='condition', poll=POLL_INTERVAL):
    """Waits until predicate() returns a true value (which is returned),
    iterating the GLib main context meanwhile; raises WaitTimeout at the
    deadline. predicate is re-checked when an event arrives and at least
    every @poll seconds (for things that have no event: files, /proc)."""
    timeout = DEADLINE if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout('timed out after %.0f s waiting for %s' % (timeout, what))
        _iterate(min(poll, remaining))


def holds_for(predicate, duration, what='condition', poll=POLL_INTERVAL):
    """Asserts that predicate() stays true during @duration seconds (checked
    at least every @poll s). This is not a delay before checking something:
    it is the observation window of a negative assertion ("nothing moves
    while paused"), and it fails as soon as the condition breaks."""
    end = time.monotonic() + duration
    while True:
        if not predicate():
            raise AssertionError('%s stopped holding' % what)
        remaining = end - time.monotonic()
        if remaining <= 0:
            return
        _iterate(min(poll, remaining))
