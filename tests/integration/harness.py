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
"""

import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid as uuidlib
from xml.sax.saxutils import escape as xml_escape, quoteattr

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


def log(*args):
    print('[harness %s]' % time.strftime('%H:%M:%S'), *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# prerequisites

def skip_everything(reason):
    """Exit 77 (meson's "skipped") loudly: only for a truly absent dependency."""
    bar = '*' * 72
    print('\n%s\nSKIP: %s\n%s' % (bar, reason, bar), file=sys.stderr, flush=True)
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


_kvm_usable = None


def kvm_usable():
    """True if /dev/kvm really works: it opens read-write, speaks API 12 and
    lets us create a VM (nested or restricted setups can fail the last step)."""
    global _kvm_usable
    if _kvm_usable is None:
        _kvm_usable = False
        try:
            fd = os.open('/dev/kvm', os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if fcntl.ioctl(fd, 0xAE00) == 12:          # KVM_GET_API_VERSION
                vm = fcntl.ioctl(fd, 0xAE01, 0)        # KVM_CREATE_VM
                os.close(vm)
                _kvm_usable = True
        except OSError:
            pass
        finally:
            os.close(fd)
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


# ---------------------------------------------------------------------------
# D-Bus

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


def dbus_error_name(e):
    if isinstance(e, GLib.Error):
        return Gio.DBusError.get_remote_error(e)
    return None


def dbus_error_message(e):
    if isinstance(e, GLib.Error):
        # A copy: strip_remote_error modifies in place.
        msg = e.message
        m = re.match(r'^GDBus\.Error:[^ ]+: (.*)$', msg, re.S)
        return m.group(1) if m else msg
    return str(e)


def sd_bus_path_encode(prefix, s):
    """systemd's sd_bus_path_encode(): PREFIX/ESCAPED, where every byte but
    [A-Za-z0-9] becomes _XX (lower-case hex), and so does a leading digit
    (bus_label_escape); the empty string is "_"."""
    if not s:
        return prefix.rstrip('/') + '/_'
    out = []
    for i, ch in enumerate(s.encode()):
        c = chr(ch)
        if c.isascii() and (c.isalpha() or (i > 0 and c.isdigit())):
            out.append(c)
        else:
            out.append('_%02x' % ch)
    return prefix.rstrip('/') + '/' + ''.join(out)


def domain_path(uuid):
    return sd_bus_path_encode(DOMAIN_PATH_PREFIX.rstrip('/'), uuid)


def _variant(sig, args):
    if sig is None or sig == '':
        return None
    if isinstance(args, GLib.Variant):
        return args
    return GLib.Variant('(%s)' % sig, tuple(args))


class Client:
    """A client connection to one bus (GDBus, synchronous calls with long
    timeouts, signals dispatched on the default main context)."""

    def __init__(self, address, name='client'):
        self.address = address
        self.name = name
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        self.conn.set_exit_on_close(False)

    def close(self):
        if self.conn is not None and not self.conn.is_closed():
            with contextlib.suppress(GLib.Error):
                self.conn.close_sync(None)
        self.conn = None

    def call(self, path, iface, method, sig=None, args=(), reply_sig=None,
             dest=BUS_NAME, timeout_ms=None, flags=None):
        """Calls a method; returns the unpacked reply tuple. Raises GLib.Error
        (see dbus_error_name/dbus_error_message)."""
        reply = self.conn.call_sync(
            dest, path, iface, method, _variant(sig, args),
            GLib.VariantType.new('(%s)' % reply_sig) if reply_sig is not None else None,
            Gio.DBusCallFlags.NONE if flags is None else flags,
            CALL_TIMEOUT_MS if timeout_ms is None else timeout_ms, None)
        return reply.unpack() if reply is not None else ()

    def call_raw(self, path, iface, method, variant, dest=BUS_NAME, timeout_ms=None):
        """Like call() with a ready-made parameters GVariant (or None) and no
        reply type check, for tests that probe argument validation."""
        reply = self.conn.call_sync(dest, path, iface, method, variant, None,
                                    Gio.DBusCallFlags.NONE,
                                    CALL_TIMEOUT_MS if timeout_ms is None else timeout_ms, None)
        return reply.unpack() if reply is not None else ()

    def get(self, path, iface, prop, dest=BUS_NAME):
        return self.call(path, PROPERTIES_IFACE, 'Get', 'ss', (iface, prop), 'v', dest=dest)[0]

    def get_all(self, path, iface, dest=BUS_NAME):
        return self.call(path, PROPERTIES_IFACE, 'GetAll', 's', (iface,), 'a{sv}', dest=dest)[0]

    def introspect(self, path, dest=BUS_NAME):
        return self.call(path, INTROSPECTABLE_IFACE, 'Introspect', None, (), 's', dest=dest)[0]

    def name_has_owner(self, name):
        return self.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner',
                         's', (name,), 'b', dest='org.freedesktop.DBus')[0]

    def name_owner_pid(self, name):
        return self.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetConnectionUnixProcessID',
                         's', (name,), 'u', dest='org.freedesktop.DBus')[0]

    def record(self, **kw):
        return SignalRecorder(self, **kw)


class Signal:
    __slots__ = ('sender', 'path', 'iface', 'member', 'args', 'time')

    def __init__(self, sender, path, iface, member, args):
        self.sender, self.path, self.iface, self.member, self.args = sender, path, iface, member, args
        self.time = time.monotonic()

    def __repr__(self):
        return '<%s.%s %s %r>' % (self.iface, self.member, self.path, self.args)


class SignalRecorder:
    """Records matching signals from the moment it is created: create it
    before the action whose signals you expect, then wait_for()."""

    def __init__(self, client, iface=None, member=None, path=None, arg0=None, sender=None,
                 path_namespace=None):
        self.client = client
        self.signals = []
        self._path_namespace = path_namespace
        self._id = client.conn.signal_subscribe(
            sender, iface, member, path, arg0, Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, conn, sender, path, iface, member, params):
        if self._path_namespace and not (path == self._path_namespace or
                                         path.startswith(self._path_namespace.rstrip('/') + '/')):
            return
        self.signals.append(Signal(sender, path, iface, member, params.unpack()))

    def close(self):
        if self._id is not None and self.client.conn is not None:
            self.client.conn.signal_unsubscribe(self._id)
        self._id = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def matching(self, predicate=None):
        _iterate(0)
        return [s for s in self.signals if predicate is None or predicate(s)]

    def wait_for(self, predicate=None, timeout=None, what=None):
        """Waits for a recorded signal (also one recorded before this call)
        for which predicate(signal) is true; returns it."""
        def check():
            for s in self.signals:
                if predicate is None or predicate(s):
                    return s
            return None
        try:
            return wait_until(check, timeout, what or 'a signal')
        except WaitTimeout as e:
            raise WaitTimeout('%s; recorded: %r' % (e, self.signals)) from None


def properties_changed(path, iface, **expected):
    """A predicate for SignalRecorder.wait_for: PropertiesChanged on @path for
    @iface whose changed properties include all of @expected."""
    def pred(s):
        if s.member != 'PropertiesChanged' or s.path != path:
            return False
        s_iface, changed, _invalidated = s.args
        if s_iface != iface:
            return False
        return all(k in changed and changed[k] == v for k, v in expected.items())
    return pred


# ---------------------------------------------------------------------------
# processes

def _set_pdeathsig():
    # Children die with the test process (even on SIGKILL), so that nothing of
    # a killed test survives. Not used for QEMU, which the daemon starts.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def proc_cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
    except OSError:
        return None


def pid_alive(pid):
    """True if @pid exists and is not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] != 'Z'


def find_qemu_pids(needle):
    """PIDs of QEMU processes whose command line contains @needle (a domain
    UUID: the harness puts it in the serial log path too)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        pid = int(entry)
        argv = proc_cmdline(pid)
        if not argv or 'qemu-system' not in os.path.basename(argv[0]):
            continue
        if any(needle in a for a in argv) and pid_alive(pid):
            pids.append(pid)
    return sorted(pids)


def kill_and_reap(pid, sig=signal.SIGKILL, timeout=30):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    with contextlib.suppress(WaitTimeout):
        wait_until(lambda: not pid_alive(pid), timeout, 'pid %d to exit' % pid)


class PortBlock:
    """A block of TCP ports reserved for one host among all concurrently
    running tests (a lock file per block; free ports at reservation time)."""

    LOCK_DIR = os.path.join(tempfile.gettempdir(), 'migrationd-test-ports')
    FIRST, LAST, SIZE = 40000, 47999, 16

    def __init__(self):
        os.makedirs(self.LOCK_DIR, exist_ok=True)
        nblocks = (self.LAST - self.FIRST + 1) // self.SIZE
        start = (os.getpid() * 7) % nblocks
        for i in range(nblocks):
            base = self.FIRST + ((start + i) % nblocks) * self.SIZE
            fd = os.open(os.path.join(self.LOCK_DIR, '%d.lock' % base), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if self._all_free(base):
                self.fd, self.port_min, self.port_max = fd, base, base + self.SIZE - 1
                return
            os.close(fd)
        raise RuntimeError('no free block of %d TCP ports in %d-%d' % (self.SIZE, self.FIRST, self.LAST))

    def _all_free(self, base):
        import socket
        for port in range(base, base + self.SIZE):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                return False
            finally:
                s.close()
        return True

    def release(self):
        if getattr(self, 'fd', None) is not None:
            os.close(self.fd)
            self.fd = None


class Bus:
    """A private system-like bus: dbus-daemon --config-file system-bus.conf
    in its own temporary directory; or, with external=True, the bus that
    dbus-test-runner started (which is not ours to stop)."""

    def __init__(self, workdir, name='bus'):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.address = None
        self.external = False

    @classmethod
    def from_environment(cls, workdir, name='bus'):
        bus = cls(workdir, name)
        bus.address = external_bus_address()
        bus.external = True
        return bus

    def start(self):
        if self.external:
            return self
        self._stderr = open(os.path.join(self.dir, 'dbus-daemon.log'), 'wb')
        self.proc = subprocess.Popen(
            [DBUS_DAEMON, '--config-file=' + BUS_CONFIG, '--nofork', '--nopidfile',
             '--print-address=1', '--address=unix:dir=' + self.dir],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
            close_fds=True, preexec_fn=_set_pdeathsig)
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            self.proc.wait()
            raise RuntimeError('dbus-daemon exited with status %s; see %s' %
                               (self.proc.returncode, self._stderr.name))
        self.address = line
        return self

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stdout.close()
            self._stderr.close()
            self.proc = None


class DaemonDied(AssertionError):
    pass


def describe_status(returncode):
    if returncode is None:
        return 'still running'
    if returncode < 0:
        try:
            return 'killed by %s' % signal.Signals(-returncode).name
        except ValueError:
            return 'killed by signal %d' % -returncode
    return 'exit status %d' % returncode


_ALL_HOSTS = []


class Host:
    """One "host": a migrationd on @bus with its own directories, host UUID,
    host name and migration port range; optionally a dbusmock polkitd."""

    def __init__(self, bus, workdir, name='host', host_uuid=None, hostname=None,
                 polkit=None, config_extra=None, max_jobs=8, netns=None):
        self.bus = bus
        # A network namespace (a name under /run/netns) for the daemon and so
        # for its QEMUs; the bus is a socket file, reachable from any.
        self.netns = netns
        self.name = name
        self.dir = os.path.join(workdir, name)
        self.state_dir = os.path.join(self.dir, 'state')
        self.runtime_dir = os.path.join(self.dir, 'run')
        self.log_dir = os.path.join(self.dir, 'log')
        for d in (self.state_dir, self.runtime_dir, self.log_dir):
            os.makedirs(d, exist_ok=True)
        self.host_uuid = host_uuid or str(uuidlib.uuid4())
        self.hostname = hostname or '%s-%s' % (name, self.host_uuid[:8])
        self.ports = PortBlock()
        # Displays too: daemons of tests running at once must not pick the same
        # port (each checks only its own guests and what is bound right now).
        self.display_ports = PortBlock()
        self.config_path = os.path.join(self.dir, 'migrationd.conf')
        self.config_extra = config_extra or {}
        self.max_jobs = max_jobs
        self.write_config()
        self.stderr_path = os.path.join(self.dir, 'migrationd.stderr')
        self.proc = None
        self._stopped = False
        self.starts = 0
        self.client = None
        self.polkit = polkit          # None: no polkitd; else list of allowed actions or 'all'
        self.polkit_proc = None
        self.domain_uuids = set()     # every domain UUID a test defined here
        _ALL_HOSTS.append(self)

    # -- configuration

    def write_config(self):
        sections = {
            'host': {'uuid': self.host_uuid, 'hostname': self.hostname},
            'qemu': {'binary': QEMU_BINARY},
            'migration': {'port_min': str(self.ports.port_min), 'port_max': str(self.ports.port_max),
                          'max_jobs': str(self.max_jobs)},
            # A test may wait longer than the daemon's idle time: no exit on idle
            # unless a test asks for it.
            'daemon': {'idle_timeout': '0'},
            'graphics': {'port_min': str(self.display_ports.port_min),
                         'port_max': str(self.display_ports.port_max)},
        }
        for section, keys in self.config_extra.items():
            sections.setdefault(section, {}).update({k: str(v) for k, v in keys.items()})
        with open(self.config_path, 'w') as f:
            for section, keys in sections.items():
                f.write('[%s]\n' % section)
                for k, v in keys.items():
                    f.write('%s=%s\n' % (k, v))
                f.write('\n')

    # -- lifecycle

    def connect(self):
        if self.client is None:
            self.client = Client(self.bus.address, self.name)
        return self.client

    def start_polkit(self):
        """dbusmock's polkitd template on this host's bus; self.polkit is the
        list of allowed actions, or 'all'."""
        if self.polkit is None or self.polkit_proc is not None:
            return
        client = self.connect()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        self._polkit_log = open(os.path.join(self.dir, 'polkitd.log'), 'wb')
        with client.record(iface='org.freedesktop.DBus', member='NameOwnerChanged',
                           arg0='org.freedesktop.PolicyKit1'):
            self.polkit_proc = subprocess.Popen(
                [sys.executable, '-m', 'dbusmock', '--system', '--template', 'polkitd'],
                env=env, stdout=self._polkit_log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=_set_pdeathsig)
            wait_until(lambda: (self.polkit_proc.poll() is not None and
                                _raise(DaemonDied('dbusmock polkitd exited'))) or
                       client.name_has_owner('org.freedesktop.PolicyKit1'),
                       DEADLINE, 'dbusmock polkitd on the bus')
        self.polkit_set_allowed(self.polkit)

    def polkit_set_allowed(self, actions):
        client = self.connect()
        path, mock = '/org/freedesktop/PolicyKit1/Authority', 'org.freedesktop.DBus.Mock'
        if actions == 'all':
            client.call(path, mock, 'AllowUnknown', 'b', (True,), dest='org.freedesktop.PolicyKit1')
        else:
            client.call(path, mock, 'AllowUnknown', 'b', (False,), dest='org.freedesktop.PolicyKit1')
            client.call(path, mock, 'SetAllowed', 'as', (list(actions),), dest='org.freedesktop.PolicyKit1')

    def start(self, wait=True):
        assert self.proc is None or self.proc.poll() is not None, 'migrationd already running'
        self._stopped = False
        self.connect()
        self.start_polkit()
        self.starts += 1
        env = dict(os.environ)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.bus.address
        for k in ('DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS', 'DBUS_STARTER_BUS_TYPE'):
            env.pop(k, None)
        env.setdefault('G_MESSAGES_DEBUG', 'all')
        env.setdefault('G_DEBUG', 'fatal-criticals')
        with open(self.stderr_path, 'ab') as f:
            f.write(b'\n===== harness: start #%d of migrationd (%s) at %s =====\n' %
                    (self.starts, self.name.encode(), time.strftime('%H:%M:%S').encode()))
            f.flush()
            argv = self.in_netns([MIGRATIOND, '--config', self.config_path, '--state-dir', self.state_dir,
                                  '--runtime-dir', self.runtime_dir, '--log-dir', self.log_dir])
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                         stderr=subprocess.STDOUT, close_fds=True,
                                         preexec_fn=_set_pdeathsig)
        if wait:
            self.wait_ready()
        return self

    def in_netns(self, argv):
        """@argv run in this host's network namespace (nsenter execs: same pid)."""
        if not self.netns:
            return argv
        return ['nsenter', '--net=/run/netns/' + self.netns, '--'] + argv

    def wait_ready(self, timeout=None):
        """Waits until migrationd owns the bus name (or fails if it exits)."""
        client = self.connect()
        with client.record(iface='org.freedesktop.DBus', member='NameOwnerChanged', arg0=BUS_NAME):
            def ready():
                if self.proc.poll() is not None:
                    self._stopped = True
                    raise DaemonDied('migrationd (%s) exited (%s) before taking %s' %
                                     (self.name, describe_status(self.proc.returncode), BUS_NAME))
                return client.name_has_owner(BUS_NAME) and \
                    client.name_owner_pid(BUS_NAME) == self.proc.pid
            wait_until(ready, timeout or DEADLINE, 'migrationd (%s) to own %s' % (self.name, BUS_NAME))

    def _wait_exit_and_name(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        client = self.connect()
        wait_until(lambda: not client.name_has_owner(BUS_NAME), timeout,
                   '%s to leave the bus' % BUS_NAME)
        return True

    def check_alive(self):
        """Raises DaemonDied if migrationd exited without being told to."""
        if self.proc is not None and self.proc.poll() is not None and not self._stopped:
            self._stopped = True   # report once
            raise DaemonDied('migrationd (%s) died during the test: %s' %
                             (self.name, describe_status(self.proc.returncode)))

    def stop(self, timeout=None):
        """SIGTERM and wait (SIGKILL after the deadline); returns the exit
        status. Fails if the daemon had died before, or if it does not exit
        cleanly (status 0) on SIGTERM."""
        if self.proc is None or self._stopped:
            return None if self.proc is None else self.proc.returncode
        self.check_alive()
        self._stopped = True
        self.proc.terminate()
        if not self._wait_exit_and_name(timeout or DEADLINE):
            log('migrationd (%s) ignored SIGTERM for %.0f s; killing it' % (self.name, timeout or DEADLINE))
            self.proc.kill()
            self._wait_exit_and_name(DEADLINE)
        if self.proc.returncode != 0:
            raise DaemonDied('migrationd (%s) did not exit cleanly on SIGTERM: %s' %
                             (self.name, describe_status(self.proc.returncode)))
        return self.proc.returncode

    def kill(self):
        """SIGKILL: the daemon gets no chance to clean up."""
        assert self.proc is not None, 'migrationd was never started'
        self.check_alive()
        self._stopped = True
        self.proc.kill()
        self._wait_exit_and_name(DEADLINE)
        return self.proc.returncode

    def restart(self, kill=False):
        status = self.kill() if kill else self.stop()
        self.start()
        return status

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def teardown(self):
        try:
            self.stop()
        finally:
            if self.polkit_proc is not None:
                self.polkit_proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.polkit_proc.wait(30)
                if self.polkit_proc.poll() is None:
                    self.polkit_proc.kill()
                    self.polkit_proc.wait()
                self._polkit_log.close()
                self.polkit_proc = None
            if self.client is not None:
                self.client.close()
                self.client = None
            self.ports.release()
            self.display_ports.release()

    # -- bus shortcuts

    def manager_call(self, method, sig=None, args=(), reply_sig=None, **kw):
        return self.connect().call(MANAGER_PATH, MANAGER_IFACE, method, sig, args, reply_sig, **kw)

    def manager_props(self):
        return self.connect().get_all(MANAGER_PATH, MANAGER_IFACE)

    def define(self, xml):
        path = self.manager_call('DefineXML', 's', (xml,), 'o')[0]
        return Domain(self, path)

    def lookup(self, name):
        return Domain(self, self.manager_call('LookupByName', 's', (name,), 'o')[0])

    def lookup_uuid(self, uuid):
        return Domain(self, self.manager_call('LookupByUUID', 's', (uuid,), 'o')[0])

    def list_domains(self, flags=0):
        return sorted(self.manager_call('ListDomains', 'u', (flags,), 'ao')[0])

    def capabilities(self):
        return self.manager_call('GetCapabilities', None, (), 'a{sv}')[0]

    def managed_objects(self):
        return self.connect().call(MANAGER_PATH, OBJECT_MANAGER_IFACE, 'GetManagedObjects', None, (),
                                   'a{oa{sa{sv}}}')[0]

    # -- diagnostics

    def dump_logs(self, out=sys.stderr, tail=200):
        def section(title, path):
            try:
                with open(path, 'rb') as f:
                    lines = f.read().decode(errors='replace').splitlines()
            except OSError as e:
                print('----- %s: %s' % (title, e), file=out)
                return
            cut = len(lines) - tail
            print('----- %s (%s)%s' % (title, path, ', last %d lines' % tail if cut > 0 else ''), file=out)
            for line in lines[max(cut, 0):]:
                print('  | ' + line, file=out)
        print('===== host %s: %s uuid=%s ports=%d-%d' % (self.name, self.hostname, self.host_uuid,
                                                          self.ports.port_min, self.ports.port_max), file=out)
        if self.proc is not None:
            print('migrationd pid %d: %s' % (self.proc.pid, describe_status(self.proc.poll())), file=out)
        section('migrationd stderr', self.stderr_path)
        if os.path.isdir(self.log_dir):
            for entry in sorted(os.listdir(self.log_dir)):
                section('QEMU log ' + entry, os.path.join(self.log_dir, entry))
        if self.polkit_proc is not None:
            section('dbusmock polkitd', os.path.join(self.dir, 'polkitd.log'))
        out.flush()


def _raise(e):
    raise e


class Domain:
    """A domain object on one host."""

    def __init__(self, host, path):
        self.host = host
        self.path = path

    def __repr__(self):
        return '<Domain %s on %s>' % (self.path, self.host.name)

    @property
    def client(self):
        return self.host.connect()

    def call(self, method, sig=None, args=(), reply_sig=None, **kw):
        return self.client.call(self.path, DOMAIN_IFACE, method, sig, args, reply_sig, **kw)

    def start(self, flags=0):
        self.call('Start', 'u', (flags,))

    def shutdown(self, flags=0):
        self.call('Shutdown', 'u', (flags,))

    def destroy(self, flags=0):
        self.call('Destroy', 'u', (flags,))

    def suspend(self, flags=0):
        self.call('Suspend', 'u', (flags,))

    def resume(self, flags=0):
        self.call('Resume', 'u', (flags,))

    def undefine(self, flags=0):
        self.call('Undefine', 'u', (flags,))

    def xml(self, flags=0):
        return self.call('GetXMLDesc', 'u', (flags,), 's')[0]

    def prop(self, name):
        return self.client.get(self.path, DOMAIN_IFACE, name)

    def props(self):
        return self.client.get_all(self.path, DOMAIN_IFACE)

    @property
    def state(self):
        return self.prop('State')

    def qemu_pids(self):
        return find_qemu_pids(self.prop('UUID'))

    def wait_state(self, state, timeout=None, reason=None):
        """Waits until State (and StateReason) have the given values, by
        PropertiesChanged or by the current value (whatever comes first)."""
        want = {'State': state}
        if reason is not None:
            want['StateReason'] = reason
        with self.client.record(iface=PROPERTIES_IFACE, member='PropertiesChanged', path=self.path):
            wait_until(lambda: all(self.prop(k) == v for k, v in want.items()),
                       timeout or DEADLINE, '%s to be %r' % (self, want), poll=0.5)


# ---------------------------------------------------------------------------
# the guest

class SerialLog:
    """The guest's serial console log (tests/guest): a header line
    `guest: dirty=... boot=0x...`, then `counter N pass=P boot=0x...` lines
    with N rising by one from 1; `MEMORY CORRUPT ...` if its memory check
    fails. boot= identifies one boot of the guest."""

    COUNTER = re.compile(r'^counter (\d+)(?: pass=(\d+))?(?: boot=(0x[0-9a-f]+))?\s*$')
    CORRUPT = 'MEMORY CORRUPT'

    def __init__(self, path):
        self.path = path

    def text(self):
        try:
            with open(self.path, 'rb') as f:
                return f.read().decode('ascii', errors='replace')
        except FileNotFoundError:
            return ''

    def lines(self):
        """Complete lines only (the last one may still be in flight)."""
        t = self.text().replace('\r\n', '\n').replace('\r', '\n')
        return t.split('\n')[:-1]

    def check_not_corrupt(self):
        t = self.text()
        if self.CORRUPT in t:
            i = t.index(self.CORRUPT)
            raise AssertionError('the guest reported memory corruption in %s: %r' %
                                 (self.path, t[max(0, i - 200):i + 200]))

    def entries(self):
        """[(counter, boot)] of the complete counter lines; asserts no corruption."""
        self.check_not_corrupt()
        return [(int(m.group(1)), m.group(3)) for m in map(self.COUNTER.match, self.lines()) if m]

    def counters(self):
        return [c for c, _ in self.entries()]

    def boot_ids(self):
        """The distinct boot= values, in order of appearance."""
        ids = []
        for _, b in self.entries():
            if b is not None and b not in ids:
                ids.append(b)
        return ids

    def last_counter(self):
        c = self.counters()
        return c[-1] if c else None

    def wait_counter(self, min_value, timeout=None):
        """Waits until the guest printed `counter N` with N >= min_value;
        returns the last value seen."""
        def reached():
            c = self.last_counter()
            return c if c is not None and c >= min_value else None
        try:
            return wait_until(reached, timeout or BOOT_DEADLINE,
                              'counter >= %d in %s' % (min_value, self.path))
        except WaitTimeout as e:
            raise WaitTimeout('%s; last counter %r; log tail %r' %
                              (e, self.last_counter(), self.text()[-300:])) from None

    def wait_advance(self, by=3, timeout=None):
        """Waits until the counter rose by @by from its current value (or
        reached @by if there is none yet); returns (before, after)."""
        before = self.last_counter()
        after = self.wait_counter((before if before is not None else 0) + by, timeout)
        return before, after

    def assert_continuous(self):
        """The counter rises by exactly one per line within one boot (nothing
        lost, nothing repeated: the same guest ran on); returns the counters."""
        e = self.entries()
        bad = [(a, b) for a, b in zip(e, e[1:]) if a[1] == b[1] and b[0] != a[0] + 1]
        if bad:
            raise AssertionError('counter not continuous in %s: %r' % (self.path, bad[:5]))
        return [c for c, _ in e]


class ArrivalFailed(AssertionError):
    """A migrated guest did not arrive whole. source_last is the source's
    last counter, destination_first the destination's first (None: none)."""

    def __init__(self, message, source_last=None, destination_first=None):
        super().__init__(message)
        self.source_last = source_last
        self.destination_first = destination_first


def _counter_line(line):
    """(counter, pass, boot) of a `counter N pass=P boot=B` line, or None."""
    m = SerialLog.COUNTER.match(line)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)) if m.group(2) is not None else None, m.group(3)


def check_arrival(source, destination, dirty=True, source_pids=(), timeout=None):
    """The guest's own proof that a migration carried it whole, from its
    console on the source and on the destination (SerialLog or path).

    With @dirty, first waits until the destination has checked every page of
    the dirty area since it arrived: the guest checks a page against the
    previous pass before rewriting it, so two more completed passes than its
    first line on the destination shows cover the whole area. Then:
    no MEMORY CORRUPT on either side; the two consoles, joined, are one
    stream (the line in flight at the switch-over is split between them):
    the destination goes on with exactly the source's last counter + 1, the
    same boot, counting by one, without booting again; and the source QEMUs
    (@source_pids) are gone. Returns (source's last counter, destination's
    first); raises ArrivalFailed naming both."""
    src = source if isinstance(source, SerialLog) else SerialLog(source)
    dst = destination if isinstance(destination, SerialLog) else SerialLog(destination)
    timeout = BOOT_DEADLINE if timeout is None else timeout
    src_text = src.text()
    src_lines = src_text.replace('\r', '').split('\n')
    # The split line's start is the last, unterminated piece of the source's log.
    src_tail = src_lines.pop()
    src_counters = [c for c in map(_counter_line, src_lines) if c]
    last = src_counters[-1] if src_counters else None
    last_n = last[0] if last else None

    def dst_lines():
        return (src_tail + dst.text().replace('\r', '')).split('\n')[:-1]

    def fail(what, first=None):
        if first is None:
            first = next((c[0] for c in map(_counter_line, dst_lines()) if c), None)
        raise ArrivalFailed('%s: the source stopped at counter %s, the destination went on with counter %s '
                            '(consoles %s and %s)' % (what, last_n, first, src.path, dst.path), last_n, first)

    if SerialLog.CORRUPT in src_text:
        fail('the guest reported memory corruption on the source (%s)' %
             next(l for l in src_lines if SerialLog.CORRUPT in l).strip())
    if last is None:
        fail('the guest never counted on the source')

    def checked_all():
        counters = [c for c in map(_counter_line, dst_lines()) if c]
        if SerialLog.CORRUPT in dst.text() or len(counters) < 2:
            return SerialLog.CORRUPT in dst.text()
        if not dirty:
            return True
        first_pass, now_pass = counters[0][1], counters[-1][1]
        return first_pass is not None and now_pass is not None and now_pass >= first_pass + 2
    try:
        wait_until(checked_all, timeout, 'the guest to check its whole dirty area on the destination (%s)'
                   % dst.path, poll=0.1)
    except WaitTimeout as e:
        counters = [c for c in map(_counter_line, dst_lines()) if c]
        fail('%s; the destination printed %d counter lines, passes %s' % (
            e, len(counters), [c[1] for c in counters[:1] + counters[-1:]]))
    lines = dst_lines()
    counters = [c for c in map(_counter_line, lines) if c]
    first = counters[0][0] if counters else None
    corrupt = [l for l in lines if SerialLog.CORRUPT in l]
    if corrupt or SerialLog.CORRUPT in dst.text():
        fail('the guest reported memory corruption on the destination (%s)' %
             (corrupt[0].strip() if corrupt else dst.text()[-200:]), first)
    if any(l.startswith('guest: dirty=') for l in lines):
        fail('the guest booted again on the destination', first)
    if not lines or _counter_line(lines[0]) is None:
        fail('the destination\'s console does not go on with a counter line (%r)' % (lines[:1],), first)
    if first < last_n + 1:
        fail('the counter went back', first)
    if first > last_n + 1:
        fail('the counter skipped %d' % (first - last_n - 1), first)
    boots = {c[2] for c in counters}
    if boots != {last[2]}:
        fail('the destination runs another boot of the guest (%s, the source %s)' % (sorted(boots), last[2]),
             first)
    gaps = [(a[0], b[0]) for a, b in zip(counters, counters[1:]) if b[0] != a[0] + 1]
    if gaps:
        fail('the counter does not go on by one on the destination: %r' % gaps[:3], first)
    for pid in source_pids:
        try:
            wait_until(lambda: not pid_alive(pid), DEADLINE, 'the source QEMU (pid %d) to exit' % pid)
        except WaitTimeout as e:
            fail('the source QEMU is still there: %s' % e, first)
    return last_n, first


def guest_xml(name, uuid=None, serial_path=None, memory_mib=64, kernel=None, cmdline='dirty=8M period=100',
              virt_type=None, devices_extra='', title=None, initrd=None, memory_backing='', machine='pc',
              vcpu_xml="<vcpu>1</vcpu>", os_extra='', machine_extra=''):
    """A domain XML for the test guest kernel (or @kernel and @initrd);
    @memory_backing: the children of a <memoryBacking>, if any; @machine:
    the machine type; @os_extra goes into <os>, @machine_extra (<cpu>,
    <clock>, ...) after it."""
    kernel = kernel or GUEST_KERNEL
    virt_type = virt_type or domain_type()
    parts = ["<domain type=%s>" % quoteattr(virt_type),
             "  <name>%s</name>" % xml_escape(name)]
    if uuid:
        parts.append("  <uuid>%s</uuid>" % uuid)
    if title:
        parts.append("  <title>%s</title>" % xml_escape(title))
    parts += [
        "  <memory unit='MiB'>%d</memory>" % memory_mib,
    ]
    if memory_backing:
        parts.append("  <memoryBacking>%s</memoryBacking>" % memory_backing)
    parts += [
        "  " + vcpu_xml,
        "  <os>",
        "    <type arch='x86_64' machine='%s'>hvm</type>" % xml_escape(machine),
        "    <kernel>%s</kernel>" % xml_escape(kernel),
    ]
    if initrd:
        parts.append("    <initrd>%s</initrd>" % xml_escape(initrd))
    parts += [
        "    <cmdline>%s</cmdline>" % xml_escape(cmdline),
    ]
    if os_extra:
        parts.append("    " + os_extra)
    parts.append("  </os>")
    if machine_extra:
        parts.append("  " + machine_extra)
    parts.append("  <devices>")
    if serial_path:
        parts += ["    <serial type='file'>",
                  "      <source path=%s/>" % quoteattr(serial_path),
                  "    </serial>"]
    if devices_extra:
        parts.append(devices_extra)
    parts += ["  </devices>", "</domain>", ""]
    return '\n'.join(parts)


class Guest:
    """A test guest: its name, UUID, XML and serial log; `dom` once defined."""

    def __init__(self, host, name=None, uuid=None, workdir=None, **xml_kw):
        self.host = host
        self.uuid = uuid or str(uuidlib.uuid4())
        self.name = name or 'guest-' + self.uuid[:8]
        workdir = workdir or host.dir
        # The UUID in the path: the QEMU command line then names the guest
        # whatever else the daemon passes, so leftovers are always found.
        self.serial_path = os.path.join(workdir, 'serial-%s.log' % self.uuid)
        self.serial = SerialLog(self.serial_path)
        self.xml_kw = xml_kw
        self.dom = None
        host.domain_uuids.add(self.uuid)

    def xml(self, **over):
        kw = dict(self.xml_kw)
        kw.update(over)
        return guest_xml(self.name, self.uuid, self.serial_path, **kw)

    def define(self):
        self.dom = self.host.define(self.xml())
        return self.dom


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
    unittest.main(module='__main__', verbosity=2, buffer=False)


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(check_registered(HERE, sys.argv[2:]))
    print(__doc__)
