"""The processes of a managed "host": a private dbus-daemon, a migrationd from
the build tree with its own directories and configuration, and (when not
root) a dbusmock polkitd; plus the clean-up of QEMUs that outlive them."""

import contextlib
import importlib.util
import os
import subprocess
import sys
import time
import uuid as uuidlib

from .common import (BUS_NAME, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH, START_DEADLINE_S, BenchError,
                     harness, now, stop_process)
from .dbusclient import PhaseBus, marshal, v_s


def env_without_debug(debug):
    env = dict(os.environ)
    for var in ('G_MESSAGES_DEBUG', 'MALLOC_PERTURB_', 'MALLOC_CHECK_', 'G_SLICE', 'G_DEBUG',
                'DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS', 'DBUS_STARTER_BUS_TYPE'):
        env.pop(var, None)
    if debug:
        env['G_MESSAGES_DEBUG'] = 'all'
    return env


class HostDaemon:
    """One "host": a private bus, a migrationd from the build tree with its own
    directories, host UUID, host name and port range, [migration] address
    127.0.0.1; a GDBus client for the untimed set-up calls and a PhaseBus for
    the timed ones."""

    def __init__(self, bench, name):
        self.bench = bench
        self.name = name
        self.dir = os.path.join(bench.tmp, name)
        for sub in ('state', 'run', 'log'):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.host_uuid = str(uuidlib.uuid4())
        self.ports = harness.PortBlock()
        self.bus = None
        self.proc = None
        self.client = None
        self.raw = None
        self.polkit_proc = None
        self.log_path = os.path.join(self.dir, 'migrationd.log')
        self.log_file = None
        self.config_path = os.path.join(self.dir, 'migrationd.conf')
        with open(self.config_path, 'w') as f:
            f.write('[host]\nuuid=%s\nhostname=%s-%s\n\n' % (self.host_uuid, name, self.host_uuid[:8]))
            f.write('[qemu]\nbinary=%s\n\n' % bench.qemu)
            # No exit on idle: a host may see no call while the other path's
            # runs (a Linux guest's with a 1 GiB disk) take minutes.
            f.write('[daemon]\nidle_timeout=0\n\n')
            f.write('[migration]\naddress=127.0.0.1\nport_min=%d\nport_max=%d\n'
                    % (self.ports.port_min, self.ports.port_max))

    def add_config(self, sections):
        """Appends {section: {key: value}} to the configuration file (before start())."""
        with open(self.config_path, 'a') as f:
            for section, keys in sections.items():
                f.write('\n[%s]\n' % section)
                for k, v in keys.items():
                    f.write('%s=%s\n' % (k, v))

    def connect(self):
        """The GDBus client (what tests/integration's Bridge calls to wait for its name)."""
        return self.client

    def in_netns(self, argv):
        """As tests/integration's Host: the bench's hosts share our network namespace."""
        return argv

    def start(self):
        self.bus = harness.Bus(self.dir, 'bus').start()
        self.client = harness.Client(self.bus.address, self.name)
        if os.geteuid() != 0:
            self.start_polkit()
        env = env_without_debug(self.bench.args.profile)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.bus.address
        self.log_file = open(self.log_path, 'ab')
        argv = [self.bench.daemon_path, '--config', self.config_path,
                '--state-dir', os.path.join(self.dir, 'state'),
                '--runtime-dir', os.path.join(self.dir, 'run'),
                '--log-dir', os.path.join(self.dir, 'log')]
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, close_fds=True)
        deadline = now() + START_DEADLINE_S
        while not self.client.name_has_owner(BUS_NAME):
            if self.proc.poll() is not None:
                raise BenchError('migrationd (%s) exited with status %s at start-up:\n%s'
                                 % (self.name, self.proc.returncode, self.log_tail()))
            if now() > deadline:
                raise BenchError('migrationd (%s) did not take %s within %.0f s'
                                 % (self.name, BUS_NAME, START_DEADLINE_S))
            time.sleep(0.02)
        self.raw = PhaseBus(self.bus.address, self.name)

    def start_polkit(self):
        """Not root: the daemon asks polkit; a dbusmock polkitd that allows everything."""
        if importlib.util.find_spec('dbusmock') is None:
            raise BenchError('not running as root, so migrationd asks polkit, and python3-dbusmock is '
                             'missing; run as root or install python3-dbusmock')
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        self.polkit_log = open(os.path.join(self.dir, 'polkitd.log'), 'wb')
        self.polkit_proc = subprocess.Popen([sys.executable, '-m', 'dbusmock', '--system', '--template', 'polkitd'],
                                            env=env, stdout=self.polkit_log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = now() + START_DEADLINE_S
        while not self.client.name_has_owner('org.freedesktop.PolicyKit1'):
            if self.polkit_proc.poll() is not None or now() > deadline:
                raise BenchError('dbusmock polkitd did not start on the %s bus' % self.name)
            time.sleep(0.05)
        self.client.call('/org/freedesktop/PolicyKit1/Authority', 'org.freedesktop.DBus.Mock', 'AllowUnknown',
                         'b', (True,), dest='org.freedesktop.PolicyKit1')

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError('migrationd (%s) died with status %s:\n%s'
                             % (self.name, self.proc.returncode, self.log_tail()))

    def dcall(self, path, method, sig=None, args=(), reply_sig=None):
        return self.client.call(path, DOMAIN_IFACE, method, sig, args, reply_sig)

    def mcall(self, method, sig=None, args=(), reply_sig=None):
        return self.client.call(MANAGER_PATH, MANAGER_IFACE, method, sig, args, reply_sig)

    def add_match(self, path, iface, member):
        rule = ("type='signal',sender='%s',interface='%s',member='%s',path='%s'"
                % (BUS_NAME, iface, member, path))
        self.raw.call(marshal('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                              'AddMatch', v_s(rule)), deadline=now() + 30)

    def stop(self):
        if self.raw is not None:
            with contextlib.suppress(OSError):
                self.raw.close()
            self.raw = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None
        if self.proc is not None:
            stop_process(self.proc, 15)
            self.proc = None
        if self.polkit_proc is not None:
            stop_process(self.polkit_proc, 10)
            self.polkit_log.close()
            self.polkit_proc = None
        if self.bus is not None:
            with contextlib.suppress(Exception):
                self.bus.stop()
            self.bus = None
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None
        self.ports.release()


def kill_qemus(uuids):
    """SIGKILLs every QEMU whose command line names one of @uuids (daemon-started
    ones run in their own session and survive the daemon)."""
    for u in uuids:
        for pid in harness.find_qemu_pids(u):
            harness.kill_and_reap(pid, timeout=10)
