#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization with polkit, as an unprivileged caller (uid 65534) sees it:
python3-dbusmock's polkitd template (and a variant of it that can ask for a
password) on a private system-like bus, migrationd as root."""

import os
import subprocess
import time

import fixtures
from fixtures import (AccessTestCase, Call, harness, interface_methods, sample_value, split_signature,
                      wait_until, ACTION_MANAGE, ACTION_MIGRATE, ACCESS_DENIED, INTERACTIVE_REQUIRED,
                      MANAGE_METHODS, MIGRATE_METHODS, READ_METHODS, HERE)
from harness import (MANAGER_PATH, MANAGER_IFACE, DOMAIN_IFACE, PROPERTIES_IFACE, INTROSPECTABLE_IFACE,
                     OBJECT_MANAGER_IFACE)

PEER_IFACE = 'org.freedesktop.DBus.Peer'


class GuestsMixin:
    """g1 runs, g2 is shut off; both defined by root."""

    def make_guests(self, boot=True):
        self.g1 = self.make_guest(self.host, start=True, wait_boot=boot)
        self.g2 = self.make_guest(self.host)


class Denied(AccessTestCase, GuestsMixin):
    """polkit says no to everything."""

    polkit_allowed = ()

    def setUp(self):
        super().setUp()
        self.make_guests()

    def mutating_calls(self):
        """Every method of the two interfaces that is not a read, on the
        manager and on both guests, with harmless arguments; DefineXML with
        a new domain and with a changed definition of g2."""
        manager = interface_methods(self.root.introspect(MANAGER_PATH), MANAGER_IFACE)
        domain = interface_methods(self.root.introspect(self.g1.dom.path), DOMAIN_IFACE)
        for needed in MANAGE_METHODS:
            self.assertIn(needed, set(manager) | set(domain), 'the contract\'s %s is missing' % needed)
        missing = sorted(MIGRATE_METHODS - set(manager) - set(domain))
        if missing:
            harness.log('not implemented yet, so not checked:', ', '.join(missing))

        newcomer = harness.Guest(self.host, workdir=self.workdir)
        calls = []
        for method, sig in sorted(manager.items()):
            if method in READ_METHODS:
                continue
            if method == 'DefineXML':
                calls.append(Call(MANAGER_PATH, MANAGER_IFACE, method, 's', (newcomer.xml(),)))
                calls.append(Call(MANAGER_PATH, MANAGER_IFACE, method, 's',
                                  (self.g2.xml(title='changed by nobody'),)))
            else:
                calls.append(Call(MANAGER_PATH, MANAGER_IFACE, method, sig,
                                  [sample_value(t) for t in split_signature(sig)]))
        for g in (self.g1, self.g2):
            for method, sig in sorted(domain.items()):
                if method in READ_METHODS:
                    continue
                args = [sample_value(t) for t in split_signature(sig)]
                if sig.endswith('u') and method in MANAGE_METHODS:
                    args[-1] = 0        # valid flags: only polkit stands in the way
                calls.append(Call(g.dom.path, DOMAIN_IFACE, method, sig, args))
        return calls

    def test_every_mutating_method_refused(self):
        """Every state-changing method is AccessDenied, asks polkit for the
        contract's action with the caller's bus name and the domain as
        detail, and changes nothing (states, definitions, files, QEMUs)."""
        calls = self.mutating_calls()
        before = self.snapshot()
        self.polkit.clear_calls()
        results = self.nobody.run(calls)
        self.assertEqual(len(results), len(calls))
        for r in results:
            self.assertRefused(r)
        self.assertUnchanged(before)

        asked = self.polkit.check_calls()
        self.assertEqual(len(asked), len(calls),
                         'one CheckAuthorization per refused call expected; got %d for %d calls'
                         % (len(asked), len(calls)))
        names = {self.g1.dom.path: self.g1.name, self.g2.dom.path: self.g2.name}
        for call, (kind, subject, action, details, flags) in zip(calls, asked):
            self.assertEqual((kind, subject), ('system-bus-name', {'name': self.nobody.unique_name}),
                             '%r: polkit was asked about the wrong subject' % call)
            want = ACTION_MANAGE if call.method in MANAGE_METHODS else ACTION_MIGRATE
            self.assertEqual(action, want, '%r: wrong action' % call)
            if call.iface == DOMAIN_IFACE:
                self.assertEqual(details, {'domain': names[call.path]}, '%r: wrong details' % call)
            else:
                self.assertNotIn('domain', details, '%r: a manager call names no domain' % call)
            self.assertEqual(flags, 0, '%r: interactive authorization was not asked for' % call)

    def test_interactive_flag_forwarded(self):
        """ALLOW_INTERACTIVE_AUTHORIZATION on the call becomes polkit's
        AllowUserInteraction flag (1); absent, 0. The stock template never
        challenges, so both are simply denied."""
        self.polkit.clear_calls()
        before = self.snapshot()
        results = self.nobody.run([
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,), interactive=True),
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,)),
        ])
        for r in results:
            self.assertRefused(r)
        self.assertUnchanged(before)
        self.assertEqual([c[4] for c in self.polkit.check_calls()], [1, 0])

    def test_read_only_always_works(self):
        """Properties, GetXMLDesc, GetJobStats, Lookup*, ListDomains,
        GetCapabilities (and Introspect, GetManagedObjects, Peer) answer the
        unprivileged caller, the same as root, without asking polkit."""
        g1, g2 = self.g1, self.g2
        calls = [
            Call(MANAGER_PATH, PROPERTIES_IFACE, 'GetAll', 's', (MANAGER_IFACE,)),
            Call(MANAGER_PATH, PROPERTIES_IFACE, 'Get', 'ss', (MANAGER_IFACE, 'HostUUID')),
            Call(MANAGER_PATH, MANAGER_IFACE, 'ListDomains', 'u', (0,)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'LookupByName', 's', (g1.name,)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'LookupByUUID', 's', (g2.uuid,)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'GetCapabilities'),
            Call(MANAGER_PATH, OBJECT_MANAGER_IFACE, 'GetManagedObjects'),
            Call(MANAGER_PATH, INTROSPECTABLE_IFACE, 'Introspect'),
            Call(MANAGER_PATH, PEER_IFACE, 'Ping'),
        ]
        for g in (g1, g2):
            calls += [
                Call(g.dom.path, PROPERTIES_IFACE, 'GetAll', 's', (DOMAIN_IFACE,)),
                Call(g.dom.path, PROPERTIES_IFACE, 'Get', 'ss', (DOMAIN_IFACE, 'State')),
                Call(g.dom.path, DOMAIN_IFACE, 'GetXMLDesc', 'u', (0,)),
                Call(g.dom.path, DOMAIN_IFACE, 'GetJobStats', 'u', (0,)),
                Call(g.dom.path, DOMAIN_IFACE, 'GetJobStats', 'u', (1,)),
                Call(g.dom.path, DOMAIN_IFACE, 'MigrateGetMaxDowntime', 'u', (0,)),
                Call(g.dom.path, DOMAIN_IFACE, 'MigrateGetMaxSpeed', 'u', (0,)),
                Call(g.dom.path, INTROSPECTABLE_IFACE, 'Introspect'),
            ]
        self.polkit.clear_calls()
        results = self.nobody.run(calls)
        for r in results:
            self.assertSucceeded(r)
        self.assertEqual(self.polkit.check_calls(), [], 'a read asked polkit')

        # The same answers root gets.
        by = {(r.call.path, r.call.iface, r.call.method, r.call.args): r for r in results}

        def same(path, iface, method, sig, args, reply_sig):
            r = by[(path, iface, method, harness.GLib.Variant('(%s)' % sig, args).print_(True))]
            self.assertEqual(r.reply(reply_sig), self.root.call(path, iface, method, sig, args, reply_sig))

        same(MANAGER_PATH, MANAGER_IFACE, 'ListDomains', 'u', (0,), 'ao')
        same(MANAGER_PATH, MANAGER_IFACE, 'LookupByName', 's', (g1.name,), 'o')
        same(g1.dom.path, DOMAIN_IFACE, 'GetXMLDesc', 'u', (0,), 's')
        same(g2.dom.path, PROPERTIES_IFACE, 'GetAll', 's', (DOMAIN_IFACE,), 'a{sv}')

    def test_migration_names_destination(self):
        """A migration with a destination asks polkit with the details
        domain and destination (the peer URI, else QEMU's migration URI),
        so that rules can grant per destination; refused, nothing changes."""
        path, peer, stream = self.g1.dom.path, 'migration+tls://host-b.example', 'tcp:192.0.2.11:49152'
        calls = [
            Call(path, DOMAIN_IFACE, 'MigrateToURI3', 'sa{sv}u', (peer, {}, 3)),
            Call(path, DOMAIN_IFACE, 'Perform3', 'sayssstu', ('', b'', peer, stream, '', 0, 3)),
            Call(path, DOMAIN_IFACE, 'Perform3', 'sayssstu', ('', b'', '', stream, '', 0, 1)),
            Call(path, DOMAIN_IFACE, 'Perform3Params', 'sa{sv}ayu',
                 ('', {'migrate_uri': harness.GLib.Variant('s', stream)}, b'', 1)),
            Call(path, DOMAIN_IFACE, 'Perform2', 'aysstu', (b'', stream, '', 0, 1)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'ConnectPeer', 's', (peer,)),
        ]
        before = self.snapshot()
        self.polkit.clear_calls()
        for r in self.nobody.run(calls):
            self.assertRefused(r)
        self.assertUnchanged(before)
        asked = [(action, details) for _kind, _subject, action, details, _flags in self.polkit.check_calls()]
        want = [(ACTION_MIGRATE, {'domain': self.g1.name, 'destination': d}) for d in (peer, peer, stream, stream, stream)]
        # ConnectPeer opens a link to the peer: no domain, the peer's URI.
        want.append((ACTION_MIGRATE, {'destination': peer}))
        self.assertEqual(asked, want)

    def test_root_needs_no_polkit(self):
        """root is always allowed, without a question to polkit."""
        self.polkit.clear_calls()
        self.g1.dom.suspend()
        self.g1.dom.resume()
        self.g2.dom.call('MigrateSetMaxSpeed', 'tu', (77, 0))
        g3 = self.make_guest(self.host)
        g3.dom.undefine()
        self.assertEqual(self.g2.dom.prop('MaxSpeed'), 77)
        self.assertEqual(self.polkit.check_calls(), [])


class Allowed(AccessTestCase, GuestsMixin):
    """polkit grants one action at a time."""

    def setUp(self):
        super().setUp()
        self.make_guests()

    def test_manage_allowed(self):
        """With org.example.migration1.manage granted, the unprivileged
        caller defines, starts, suspends, resumes, destroys and undefines a
        domain; migrate actions stay refused."""
        self.polkit.set_allowed([harness_action('manage')])
        g3 = harness.Guest(self.host, workdir=self.workdir)
        r = self.nobody.call(MANAGER_PATH, MANAGER_IFACE, 'DefineXML', 's', (g3.xml(),))
        self.assertSucceeded(r)
        path = r.reply('o')[0]
        dom = harness.Domain(self.host, path)
        self.assertEqual(dom.prop('Name'), g3.name)
        self.assertEqual(dom.state, 'shutoff')

        def step(method, state, flags=0):
            res = self.nobody.call(path, DOMAIN_IFACE, method, 'u', (flags,))
            self.assertSucceeded(res)
            if state:
                dom.wait_state(state)

        step('Start', 'running')
        step('Suspend', 'paused')
        step('Resume', 'running')
        before = self.snapshot()
        self.assertRefused(self.nobody.call(path, DOMAIN_IFACE, 'MigrateSetMaxSpeed', 'tu', (5, 0)))
        self.assertRefused(self.nobody.call(self.g1.dom.path, DOMAIN_IFACE, 'AbortJob', 'u', (0,)))
        self.assertUnchanged(before, 'the refused migrate calls')
        step('Destroy', 'shutoff')
        step('Undefine', None)
        self.assertNotIn(path, self.host.list_domains(0))

    def test_migrate_allowed(self):
        """With only org.example.migration1.migrate granted, the migration
        settings change; manage actions stay refused."""
        self.polkit.set_allowed([harness_action('migrate')])
        for r in self.nobody.run([
                Call(self.g1.dom.path, DOMAIN_IFACE, 'MigrateSetMaxSpeed', 'tu', (100, 0)),
                Call(self.g1.dom.path, DOMAIN_IFACE, 'MigrateSetMaxDowntime', 'tu', (500, 0))]):
            self.assertSucceeded(r)
        self.assertEqual(self.g1.dom.prop('MaxSpeed'), 100)
        self.assertEqual(self.g1.dom.prop('MaxDowntime'), 500)
        before = self.snapshot()
        for r in self.nobody.run([
                Call(self.g1.dom.path, DOMAIN_IFACE, 'Destroy', 'u', (0,)),
                Call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,)),
                Call(MANAGER_PATH, MANAGER_IFACE, 'DefineXML', 's',
                     (harness.Guest(self.host, workdir=self.workdir).xml(),))]):
            self.assertRefused(r)
        self.assertUnchanged(before)


def harness_action(which):
    return {'manage': ACTION_MANAGE, 'migrate': ACTION_MIGRATE}[which]


class Absent(AccessTestCase, GuestsMixin):
    """No polkit on the bus at all."""

    polkit_template = None

    def setUp(self):
        super().setUp()
        self.make_guests()

    def test_refused_without_polkit(self):
        """Nobody to ask means no: every mutating call is AccessDenied and
        says that authorization is unavailable; root still works."""
        before = self.snapshot()
        results = self.nobody.run([
            Call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,)),
            Call(self.g1.dom.path, DOMAIN_IFACE, 'Destroy', 'u', (0,)),
            Call(self.g1.dom.path, DOMAIN_IFACE, 'MigrateSetMaxSpeed', 'tu', (9, 0)),
            Call(MANAGER_PATH, MANAGER_IFACE, 'DefineXML', 's',
                 (harness.Guest(self.host, workdir=self.workdir).xml(),)),
            Call(self.g1.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,), interactive=True),
        ])
        for r in results:
            self.assertRefused(r)
            self.assertIn('polkit', r.message.lower())
        self.assertUnchanged(before)
        self.g1.dom.suspend()
        self.g1.dom.wait_state('paused')
        self.g1.dom.destroy()


class Interactive(AccessTestCase, GuestsMixin):
    """A polkit that wants a password (tests/integration/polkit/
    polkitd_challenge.py: the stock template cannot challenge)."""

    polkit_template = os.path.join(HERE, 'polkitd_challenge.py')

    def setUp(self):
        super().setUp()
        self.make_guests(boot=False)
        self.polkit.mock('SetChallenge', 'as', ([ACTION_MANAGE],))

    def test_challenge_without_flag(self):
        """A challenge for a caller that did not allow interaction:
        InteractiveAuthorizationRequired, nothing changed."""
        before = self.snapshot()
        r = self.nobody.call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,))
        self.assertRefused(r, INTERACTIVE_REQUIRED)
        self.assertUnchanged(before)
        self.assertEqual([c[4] for c in self.polkit.check_calls()], [0])

    def test_challenge_dismissed(self):
        """Interaction allowed, the agent dismissed: AccessDenied."""
        self.polkit.mock('SetAgentAnswer', 'b', (False,))
        before = self.snapshot()
        r = self.nobody.call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,), interactive=True)
        self.assertRefused(r, ACCESS_DENIED)
        self.assertUnchanged(before)
        self.assertEqual([c[4] for c in self.polkit.check_calls()], [1])

    def test_challenge_authenticated(self):
        """Interaction allowed, the user authenticated: the call goes on."""
        self.polkit.mock('SetAgentAnswer', 'b', (True,))
        r = self.nobody.call(self.g2.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,), interactive=True)
        self.assertSucceeded(r)
        self.g2.dom.wait_state('running')
        r = self.nobody.call(self.g2.dom.path, DOMAIN_IFACE, 'Destroy', 'u', (0,), interactive=True)
        self.assertSucceeded(r)
        self.g2.dom.wait_state('shutoff')
        self.assertEqual([c[4] for c in self.polkit.check_calls()], [1, 1])

    def test_migrationctl_without_terminal(self):
        """migrationctl without a terminal does not allow interaction; the
        user reads why it failed and what to do."""
        if not harness.MIGRATIONCTL:
            self.skipTest('MD_MIGRATIONCTL is not set')
        before = self.snapshot()
        proc = subprocess.run(self.nobody.argv()[:-3] + [harness.MIGRATIONCTL, '--bus', self.bus.address,
                                                        'start', self.g2.name],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=dict(self.nobody.env(), LC_ALL='C'), cwd='/', timeout=120)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("Failed to start domain '%s'" % self.g2.name, proc.stderr)
        self.assertIn('nteractive', proc.stderr)
        self.assertUnchanged(before)
        self.assertEqual([c[4] for c in self.polkit.check_calls()], [0])


class Asynchronous(AccessTestCase):
    """The daemon never blocks on polkit, and a call waiting for polkit
    keeps it from exiting on idle."""

    polkit_allowed = (ACTION_MANAGE,)
    config_extra = {'daemon': {'idle_timeout': 2}}

    def test_others_served_while_polkit_thinks(self):
        g = self.make_guest(self.host)
        other = self.make_guest(self.host)
        self.polkit.mock('SimulateHang', 'b', (True,))
        calls = [Call(g.dom.path, DOMAIN_IFACE, 'Start', 'u', (0,))]
        proc = self.nobody.start(calls)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        wait_until(lambda: self.polkit.mock('HaveHangingCalls', reply_sig='b')[0], harness.DEADLINE,
                   'the Start call to reach polkit')

        # Everyone else is served meanwhile, quickly.
        t0 = time.monotonic()
        self.assertEqual(len(self.host.list_domains(0)), 2)
        self.assertEqual(g.dom.state, 'shutoff')
        other.dom.call('MigrateSetMaxSpeed', 'tu', (3, 0))
        self.assertLess(time.monotonic() - t0, 10, 'root\'s calls waited for polkit')

        # Three idle periods without a single call: the suspended call keeps it.
        harness.holds_for(lambda: self.host.proc.poll() is None and proc.poll() is None,
                          3 * 2 + 1, 'migrationd running with a call waiting for polkit')
        self.polkit.mock('ReleaseHangingCalls')
        results = self.nobody.finish(proc, calls, timeout=harness.DEADLINE)
        self.assertSucceeded(results[0])
        g.dom.wait_state('running')
        g.dom.destroy()
        g.dom.wait_state('shutoff')

        # Then, with nothing left to do, it exits by itself.
        self.host.proc.wait(harness.DEADLINE)
        self.host._stopped = True
        self.assertEqual(self.host.proc.returncode, 0)


if __name__ == '__main__':
    fixtures.main()
