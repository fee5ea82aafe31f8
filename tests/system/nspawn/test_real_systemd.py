#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""nspawn/real-systemd: migrationd as a Debian system runs it, under a real
systemd, dbus-daemon and polkitd, in a systemd-nspawn container.

    test_real_systemd.py MESON SOURCE_ROOT BUILDDIR

Set-up: the cached minimal Debian root (debianroot.py; the first run builds
it with debootstrap, minutes), the project installed over it (stage.py), the
container booted (container.py). Then, each an assertion:

  1. a Manager call on the system bus activates migrationd.service
     (SystemdService=): inactive before, active after, its MainPID owns the
     name, the replies are right;
  2. migration-bridge.socket listens and starts migration-bridge.service on
     the first mutual-TLS connection; an allowed peer is accepted, one that
     [bridge] allowed_peers does not name is refused (journal, PEER_DN);
  3. polkitd refuses DefineXML to an unprivileged caller and allows it to the
     user a rules.d file grants org.example.migration1.manage;
  4. a guest defined and started as root keeps running through `systemctl
     restart migrationd`: same QEMU process, object exported again, counter
     rising;
  5. `systemd-analyze security` of both services (printed; the bridge's
     exposure at most 2.0);
  6. the daemon's structured messages are in the journal;
  7. a guest whose disk is in a [storage] directories entry outside
     /var/lib/migrationd starts under the hardened unit (migrationd-generator's
     drop-in grants it), one whose disk is elsewhere is refused at Start with
     an error that names [storage] directories.

Environment: MD_GUEST_KERNEL (meson sets it), MD_NSPAWN_CACHE (the cached
root, default /var/cache/migrationd-tests/debian-root-CODENAME),
MD_NSPAWN_MIRROR (the archive; default: this machine's apt sources),
MD_ACCEL=kvm|qemu (the guest's type, as for the integration tests;
qemu: TCG even where /dev/kvm works), MD_KEEP_TMP=1.

Exits 77 when the machine lacks what it needs (debootstrap, systemd-nspawn,
overlayfs, the archive), 1 when a check fails. Everything it started is
stopped and unmounted at the end, and checked to be.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import container as ct  # noqa: E402
import debianroot  # noqa: E402
import stage as st  # noqa: E402
import harness  # noqa: E402  (tests/integration, on the path through stage)

SKIP = 77
DEADLINE = 120.0 * float(os.environ.get('MD_TIMEOUT_FACTOR', '1'))
BUS_NAME = 'org.example.Migration1'
MANAGER_PATH = '/org/example/Migration1'
MANAGER = 'org.example.Migration1.Manager'
DOMAIN = 'org.example.Migration1.Domain'
COUNTER = re.compile(r'^counter (\d+)', re.M)
# A TLS peer, run on the container's loopback (its network namespace only):
# handshake with a client certificate, then the D-Bus SASL exchange the
# bridge's server answers once it has accepted the peer.
PEER_CLIENT = r'''
import socket, ssl, sys
pki, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=pki + '/ca.pem')
ctx.load_cert_chain(pki + '/' + name + '.pem', pki + '/' + name + '.key')
try:
    with socket.create_connection(('127.0.0.1', port), timeout=60) as raw:
        with ctx.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
            tls.sendall(b'\0AUTH ANONYMOUS\r\n')
            reply = tls.recv(256)
            if reply.startswith(b'DATA'):   # no initial response given: an empty one
                tls.sendall(b'DATA\r\n')
                reply = tls.recv(256)
    print('reply %r' % reply)
except (OSError, ssl.SSLError) as e:
    print('error %s' % e)
'''


def log(*args):
    print('[%s]' % time.strftime('%H:%M:%S'), *args, flush=True)


def busctl(c, *args, user=None, check=True):
    argv = ['busctl', '--json=short', '--timeout=120'] + list(args)
    if user is not None:
        argv = ['setpriv', '--reuid=%s' % user, '--regid=%s' % user, '--clear-groups'] + argv
    return c.run(*argv, check=check)


def busctl_json(c, *args, **kw):
    return json.loads(busctl(c, *args, **kw).stdout)


def journal(c, unit):
    out = c.run('journalctl', '--unit', unit, '--output=json', '--no-pager', '--all').stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def serial_counter(c, serial):
    try:
        with open(c.path(serial), 'rb') as f:
            found = COUNTER.findall(f.read().decode('ascii', errors='replace'))
    except FileNotFoundError:
        return None
    return int(found[-1]) if found else None


def wait_counter(c, serial, at_least, what):
    return ct.wait_until(lambda: (lambda v: v if v is not None and v >= at_least else None)(serial_counter(c, serial)),
                         DEADLINE, '%s (counter >= %d in %s)' % (what, at_least, serial))


def qemu_pids(c):
    return [pid for pid, name in c.processes().items() if name and name.startswith('qemu-system')]


class Checks:
    def __init__(self, c, files, virt_type):
        self.c = c
        self.files = files
        self.virt_type = virt_type
        self.failures = []
        self.figures = {}

    def run(self, name, fn):
        log('=== %s' % name)
        started = time.monotonic()
        try:
            fn()
            log('PASS %s (%.1f s)' % (name, time.monotonic() - started))
        except Exception:
            self.failures.append(name)
            log('FAIL %s\n%s' % (name, traceback.format_exc()))

    # 1 --------------------------------------------------------------------
    def activation(self):
        c = self.c
        assert c.unit_state('migrationd.service') == 'inactive', \
            'migrationd.service is %s before any call' % c.unit_state('migrationd.service')
        caps = busctl_json(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'GetCapabilities')
        assert caps['type'] == 'a{sv}', caps
        caps = {k: v['data'] for k, v in caps['data'][0].items()}
        log('GetCapabilities:', caps)
        assert re.fullmatch(r'[0-9a-f-]{36}', caps['host_uuid']), caps
        assert 3 in caps['protocol_versions'] and 'peer2peer' in caps['features'], caps
        listed = busctl_json(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'ListDomains', 'u', '0')
        assert listed == {'type': 'ao', 'data': [[]]}, listed
        props = c.unit_props('migrationd.service', 'ActiveState', 'SubState', 'MainPID', 'Type')
        log('migrationd.service:', props)
        assert props['ActiveState'] == 'active' and props['SubState'] == 'running', props
        owner = busctl_json(c, 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                            'GetConnectionUnixProcessID', 's', BUS_NAME)['data'][0]
        assert owner == int(props['MainPID']), 'the name belongs to pid %d, the unit runs %s' % (owner, props)

    # 2 --------------------------------------------------------------------
    def bridge(self):
        c = self.c
        assert c.unit_state('migration-bridge.socket') == 'active', c.unit_state('migration-bridge.socket')
        assert c.unit_state('migration-bridge.service') == 'inactive', c.unit_state('migration-bridge.service')
        port = '%04X' % st.BRIDGE_PORT
        listening = []
        for table in ('tcp', 'tcp6'):
            with open('/proc/%d/net/%s' % (c.leader, table)) as f:
                listening += [l.split()[1] for l in f.readlines()[1:] if l.split()[3] == '0A']
        assert any(a.endswith(':' + port) for a in listening), \
            'nothing listens on port %d in the container: %r' % (st.BRIDGE_PORT, listening)

        def peer(name):
            out = c.run(sys.executable, '-c', PEER_CLIENT, self.files['pki'], name, str(st.BRIDGE_PORT),
                        net_only=True).stdout.strip()
            log('peer %s: %s' % (name, out))
            return out
        out = peer(st.ALLOWED_PEER)
        assert out.startswith("reply b'OK "), 'the allowed peer was not served: %s' % out
        ct.wait_until(lambda: c.unit_state('migration-bridge.service') == 'active', DEADLINE,
                      'migration-bridge.service to be active')

        def logged(pattern, dn):
            return [e for e in journal(c, 'migration-bridge.service')
                    if re.match(pattern, e.get('MESSAGE', '')) and e.get('PEER_DN') == dn]
        accepted = ct.wait_until(lambda: logged(r'Accepted peer ', 'O=Example,CN=%s' % st.ALLOWED_PEER),
                                 DEADLINE, 'the bridge to log the accepted peer')
        log('journal:', accepted[0]['MESSAGE'])
        out = peer(st.REFUSED_PEER)
        assert not out.startswith("reply b'OK "), 'a peer outside allowed_peers was served: %s' % out
        refused = ct.wait_until(lambda: logged(r'Refused peer ', 'O=Example,CN=%s' % st.REFUSED_PEER),
                                DEADLINE, 'the bridge to log the refused peer')
        log('journal:', refused[0]['MESSAGE'])
        props = c.unit_props('migration-bridge.service', 'ActiveState', 'MainPID', 'User', 'TriggeredBy')
        log('migration-bridge.service:', props)
        assert 'migration-bridge.socket' in props['TriggeredBy'], props

    # 3 --------------------------------------------------------------------
    def polkit(self):
        c = self.c
        xml = st.guest_xml(st.GUEST_DIR + '/guest.elf', '/var/log/migrationd/probe.serial',
                           self.virt_type).replace('nspawn-guest', 'polkit-probe')
        # busctl allows interactive authorization (no agent: AccessDenied);
        # dbus-send does not (InteractiveAuthorizationRequired), and names
        # the error.
        tries = {
            'busctl': busctl(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'DefineXML', 's', xml,
                             user=65534, check=False),
            'dbus-send': c.run('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                               'dbus-send', '--system', '--print-reply', '--reply-timeout=120000',
                               '--dest=' + BUS_NAME, MANAGER_PATH, MANAGER + '.DefineXML', 'string:' + xml,
                               check=False),
        }
        for tool, denied in tries.items():
            log('uid 65534, DefineXML with %s: status %d, %s' % (tool, denied.returncode, denied.stderr.strip()))
            assert denied.returncode != 0, 'uid 65534 could define a domain'
            assert re.search(r'Access denied|InteractiveAuthorizationRequired', denied.stderr), denied.stderr
        listed = busctl_json(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'ListDomains', 'u', '0')
        assert listed['data'] == [[]], 'a refused DefineXML left %r' % listed
        path = busctl_json(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'DefineXML', 's', xml,
                           user=st.OPERATOR)['data'][0]
        log('%s (rules.d grants manage): DefineXML -> %s' % (st.OPERATOR, path))
        denied = busctl(c, 'call', BUS_NAME, path, DOMAIN, 'Undefine', 'u', '0', user=65534, check=False)
        assert denied.returncode != 0 and 'Access denied' in denied.stderr, denied
        busctl(c, 'call', BUS_NAME, path, DOMAIN, 'Undefine', 'u', '0', user=st.OPERATOR)
        log('%s: Undefine allowed; uid 65534: %s' % (st.OPERATOR, denied.stderr.strip()))

    # 4 --------------------------------------------------------------------
    def restart(self):
        c, serial = self.c, self.files['serial']
        path = c.sh('busctl --json=short call %s %s %s DefineXML s "$(cat %s)"'
                    % (BUS_NAME, MANAGER_PATH, MANAGER, self.files['guest_xml'])).stdout
        path = json.loads(path)['data'][0]
        busctl(c, 'call', BUS_NAME, path, DOMAIN, 'Start', 'u', '0')
        first = wait_counter(c, serial, 3, 'the guest to boot')
        pids = qemu_pids(c)
        assert len(pids) == 1, 'QEMU processes in the container: %r' % c.processes()
        qemu, qemu_started = pids[0], ct.start_time(pids[0])
        log('guest %s runs, QEMU host pid %d, counter %d' % (path, qemu, first))
        before = c.unit_props('migrationd.service', 'MainPID')['MainPID']

        c.run('systemctl', 'restart', 'migrationd.service', timeout=DEADLINE)
        after = c.unit_props('migrationd.service', 'MainPID', 'ActiveState', 'NRestarts')
        log('after the restart: migrationd.service %s (was MainPID %s)' % (after, before))
        assert after['ActiveState'] == 'active' and after['MainPID'] != before, after
        assert ct.start_time(qemu) == qemu_started and qemu_pids(c) == [qemu], \
            'QEMU %d did not survive the restart: %r' % (qemu, c.processes())
        again = busctl_json(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'LookupByName', 's', 'nspawn-guest')
        assert again['data'][0] == path, again
        state = busctl_json(c, 'get-property', BUS_NAME, path, DOMAIN, 'State')
        assert state['data'] == 'running', state
        now = serial_counter(c, serial)
        later = wait_counter(c, serial, now + 3, 'the counter to go on after the restart')
        log('counter %d before the restart, %d now, %d later: same QEMU, still counting' % (first, now, later))

    # 5 --------------------------------------------------------------------
    def security(self):
        for unit in ('migrationd.service', 'migration-bridge.service'):
            out = self.c.run('systemd-analyze', 'security', '--no-pager', unit, check=False)
            m = re.search(r'Overall exposure level for %s: (\d+\.\d+) (\w+)' % re.escape(unit), out.stdout)
            assert m, 'systemd-analyze security %s said (%d):\n%s%s' % (unit, out.returncode, out.stdout,
                                                                        out.stderr)
            self.figures[unit] = float(m.group(1))
            log('exposure of %s: %s %s' % (unit, m.group(1), m.group(2)))
        assert self.figures['migration-bridge.service'] <= 2.0, \
            'migration-bridge.service exposure %.1f > 2.0' % self.figures['migration-bridge.service']

    # 6 --------------------------------------------------------------------
    def journal(self):
        entries = journal(self.c, 'migrationd.service')
        ours = [e for e in entries if e.get('GLIB_DOMAIN') == 'migrationd']
        ready = [e for e in ours if e.get('MESSAGE') == 'Ready on the bus as ' + BUS_NAME]
        log('%d journal entries of migrationd.service, %d from GLib domain migrationd, %d "Ready"'
            % (len(entries), len(ours), len(ready)))
        assert ready, 'no "Ready on the bus" entry; the daemon logged: %r' % [e.get('MESSAGE') for e in ours]
        e = ready[-1]
        log('e.g.', {k: e.get(k) for k in ('MESSAGE', 'PRIORITY', 'GLIB_DOMAIN', 'CODE_FUNC',
                                             'SYSLOG_IDENTIFIER', '_SYSTEMD_UNIT')})
        assert e.get('_SYSTEMD_UNIT') == 'migrationd.service' and e.get('CODE_FUNC'), e
        # One per start: the activation and the restart.
        assert len(ready) >= 2, 'expected a "Ready" entry for each of the two starts, found %d' % len(ready)


    # 7 --------------------------------------------------------------------
    def storage(self):
        c = self.c
        rw = c.unit_props('migrationd.service', 'ReadWritePaths')['ReadWritePaths']
        log('migrationd.service ReadWritePaths: %s' % rw)
        assert st.STORAGE_DIR in rw, 'the generated drop-in did not grant %s: %r' % (st.STORAGE_DIR, rw)
        kernel = st.GUEST_DIR + '/guest.elf'
        paths = {}
        for name, d in (('storage-ok', st.STORAGE_DIR), ('storage-refused', st.UNCONFIGURED_DIR)):
            xml = st.guest_xml(kernel, '/var/log/migrationd/%s.serial' % name, self.virt_type, name=name,
                               disk=d + '/disk.img')
            paths[name] = busctl_json(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'DefineXML', 's', xml)['data'][0]
        busctl(c, 'call', BUS_NAME, paths['storage-ok'], DOMAIN, 'Start', 'u', '0')
        wait_counter(c, '/var/log/migrationd/storage-ok.serial', 3, 'the guest with a disk in %s to boot'
                     % st.STORAGE_DIR)
        refused = busctl(c, 'call', BUS_NAME, paths['storage-refused'], DOMAIN, 'Start', 'u', '0', check=False)
        log('Start with a disk in %s: status %d, %s' % (st.UNCONFIGURED_DIR, refused.returncode,
                                                       refused.stderr.strip()))
        assert refused.returncode != 0, 'a guest with its disk in %s started' % st.UNCONFIGURED_DIR
        for word in (st.UNCONFIGURED_DIR + '/disk.img', 'vda', '[storage] directories', 'daemon-reload'):
            assert word in refused.stderr, '%r not in %r' % (word, refused.stderr)
        state = busctl_json(c, 'get-property', BUS_NAME, paths['storage-refused'], DOMAIN, 'State')
        assert state['data'] == 'shutoff', state
        busctl(c, 'call', BUS_NAME, paths['storage-ok'], DOMAIN, 'Destroy', 'u', '0')
        for path in paths.values():
            busctl(c, 'call', BUS_NAME, path, DOMAIN, 'Undefine', 'u', '0')


def prerequisites():
    for tool in ('systemd-nspawn', 'nsenter', 'certtool', 'debootstrap', 'mount'):
        if not shutil.which(tool):
            raise debianroot.Unavailable('%s is missing (host packages: systemd-container, util-linux, '
                                         'gnutls-bin, debootstrap)' % tool)
    if os.geteuid() != 0:
        raise debianroot.Unavailable('not root: debootstrap, overlayfs and systemd-nspawn need root')
    with open('/proc/filesystems') as f:
        if 'overlay' not in f.read():
            raise debianroot.Unavailable('the kernel has no overlayfs')
    kernel = os.environ.get('MD_GUEST_KERNEL')
    if os.environ.get('MD_SKIP_REASON'):
        raise debianroot.Unavailable(os.environ['MD_SKIP_REASON'])
    if not kernel or not os.path.isfile(kernel):
        raise RuntimeError('MD_GUEST_KERNEL (%r) is not a file: run me with meson test' % kernel)
    return kernel


def guest_virt_type():
    """The guest's domain type, chosen as the integration tests choose it
    (harness.domain_type()): 'kvm' when /dev/kvm really works (opens, speaks
    KVM's API, creates a VM; a device that merely opens is not enough: the
    daemon in the container would refuse the guest), MD_ACCEL=kvm|qemu
    forces either."""
    return harness.domain_type()


def main():
    meson, source_root, builddir = sys.argv[1:4]
    started = time.monotonic()
    try:
        kernel = prerequisites()
        root, lock_fd = debianroot.ensure(log)
    except debianroot.Unavailable as e:
        print('\n*** SKIPPED: %s ***\n' % e, flush=True)
        return SKIP
    log('root ready after %.0f s' % (time.monotonic() - started))

    workdir = tempfile.mkdtemp(prefix='md-nspawn-', dir='/var/tmp')
    os.chmod(workdir, 0o755)
    virt_type = guest_virt_type()
    kvm = virt_type == 'kvm'
    c = ct.Container(workdir, root, os.path.join(workdir, 'stage'), 'md-nspawn-%d' % os.getpid(), log, kvm=kvm)
    checks = None
    problems = []
    try:
        pki = st.make_pki(os.path.join(workdir, 'pki'))
        os.makedirs(c.stage)
        files = st.build(c.stage, root, meson, st.install_build(meson, source_root, builddir, log),
                         kernel, pki, virt_type)
        files['pki'] = pki
        try:
            c.mount()
        except subprocess.CalledProcessError as e:
            print('\n*** SKIPPED: cannot mount an overlayfs here (%s) ***\n' % e, flush=True)
            return SKIP
        booted = time.monotonic()
        c.boot(DEADLINE)
        state = c.run('systemctl', 'is-system-running', '--wait', check=False, timeout=DEADLINE * 2)
        log('is-system-running: %s (%.1f s after systemd-nspawn started)'
            % (state.stdout.strip(), time.monotonic() - booted))
        if state.stdout.strip() != 'running':
            log('failed units:\n' + c.run('systemctl', '--failed', '--no-legend', '--no-pager',
                                           check=False).stdout)
        assert state.stdout.strip() in ('running', 'degraded'), \
            'the container did not boot: %r\nconsole:\n%s' % (state.stdout, c.console())
        log('guest accelerator: %s (/dev/kvm %s)' % (virt_type, 'bound in' if kvm else 'not usable, or MD_ACCEL=qemu'))

        checks = Checks(c, files, virt_type)
        checks.run('1 bus activation through SystemdService=', checks.activation)
        checks.run('2 socket activation of migration-bridge', checks.bridge)
        checks.run('3 the real polkitd', checks.polkit)
        checks.run('4 restart with a running guest', checks.restart)
        checks.run('5 systemd-analyze security', checks.security)
        checks.run('6 structured journal entries', checks.journal)
        checks.run('7 [storage] directories under the hardened unit', checks.storage)
        if checks.failures:
            log('journal of the project units:\n' + c.run(
                'journalctl', '--no-pager', '-u', 'migrationd.service', '-u', 'migration-bridge.service',
                '-u', 'polkit.service', check=False).stdout[-8000:])
            for name in ('nspawn-guest.log', 'nspawn-guest.serial'):
                if os.path.exists(c.path('/var/log/migrationd/' + name)):
                    with open(c.path('/var/log/migrationd/' + name), 'rb') as f:
                        log('%s ends:\n%s' % (name, f.read()[-1500:].decode(errors='replace')))
    except Exception:
        problems.append('set-up failed:\n' + traceback.format_exc())
        if c.nspawn is not None:
            log('console:\n' + c.console())
    finally:
        if c.leader and c.nspawn.poll() is None:
            # Guests first, so that the poweroff has nothing to kill.
            try:
                for path in busctl_json(c, 'call', BUS_NAME, MANAGER_PATH, MANAGER, 'ListDomains', 'u', '1',
                                        check=False)['data'][0]:
                    busctl(c, 'call', BUS_NAME, path, DOMAIN, 'Destroy', 'u', '0', check=False)
            except (ValueError, KeyError, subprocess.TimeoutExpired) as e:
                problems.append('could not destroy the guests: %s' % e)
        problems += c.shutdown(DEADLINE)
        os.close(lock_fd)
        if os.environ.get('MD_KEEP_TMP') == '1':
            log('kept', workdir)
        elif not ct.mounts_under(workdir):
            shutil.rmtree(workdir)

    log('total %.0f s' % (time.monotonic() - started))
    if checks and checks.figures:
        log('exposure: ' + ', '.join('%s %.1f' % kv for kv in checks.figures.items()))
    for p in problems:
        log('PROBLEM: ' + p)
    failed = (checks.failures if checks else []) + problems
    log('%s' % ('FAILED: %r' % failed if failed else 'all checks passed, nothing left behind'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
