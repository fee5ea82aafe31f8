#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real polkitd evaluating the project's own polkit policy.

polkitd runs on the test's private bus in a private mount namespace (unshare
-m), where the built data/org.example.Migration1.policy is all of
/usr/share/polkit-1/actions and the test's rules are all of
/etc/polkit-1/rules.d (/usr/share/polkit-1/rules.d is emptied too): the
host's own policies and rules play no part. polkitd starts as root and
switches to its user (polkitd) as it always does. The caller is uid 65534,
with no login session, so the actions' allow_any default applies."""

import os
import pwd
import shutil
import subprocess

import fixtures
from fixtures import (AccessTestCase, Call, harness, wait_until, ACTION_MANAGE, ACTION_MIGRATE,
                      ACCESS_DENIED, INTERACTIVE_REQUIRED, NOBODY, POLKIT_NAME, POLKIT_PATH, POLKIT_IFACE)
from harness import DOMAIN_IFACE, MANAGER_PATH, MANAGER_IFACE

POLKITD_CANDIDATES = ('/usr/lib/polkit-1/polkitd', '/usr/libexec/polkitd', '/usr/libexec/polkit-1/polkitd')
UNSHARE = shutil.which('unshare') or '/usr/bin/unshare'

# polkit's PolkitImplicitAuthorization values
AUTH_ADMIN, AUTH_ADMIN_KEEP = 2, 4


def find_polkitd():
    for p in POLKITD_CANDIDATES:
        if os.access(p, os.X_OK):
            return p
    return None


class RealPolkitdProcess:
    def __init__(self, testcase, bus, rules=''):
        polkitd = find_polkitd()
        if not polkitd:
            harness.skip_everything('polkitd is not installed (looked for %s); install polkitd'
                                    % ', '.join(POLKITD_CANDIDATES))
        if not os.access(UNSHARE, os.X_OK):
            harness.skip_everything('unshare (util-linux) is missing')
        if not os.path.isfile(fixtures.BUILT_POLICY):
            harness.fail_everything('the built polkit policy %s is missing; run the test through '
                                    'meson, which builds it' % fixtures.BUILT_POLICY)
        top = os.path.join(testcase.workdir, 'polkit')
        self.actions, self.rules, self.vendor_rules = (os.path.join(top, d) for d in
                                                       ('actions', 'rules.d', 'vendor-rules.d'))
        for d in (top, self.actions, self.rules, self.vendor_rules):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        dest = os.path.join(self.actions, 'org.example.Migration1.policy')
        shutil.copyfile(fixtures.BUILT_POLICY, dest)
        os.chmod(dest, 0o644)
        if rules:
            path = os.path.join(self.rules, '50-migrationd-test.rules')
            with open(path, 'w') as f:
                f.write(rules)
            os.chmod(path, 0o644)
        script = ('set -e; '
                  'mount --make-rprivate / ; '
                  'mount --bind "$1" /usr/share/polkit-1/actions; '
                  'mount --bind "$2" /etc/polkit-1/rules.d; '
                  'mount --bind "$3" /usr/share/polkit-1/rules.d; '
                  'shift 3; exec "$@"')
        self.log_path = os.path.join(top, 'polkitd.log')
        self._log = open(self.log_path, 'wb')
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        self.proc = subprocess.Popen([UNSHARE, '--mount', 'sh', '-c', script, 'sh',
                                      self.actions, self.rules, self.vendor_rules, polkitd],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=harness._set_pdeathsig)
        testcase.addCleanup(self.stop)
        testcase.addCleanup(self._dump_on_failure, testcase)
        client = harness.Client(bus.address, 'polkitd-watch')
        testcase.addCleanup(client.close)

        def up():
            if self.proc.poll() is not None:
                self._log.flush()
                with open(self.log_path, 'rb') as f:
                    text = f.read().decode(errors='replace')
                harness.skip_everything('polkitd cannot run here (status %s): %s'
                                        % (self.proc.returncode, text[-2000:]))
            return client.name_has_owner(POLKIT_NAME)
        wait_until(up, harness.DEADLINE, 'polkitd on the bus')

    def stop(self):
        harness.stop_process(self.proc)
        self._log.close()

    def _dump_on_failure(self, testcase):
        if testcase._failed() or harness.VERBOSE:
            with open(self.log_path, 'rb') as f:
                print('----- polkitd log (%s)' % self.log_path, file=__import__('sys').stderr)
                for line in f.read().decode(errors='replace').splitlines()[-60:]:
                    print('  | ' + line, file=__import__('sys').stderr)


class RealPolkitd(AccessTestCase):
    polkit_template = None

    def setUp(self):
        super().setUp()
        self.g1 = self.make_guest(self.host, start=True)
        self.g2 = self.make_guest(self.host)
        self.g3 = self.make_guest(self.host)

    def enumerate_actions(self, locale):
        actions = self.root.call(POLKIT_PATH, POLKIT_IFACE, 'EnumerateActions', 's', (locale,),
                                 'a(ssssssuuua{ss})', dest=POLKIT_NAME)[0]
        return {a[0]: a for a in actions}

    def test_shipped_defaults(self):
        """polkitd loads the built policy: both actions, the contract's
        defaults (auth_admin / auth_admin / auth_admin_keep) and the German
        messages. For the unprivileged caller that means: refused
        (InteractiveAuthorizationRequired without the interactive flag;
        AccessDenied with it, as no agent can ask for the password), and
        nothing changed."""
        RealPolkitdProcess(self, self.bus)

        actions = self.enumerate_actions('C')
        for action in (ACTION_MANAGE, ACTION_MIGRATE):
            self.assertIn(action, actions)
            self.assertEqual(actions[action][6:9], (AUTH_ADMIN, AUTH_ADMIN, AUTH_ADMIN_KEEP),
                             '%s: defaults (any, inactive, active)' % action)
        self.assertEqual(actions[ACTION_MANAGE][1], 'Manage virtual machines')
        german = self.enumerate_actions('de_DE.UTF-8')
        self.assertEqual(german[ACTION_MANAGE][1], 'Virtuelle Maschinen verwalten')
        self.assertEqual(german[ACTION_MIGRATE][1], 'Virtuelle Maschinen migrieren')

        before = self.snapshot()
        results = self.nobody.run([
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,)),
            Call(self.g1.dom.path, DOMAIN_IFACE, 'Destroy', 'u', (0,)),
            Call(self.g1.dom.path, DOMAIN_IFACE, 'MigrateSetMaxSpeed', 'tu', (7, 0)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'DefineXML', 's',
                 (harness.Guest(self.host, workdir=self.workdir).xml(),)),
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,), interactive=True),
        ])
        for r in results[:4]:
            self.assertRefused(r, INTERACTIVE_REQUIRED)
        self.assertRefused(results[4], ACCESS_DENIED)
        self.assertUnchanged(before)

        # root is not asked at all.
        self.g1.dom.suspend()
        self.g1.dom.wait_state('paused')

    def test_rules_grant(self):
        """A rules file grants org.example.migration1.manage to uid 65534 for
        one domain (by the "domain" detail): lifecycle calls on that domain
        go through; the same on another domain, and every migrate action,
        stay refused."""
        try:
            user = pwd.getpwuid(NOBODY).pw_name
        except KeyError:
            harness.skip_everything('uid %d has no name in /etc/passwd; polkit rules need one' % NOBODY)
        rules = '''// migrationd integration test
polkit.addRule(function(action, subject) {
    if (action.id == "%s" && subject.user == "%s" && action.lookup("domain") == "%s")
        return polkit.Result.YES;
});
''' % (ACTION_MANAGE, user, self.g2.name)
        RealPolkitdProcess(self, self.bus, rules)

        results = self.nobody.run([
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,)),
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Suspend', 'u', (0,)),
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Resume', 'u', (0,)),
        ])
        for r in results:
            self.assertSucceeded(r)
        self.g2.dom.wait_state('running')

        before = self.snapshot()
        for r in self.nobody.run([
                Call(self.g3.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,)),
                Call(self.g1.dom.path, DOMAIN_IFACE, 'Destroy', 'u', (0,)),
                Call(self.g2.dom.path, DOMAIN_IFACE, 'MigrateSetMaxSpeed', 'tu', (7, 0)),
                Call(MANAGER_PATH, MANAGER_IFACE, 'DefineXML', 's', (self.g2.xml(title='renamed'),))]):
            self.assertRefused(r, INTERACTIVE_REQUIRED)
        self.assertUnchanged(before)

        self.assertSucceeded(self.nobody.call(self.g2.dom.path, DOMAIN_IFACE, 'Destroy', 'u', (0,)))
        self.g2.dom.wait_state('shutoff')


if __name__ == '__main__':
    fixtures.main()
