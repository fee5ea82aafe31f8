#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bash completion of migrationctl (shell-completion/bash/migrationctl)
against a migrationd on a private bus: bash sources bash-completion and the
script, the test sets COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT as
bash would for a command line, calls _migrationctl and reads COMPREPLY.

The lists of commands and options are checked against `migrationctl --help`,
so the script cannot drift from the program; domain names come from the
daemon, through migrationctl (the environment's system bus, or --bus)."""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: the parent's test_*.py must not shadow ours.
if os.path.dirname(HERE) not in sys.path:
    sys.path.append(os.path.dirname(HERE))

import harness  # noqa: E402
from completion_common import HelpAndGuests  # noqa: E402
from harness import SingleHostTestCase  # noqa: E402

COMPLETION = os.environ.get('MD_BASH_COMPLETION',
                            os.path.join(harness.SOURCE_ROOT, 'shell-completion', 'bash', 'migrationctl'))
BASH_COMPLETION = os.environ.get('MD_BASH_COMPLETION_LIB', '/usr/share/bash-completion/bash_completion')
# bash's default COMP_WORDBREAKS, less the blank, quotes and redirections,
# which our command lines do not use.
WORDBREAKS = '=:;|&('

DRIVER = r'''
source "$1" || exit 3
source "$2" || exit 3
cword=$3
shift 3
COMP_LINE=$1
COMP_POINT=${#COMP_LINE}
shift
COMP_WORDS=("$@")
COMP_CWORD=$cword
COMPREPLY=()
# compopt works only while bash itself runs a completion: noted instead.
compopt() { printf 'compopt %s\n' "$*" >&2; }
_migrationctl "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
'''


def comp_words(line):
    """COMP_WORDS and COMP_CWORD as bash makes them for @line with the cursor
    at its end: words split at blanks, then at each run of word-break
    characters (a word of its own); a trailing blank starts an empty word."""
    words = []
    for blank_word in line.split():
        words += [w for w in re.split('([%s]+)' % re.escape(WORDBREAKS), blank_word) if w]
    if line.endswith(' ') or not words:
        words.append('')
    return words, len(words) - 1


class Completion(HelpAndGuests, SingleHostTestCase):

    def setUp(self):
        if not harness.MIGRATIONCTL:
            harness.fail_everything('MD_MIGRATIONCTL is not set')
        super().setUp()

    def complete(self, line, system_bus=True):
        """COMPREPLY for @line, the command being the migrationctl of the
        build tree; with @system_bus the daemon's bus is the system bus of
        the environment, else there is none (the line must say --bus)."""
        line = line.replace('migrationctl', harness.MIGRATIONCTL, 1)
        words, cword = comp_words(line)
        env = dict(os.environ, LC_ALL='C.UTF-8')
        for k in ('DBUS_SYSTEM_BUS_ADDRESS', 'DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS',
                  'DBUS_STARTER_BUS_TYPE'):
            env.pop(k, None)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = (self.host.bus.address if system_bus
                                          else 'unix:path=' + os.path.join(self.workdir, 'no-such-bus'))
        proc = subprocess.run(['bash', '--norc', '--noprofile', '-c', DRIVER, 'bash',
                               BASH_COMPLETION, COMPLETION, str(cword), line] + words,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=120 * harness.TIMEOUT_FACTOR)
        self.assertEqual(proc.returncode, 0, 'bash failed on %r: %s' % (line, proc.stderr))
        said = proc.stderr.splitlines()
        self.compopts = [s.split(' ', 1)[1] for s in said if s.startswith('compopt ')]
        self.assertEqual([s for s in said if not s.startswith('compopt ')], [],
                         'the completion said something on %r' % line)
        return [w for w in proc.stdout.split('\n') if w]

    def test_commands(self):
        """Every command of --help and nothing else; a prefix narrows them."""
        self.assertEqual(set(self.complete('migrationctl ')), self.help_commands())
        self.assertEqual(set(self.complete('migrationctl --json s')),
                         {'start', 'shutdown', 'suspend', 'set-speed', 'set-downtime'})
        # An option's value is no command.
        self.assertEqual(set(self.complete('migrationctl --bus unix:path=/x ver')), {'version'})

    def test_options(self):
        """The options of each command; together, every option of --help."""
        everything = set()
        for verb in ('list', 'jobinfo', 'migrate guest', 'info guest', 'version'):
            everything |= set(self.complete('migrationctl %s -' % verb))
        self.assertEqual(everything, self.help_options())

        migrate = set(self.complete('migrationctl migrate guest --'))
        self.assertTrue({'--to=', '--to-bus=', '--live', '--tls', '--compress=', '--json'} <= migrate, migrate)
        self.assertNotIn('--all', migrate)
        listing = set(self.complete('migrationctl list --'))
        self.assertTrue({'--all', '--inactive', '--json', '--bus='} <= listing, listing)
        self.assertNotIn('--live', listing)
        self.assertEqual(self.complete('migrationctl jobinfo guest --comp'), ['--completed'])
        # Values.
        self.assertEqual(set(self.complete('migrationctl migrate guest --compress=z')), {'zlib', 'zstd'})
        self.assertEqual(set(self.complete('migrationctl migrate guest --protocol ')), {'2', '3'})
        self.assertEqual(self.complete('migrationctl migrate guest --to='), ['migration+tls://'])
        self.assertEqual(self.compopts, ['-o nospace'])
        self.assertEqual(self.complete('migrationctl migrate guest --band'), ['--bandwidth='])
        self.assertEqual(self.compopts, ['-o nospace'])

    def test_domain_names(self):
        """Names from the daemon, by the state each command needs, on the
        environment's system bus or the one --bus names."""
        self.define_three()

        self.assertEqual(set(self.complete('migrationctl info ')),
                         {'completion-running', 'completion-off', r'other\ off'})
        self.assertEqual(set(self.complete('migrationctl info comp')), {'completion-running', 'completion-off'})
        self.assertEqual(set(self.complete('migrationctl start ')), {'completion-off', r'other\ off'})
        self.assertEqual(set(self.complete('migrationctl destroy ')), {'completion-running'})
        self.assertEqual(set(self.complete('migrationctl migrate --live c')),
                         {'completion-running', 'completion-off'})
        # One operand only: set-speed NAME MIB/S.
        self.assertEqual(self.complete('migrationctl set-speed completion-running '), [])

        # The bus --bus names, not the environment's (which leads nowhere here).
        address = self.host.bus.address
        for line in ('migrationctl --bus=%s start ' % address, 'migrationctl --bus %s start ' % address,
                     'migrationctl start --bus=%s ' % address):
            self.assertEqual(set(self.complete(line, system_bus=False)), {'completion-off', r'other\ off'},
                             line)
        # No daemon to ask: no names, and nothing said.
        self.assertEqual(self.complete('migrationctl start ', system_bus=False), [])


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    # Here, not in setUp: unittest would take a skip's SystemExit there for
    # an error.
    for path, what in ((COMPLETION, 'the completion script'),
                       (BASH_COMPLETION, "bash-completion's helpers")):
        if not os.path.isfile(path):
            harness.skip_everything('%s (%s) is missing; install bash-completion' % (what, path))
    harness.main()
