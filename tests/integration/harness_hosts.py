#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness' hosts: Bus (a private system-like dbus-daemon, or the one
dbus-test-runner made), Host (a migrationd with its own directories, host
UUID, host name, port ranges and optionally a dbusmock polkitd) and Domain (a
domain object on one host); DaemonDied and describe_status for a daemon that
exited."""

import os
import signal
import subprocess
import sys
import time
import uuid as uuidlib

import harness_base
from harness_base import (BUS_NAME, DEADLINE, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH, OBJECT_MANAGER_IFACE,
                          PROPERTIES_IFACE, external_bus_address, log, wait_until)
from harness_dbus import Client
from harness_processes import PortBlock, _set_pdeathsig, find_qemu_pids, stop_process


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
            [harness_base.DBUS_DAEMON, '--config-file=' + harness_base.BUS_CONFIG, '--nofork', '--nopidfile',
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
            stop_process(self.proc)
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
            'qemu': {'binary': harness_base.QEMU_BINARY},
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
            argv = self.in_netns([harness_base.MIGRATIOND, '--config', self.config_path,
                                  '--state-dir', self.state_dir,
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
                stop_process(self.polkit_proc)
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
