#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The zsh completion of migrationctl (shell-completion/zsh/_migrationctl)
against a migrationd on a private bus: zsh-complete types a command line and
a TAB into a real interactive zsh (zsh/zpty, compinit with the completion's
directory first in $fpath) and prints the matches the completion offered.

As for bash, the commands and options are checked against `migrationctl
--help`, and domain names come from the daemon through migrationctl (the
environment's system bus, or --bus)."""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: the parent's test_*.py must not shadow ours.
if os.path.dirname(HERE) not in sys.path:
    sys.path.append(os.path.dirname(HERE))

import harness  # noqa: E402
from completion_common import HelpAndGuests  # noqa: E402
from harness import SingleHostTestCase  # noqa: E402

COMPLETION_DIR = os.environ.get('MD_ZSH_COMPLETION_DIR',
                                os.path.join(harness.SOURCE_ROOT, 'shell-completion', 'zsh'))
DRIVER = os.path.join(HERE, 'zsh-complete')


class ZshCompletion(HelpAndGuests, SingleHostTestCase):

    def setUp(self):
        self.zsh = shutil.which('zsh')
        if not os.path.isfile(os.path.join(COMPLETION_DIR, '_migrationctl')):
            harness.fail_everything('no _migrationctl in %s' % COMPLETION_DIR)
        if not harness.MIGRATIONCTL:
            harness.fail_everything('MD_MIGRATIONCTL is not set')
        super().setUp()

    def complete(self, line, system_bus=True):
        """The matches zsh offers for @line, the command being the
        migrationctl of the build tree (by its path); with @system_bus the
        daemon's bus is the system bus of the environment, else there is none
        (the line must say --bus)."""
        line = line.replace('migrationctl', harness.MIGRATIONCTL, 1)
        env = dict(os.environ, LC_ALL='C.UTF-8', TERM='dumb')
        for k in ('DBUS_SYSTEM_BUS_ADDRESS', 'DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS',
                  'DBUS_STARTER_BUS_TYPE', 'ZDOTDIR'):
            env.pop(k, None)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = (self.host.bus.address if system_bus
                                          else 'unix:path=' + os.path.join(self.workdir, 'no-such-bus'))
        proc = subprocess.run([self.zsh, '-f', DRIVER, COMPLETION_DIR, line],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=120 * harness.TIMEOUT_FACTOR)
        self.assertEqual(proc.returncode, 0, 'zsh-complete failed on %r: %s' % (line, proc.stderr))
        out = proc.stdout.splitlines()
        self.assertEqual([s for s in out if s.startswith('stderr: ')], [],
                         'the completion said something on %r' % line)
        return set(out)

    def test_commands(self):
        """Every command of --help and nothing else; a prefix narrows them."""
        self.assertEqual(self.complete('migrationctl '), self.help_commands())
        self.assertEqual(self.complete('migrationctl --json s'),
                         {'start', 'shutdown', 'suspend', 'set-speed', 'set-downtime'})
        # An option's value is no command.
        self.assertEqual(self.complete('migrationctl --bus unix:path=/x ver'), {'version'})

    def test_options(self):
        """The options of each command; together, every option of --help
        (zsh adds the '=' of those that take a value when one is chosen)."""
        everything = set()
        for verb in ('list', 'jobinfo guest', 'migrate guest', 'info guest', 'version'):
            everything |= self.complete('migrationctl %s -' % verb)
        self.assertEqual(everything, {o.rstrip('=') for o in self.help_options()})

        migrate = self.complete('migrationctl migrate guest --')
        self.assertTrue({'--to', '--to-bus', '--live', '--tls', '--compress', '--json'} <= migrate, migrate)
        self.assertNotIn('--all', migrate)
        # --to and --to-bus exclude each other; --compress may be repeated.
        after_to = self.complete('migrationctl migrate guest --to=migration+tls://h --')
        self.assertNotIn('--to-bus', after_to)
        self.assertIn('--compress', self.complete('migrationctl migrate guest --compress=zlib --'))
        listing = self.complete('migrationctl list --')
        self.assertTrue({'--all', '--inactive', '--json', '--bus'} <= listing, listing)
        self.assertNotIn('--live', listing)
        self.assertNotIn('--inactive', self.complete('migrationctl list --all --'))
        self.assertEqual(self.complete('migrationctl jobinfo guest --comp'), {'--completed'})
        # Values.
        self.assertEqual(self.complete('migrationctl migrate guest --compress=z'), {'zlib', 'zstd'})
        self.assertEqual(self.complete('migrationctl migrate guest --compress '), {'xbzrle', 'zlib', 'zstd'})
        self.assertEqual(self.complete('migrationctl migrate guest --protocol '), {'2', '3'})
        self.assertEqual(self.complete('migrationctl migrate guest --protocol='), {'2', '3'})
        self.assertEqual(self.complete('migrationctl migrate guest --to='), {'migration+tls://'})
        # Nothing to offer for a number; after a command without operands,
        # only options (zsh offers them when nothing else fits).
        self.assertEqual(self.complete('migrationctl migrate guest --bandwidth '), set())
        self.assertEqual(self.complete('migrationctl version '),
                         {'-h', '--help', '--version', '--bus', '--json', '--no-ask-password'})

    def test_domain_names(self):
        """Names from the daemon, by the state each command needs, on the
        environment's system bus or the one --bus names."""
        self.define_three()

        self.assertEqual(self.complete('migrationctl info '), {'completion-running', 'completion-off', 'other off'})
        self.assertEqual(self.complete('migrationctl info comp'), {'completion-running', 'completion-off'})
        self.assertEqual(self.complete('migrationctl start '), {'completion-off', 'other off'})
        self.assertEqual(self.complete('migrationctl destroy '), {'completion-running'})
        self.assertEqual(self.complete('migrationctl migrate --live c'), {'completion-running', 'completion-off'})
        # One name only: set-speed NAME MIB/S.
        self.assertEqual(self.complete('migrationctl set-speed completion-running '), set())

        # The bus --bus names, not the environment's (which leads nowhere here).
        address = self.host.bus.address
        for line in ('migrationctl --bus=%s start ' % address, 'migrationctl --bus %s start ' % address,
                     'migrationctl start --bus=%s ' % address):
            self.assertEqual(self.complete(line, system_bus=False), {'completion-off', 'other off'}, line)
        # No daemon to ask: no names, and nothing said.
        self.assertEqual(self.complete('migrationctl start ', system_bus=False), set())


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    # Here, not in setUp: unittest would take a skip's SystemExit there for
    # an error.
    if not shutil.which('zsh'):
        harness.skip_everything('zsh is missing; install zsh (tools/quickstart does)')
    harness.main()
