"""What every module of the benchmark shares: the imports that depend on
where this checkout is (tests/integration's harness, p2ptest, bridgetest on
sys.path; bench/scale loaded from its file), D-Bus names, libvirt flags,
deadlines, the error type and the progress log.

The sys.path set-up and the gi check happen here, once, at the first import
of the package, so that the other modules can import harness & co. from
this one instead of repeating it."""

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import time

# bench/overheadlib/common.py -> bench/ (where bench/scale is) -> the source root.
BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(SOURCE_ROOT, 'tests', 'integration'))

try:
    import gi
    gi.require_version('Gio', '2.0')
    gi.require_version('GLib', '2.0')
    from gi.repository import Gio, GLib
except (ImportError, ValueError) as exc:  # pragma: no cover - environment
    sys.exit('bench/overhead needs PyGObject with Gio (Debian: apt-get install python3-gi '
             'gir1.2-glib-2.0) and must run with /usr/bin/python3: %s' % exc)

import harness  # noqa: E402  (tests/integration: buses, port blocks, guest XML, QEMU lookup)

# Path (c): certificates (certtool), migration-bridge and a TLS D-Bus peer, as the
# peer-to-peer and bridge integration tests make them.
for _sub in ('p2p', 'bridge'):
    sys.path.append(os.path.join(SOURCE_ROOT, 'tests', 'integration', _sub))
import p2ptest  # noqa: E402
import bridgetest  # noqa: E402


def _load_scale():
    """bench/scale as a module, for its raw-socket D-Bus client and helpers."""
    path = os.path.join(BENCH_DIR, 'scale')
    loader = importlib.machinery.SourceFileLoader('bench_scale', path)
    spec = importlib.util.spec_from_loader('bench_scale', loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


scale = _load_scale()

BUS_NAME = harness.BUS_NAME
MANAGER_PATH = harness.MANAGER_PATH
MANAGER_IFACE = harness.MANAGER_IFACE
DOMAIN_IFACE = harness.DOMAIN_IFACE
PROPS_IFACE = 'org.freedesktop.DBus.Properties'
PEER_IFACE = 'org.freedesktop.DBus.Peer'

# libvirt's virDomainMigrateFlags
LIVE = 1 << 0
PEER2PEER = 1 << 1
POSTCOPY = 1 << 15
PARALLEL = 1 << 17

# QEMU's "unlimited" max-bandwidth (bytes/s), what migrationd sends for MaxSpeed 0.
UNLIMITED_BANDWIDTH = 9223372036853727232
GOAL_RATIO = 1.10
LIBVIRT_GOAL_RATIO = 0.20     # path (d): ours / libvirt's wall time (issue 14)

PHASES = ('begin', 'prepare', 'perform', 'finish', 'confirm')
PHASE_METHODS = {'begin': 'Begin3Params', 'prepare': 'Prepare3Params', 'perform': 'Perform3Params',
                 'finish': 'Finish3Params', 'confirm': 'Confirm3Params'}

CALL_DEADLINE_S = 300.0       # one phase call, one QMP command sequence
BOOT_DEADLINE_S = 120.0       # the source guest to its first counter (and first pass)
VERIFY_DEADLINE_S = 60.0      # the destination guest to check its whole dirty area
START_DEADLINE_S = 60.0       # a daemon to own its name
DEADLINE_BASE_MIB = 512       # the guest size the deadlines above are made for


class Deadlines:
    """The deadlines of one invocation: the constants above for a guest of
    up to DEADLINE_BASE_MIB, times memory / DEADLINE_BASE_MIB for a bigger one.
    Under TCG a migration scans the whole RAM (an idle 2 GiB guest took 3 to
    30 s on 2 loaded cores), the destination QEMU faults all of it in, and
    a dirty area (--dirty) can grow with the guest; they are upper bounds,
    not waits."""

    def __init__(self, memory_mib):
        self.factor = max(1.0, memory_mib / DEADLINE_BASE_MIB)
        self.call_s = CALL_DEADLINE_S * self.factor
        self.boot_s = BOOT_DEADLINE_S * self.factor
        self.verify_s = VERIFY_DEADLINE_S * self.factor


class BenchError(Exception):
    pass


class Interrupted(BaseException):
    """SIGTERM/SIGHUP: unwind like Ctrl-C, through every cleanup."""


# The prefix of the progress lines: the program that uses these modules
# (bench/soak sets its own).
PROGRAM = 'overhead'


def log(msg):
    print('%s: %s' % (PROGRAM, msg), file=sys.stderr, flush=True)


def now():
    return time.perf_counter()


def stop_process(proc, grace_s):
    """SIGTERM, @grace_s seconds to exit, then SIGKILL; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# What the other modules import from here besides the constants above: the
# modules this one imported or loaded for them (listed so that pyflakes sees
# the re-exports as used).
__all__ = [
    'BENCH_DIR', 'SOURCE_ROOT', 'Gio', 'GLib', 'harness', 'p2ptest', 'bridgetest', 'scale',
    'BUS_NAME', 'MANAGER_PATH', 'MANAGER_IFACE', 'DOMAIN_IFACE', 'PROPS_IFACE', 'PEER_IFACE',
    'LIVE', 'PEER2PEER', 'POSTCOPY', 'PARALLEL', 'UNLIMITED_BANDWIDTH', 'GOAL_RATIO', 'LIBVIRT_GOAL_RATIO',
    'PHASES',
    'PHASE_METHODS', 'CALL_DEADLINE_S', 'BOOT_DEADLINE_S', 'VERIFY_DEADLINE_S', 'START_DEADLINE_S',
    'DEADLINE_BASE_MIB', 'Deadlines',
    'BenchError', 'Interrupted', 'PROGRAM', 'log', 'now', 'stop_process',
]
