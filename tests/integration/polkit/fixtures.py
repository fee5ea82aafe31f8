# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures of the access-control tests: a private bus that an unprivileged
user (uid 65534) may reach, calls made as that user (caller.py under
setpriv), a dbusmock polkitd whose call log tells what migrationd asked, and
snapshots of everything a refused call must leave alone.

Built on ../harness.py (buses, hosts, guests, log dumps, QEMU clean-up)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402
from harness import GLib, Gio, log, wait_until, DEADLINE  # noqa: E402,F401

NOBODY = 65534
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
# Built by meson into BUILDDIR/data, next to BUILDDIR/src/migrationd.
BUILT_POLICY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(harness.MIGRATIOND or '.'))),
                            'data', 'org.example.Migration1.policy')
BUS_POLICY = os.path.join(SOURCE_ROOT, 'data', 'org.example.Migration1.conf')
CALLER = os.path.join(HERE, 'caller.py')
SETPRIV = shutil.which('setpriv') or '/usr/bin/setpriv'

ACTION_MANAGE = 'org.example.migration1.manage'
ACTION_MIGRATE = 'org.example.migration1.migrate'
POLKIT_NAME = 'org.freedesktop.PolicyKit1'
POLKIT_PATH = '/org/freedesktop/PolicyKit1/Authority'
POLKIT_IFACE = 'org.freedesktop.PolicyKit1.Authority'
MOCK_IFACE = 'org.freedesktop.DBus.Mock'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'
INTERACTIVE_REQUIRED = 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'

# The contract's polkit table. Everything else in the two interfaces reads.
MANAGE_METHODS = {'DefineXML', 'Start', 'Shutdown', 'Destroy', 'Suspend', 'Resume', 'Undefine'}
MIGRATE_METHODS = {'Begin3', 'Begin3Params', 'Perform3', 'Perform3Params', 'Confirm3', 'Confirm3Params',
                   'Prepare3', 'Prepare3Params', 'Finish3', 'Finish3Params', 'Prepare2', 'Finish2',
                   'Perform2', 'MigrateToURI3', 'AbortJob', 'MigrateSetMaxDowntime', 'MigrateSetMaxSpeed',
                   'MigrateStartPostCopy', 'ConnectPeer'}
READ_METHODS = {'GetXMLDesc', 'GetJobStats', 'LookupByName', 'LookupByUUID', 'ListDomains',
                'GetCapabilities', 'MigrateGetMaxDowntime', 'MigrateGetMaxSpeed'}


def check_access_prerequisites():
    """Skips (77, loudly) only where the tests truly cannot run."""
    if os.geteuid() != 0:
        harness.skip_everything('the access-control tests must run as root: they start migrationd as '
                                'root and call it as uid %d with setpriv' % NOBODY)
    if not os.access(SETPRIV, os.X_OK):
        harness.skip_everything('setpriv (util-linux) is missing; it runs the unprivileged caller')
    try:
        import dbusmock  # noqa: F401
    except ImportError as e:
        harness.skip_everything('%s lacks python3-dbusmock (%s); install python3-dbusmock'
                                % (sys.executable, e))


class Call:
    """One call for caller.py."""

    def __init__(self, path, iface, method, sig='', args=(), dest=harness.BUS_NAME, interactive=False,
                 timeout_ms=None):
        self.path, self.iface, self.method, self.sig, self.dest = path, iface, method, sig, dest
        self.args = GLib.Variant('(%s)' % sig, tuple(args)).print_(True) if sig else None
        self.interactive = interactive
        self.timeout_ms = timeout_ms or harness.CALL_TIMEOUT_MS

    def spec(self):
        return {'dest': self.dest, 'path': self.path, 'iface': self.iface, 'method': self.method,
                'sig': self.sig, 'args': self.args, 'interactive': self.interactive,
                'timeout_ms': self.timeout_ms}

    def __repr__(self):
        return '%s.%s on %s' % (self.iface, self.method, self.path)


class Result:
    def __init__(self, call, raw):
        self.call = call
        self.ok = raw['ok']
        self.error = raw.get('error')
        self.message = raw.get('message')
        self.reply_text = raw.get('reply')

    def reply(self, sig):
        return GLib.Variant.parse(GLib.VariantType.new('(%s)' % sig), self.reply_text, None, None).unpack()

    def __repr__(self):
        if self.ok:
            return '<%r: ok %s>' % (self.call, (self.reply_text or '')[:80])
        return '<%r: %s: %s>' % (self.call, self.error, self.message)


class Unprivileged:
    """Runs caller.py as uid/gid 65534 (setpriv, no groups, no capabilities)."""

    def __init__(self, address):
        self.address = address
        self.unique_name = None

    def argv(self):
        return [SETPRIV, '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups',
                '--inh-caps=-all', '--bounding-set=-all',
                sys.executable, CALLER, self.address]

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith('DBUS_')}
        env.update(PYTHONDONTWRITEBYTECODE='1', HOME='/nonexistent')
        return env

    def run(self, calls):
        proc = subprocess.run(self.argv(), input=json.dumps([c.spec() for c in calls]), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env(), cwd='/',
                              timeout=harness.CALL_TIMEOUT_MS / 1000 + 60)
        return self._parse(calls, proc.returncode, proc.stdout, proc.stderr)

    def start(self, calls):
        """Starts the calls in the background; finish() collects them."""
        proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(), cwd='/')
        proc.stdin.write(json.dumps([c.spec() for c in calls]))
        proc.stdin.close()
        return proc

    def finish(self, proc, calls, timeout=None):
        out = proc.stdout.read()
        err = proc.stderr.read()
        proc.wait(timeout)
        return self._parse(calls, proc.returncode, out, err)

    def _parse(self, calls, status, out, err):
        if status != 0:
            raise AssertionError('caller.py as uid %d failed (status %d): %s %s'
                                 % (NOBODY, status, out, err))
        data = json.loads(out)
        head, results = data[0], data[1:]
        assert head['uid'] == NOBODY and head['gid'] == NOBODY, head
        self.unique_name = head['unique_name']
        return [Result(c, r) for c, r in zip(calls, results)]

    def call(self, *args, **kw):
        return self.run([Call(*args, **kw)])[0]


class PolkitMock:
    """python3-dbusmock's polkitd template (or a custom template file) on a bus."""

    def __init__(self, testcase, bus, template='polkitd'):
        self.bus = bus
        self.client = harness.Client(bus.address, 'polkit-control')
        testcase.addCleanup(self.client.close)
        self.log_path = os.path.join(bus.dir, 'polkitd-mock.log')
        self._log = open(self.log_path, 'wb')
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        self.proc = subprocess.Popen([sys.executable, '-m', 'dbusmock', '--system', '--template', template],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=harness._set_pdeathsig)
        testcase.addCleanup(self.stop)
        wait_until(lambda: (self.proc.poll() is not None and
                            harness._raise(harness.DaemonDied('dbusmock polkitd exited; see %s'
                                                              % self.log_path))) or
                   self.client.name_has_owner(POLKIT_NAME), DEADLINE, 'dbusmock polkitd on the bus')

    def stop(self):
        harness.stop_process(self.proc)
        self._log.close()

    def mock(self, method, sig=None, args=(), reply_sig=None):
        return self.client.call(POLKIT_PATH, MOCK_IFACE, method, sig, args, reply_sig, dest=POLKIT_NAME)

    def set_allowed(self, actions):
        self.mock('SetAllowed', 'as', (list(actions),))

    def check_calls(self):
        """[(subject_kind, subject_details, action, details, flags)] of every
        CheckAuthorization since the last clear_calls()."""
        calls = self.mock('GetMethodCalls', 's', ('CheckAuthorization',), 'a(tav)')[0]
        out = []
        for _ts, args in calls:
            subject, action, details, flags, _cancel = args
            kind, subject_details = subject
            out.append((kind, dict(subject_details), action, dict(details), flags))
        return out

    def clear_calls(self):
        self.mock('ClearCalls')

    def dump(self):
        try:
            with open(self.log_path, 'rb') as f:
                text = f.read().decode(errors='replace')
        except OSError:
            return
        print('----- polkitd mock log (%s)' % self.log_path, file=sys.stderr)
        for line in text.splitlines()[-100:]:
            print('  | ' + line, file=sys.stderr)


def split_signature(sig):
    """'sa{sv}u' -> ['s', 'a{sv}', 'u']"""
    out, i = [], 0

    def one(i):
        c = sig[i]
        if c == 'a':
            return one(i + 1)
        if c in '({':
            close = ')' if c == '(' else '}'
            depth, j = 0, i
            while True:
                if sig[j] in '({':
                    depth += 1
                elif sig[j] in ')}':
                    depth -= 1
                    if depth == 0 and sig[j] == close:
                        return j + 1
                j += 1
        return i + 1

    while i < len(sig):
        j = one(i)
        out.append(sig[i:j])
        i = j
    return out


def sample_value(t):
    """A harmless value of D-Bus type @t. Numbers are not zero and not
    defaults, so that a call that wrongly went through would show in the
    domain's properties."""
    if t in ('s', 'o', 'g'):
        return {'s': '', 'o': '/', 'g': ''}[t]
    if t in 'ynqiuxt':
        return 4242 if t in 'ut' else 42
    if t == 'b':
        return False
    if t == 'd':
        return 1.5
    if t == 'v':
        return GLib.Variant('s', '')
    if t.startswith('a{'):
        return {}
    if t.startswith('a'):
        return []
    if t.startswith('('):
        return tuple(sample_value(x) for x in split_signature(t[1:-1]))
    raise ValueError('no sample for type %r' % t)


def interface_methods(introspection_xml, iface):
    """{method: input signature} of @iface in an introspection document."""
    root = ET.fromstring(introspection_xml)
    for node in root.findall('interface'):
        if node.get('name') == iface:
            return {m.get('name'): ''.join(a.get('type') for a in m.findall('arg')
                                           if a.get('direction', 'in') == 'in')
                    for m in node.findall('method')}
    return {}


class AccessTestCase(harness.MigrationdTestCase):
    """A host whose bus uid 65534 can reach; polkit as each test wants it."""

    # None: no polkit on the bus; a template name or path: dbusmock with it.
    polkit_template = 'polkitd'
    polkit_allowed = ()
    config_extra = {}

    def setUp(self):
        super().setUp()
        # The bus socket is in the test's directory: let others reach it.
        os.chmod(self.workdir, 0o711)
        self.bus = self.make_bus('bus', external_ok=False)
        os.chmod(self.bus.dir, 0o711)
        self.polkit = None
        if self.polkit_template:
            self.polkit = PolkitMock(self, self.bus, self.polkit_template)
            self.polkit.set_allowed(self.polkit_allowed)
            self.addCleanup(self._dump_polkit_on_failure)
        self.host = self.make_host('host', bus=self.bus, polkit=None, config_extra=dict(self.config_extra))
        self.root = self.host.connect()
        self.nobody = Unprivileged(self.bus.address)
        # Before the host goes (cleanups run last-in first-out): guests
        # outlive the daemon, and a test leaves none behind.
        self.addCleanup(self._destroy_guests)

    def _destroy_guests(self):
        if not self.host.running():
            return
        for path in self.host.list_domains(harness.LIST_ACTIVE):
            dom = harness.Domain(self.host, path)
            try:
                dom.destroy()
                dom.wait_state('shutoff')
            except (GLib.Error, AssertionError) as e:
                log('could not destroy %s: %s' % (path, e))

    def _dump_polkit_on_failure(self):
        if self._failed() or harness.VERBOSE:
            self.polkit.dump()

    # -- what a refused call must leave alone

    def snapshot(self):
        """Every domain's properties and XML (live and inactive), the QEMU
        processes, and the content of every file in the state directory."""
        snap = {'domains': {}, 'files': {}}
        for path in self.host.list_domains(0):
            dom = harness.Domain(self.host, path)
            props = dom.props()
            snap['domains'][path] = {
                'props': props,
                'xml': dom.xml(0),
                'inactive_xml': dom.xml(2) if props['Persistent'] else None,
                'qemu': dom.qemu_pids(),
                'job': dom.call('GetJobStats', 'u', (0,), 'sa{sv}'),
            }
        for root, _dirs, files in os.walk(self.host.state_dir):
            for name in files:
                p = os.path.join(root, name)
                with open(p, 'rb') as f:
                    snap['files'][os.path.relpath(p, self.host.state_dir)] = hashlib.sha256(f.read()).hexdigest()
        return snap

    def assertUnchanged(self, before, what='the refused calls'):
        after = self.snapshot()
        self.assertEqual(sorted(after['domains']), sorted(before['domains']),
                         '%s added or removed domains' % what)
        for path, b in before['domains'].items():
            self.assertEqual(after['domains'][path], b, '%s changed domain %s' % (what, path))
        self.assertEqual(after['files'], before['files'], '%s changed the state directory' % what)

    def assertRefused(self, result, name=ACCESS_DENIED):
        self.assertFalse(result.ok, '%r went through; it should have been refused' % result)
        self.assertEqual(result.error, name, '%r: wrong error' % result)
        self.assertTrue(result.message and result.message.strip(), '%r: empty message' % result)
        # Refused by migrationd (polkit), not by the bus policy.
        self.assertNotIn('Rejected send message', result.message)

    def assertSucceeded(self, result):
        self.assertTrue(result.ok, '%r failed' % result)


def main():
    """Entry point of the test modules here: the access prerequisites, then
    the harness' (which exits 77 loudly for a missing system dependency)."""
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    check_access_prerequisites()
    harness.main()


if __name__ == '__main__':
    main()
