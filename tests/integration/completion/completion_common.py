# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the bash and the zsh completion tests share: the commands and
options `migrationctl --help` names (the program's own lists, which both
completions must match) and the guests whose names they complete."""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: the parent's test_*.py must not shadow ours.
if os.path.dirname(HERE) not in sys.path:
    sys.path.append(os.path.dirname(HERE))

import harness  # noqa: E402


class HelpAndGuests:
    """Mixin for a SingleHostTestCase."""

    def help_text(self):
        return subprocess.run([harness.MIGRATIONCTL, '--help'], env=dict(os.environ, LC_ALL='C'),
                              stdout=subprocess.PIPE, text=True, check=True).stdout

    def help_commands(self):
        commands, in_commands = set(), False
        for line in self.help_text().splitlines():
            if re.match(r'^\S.*:$', line):
                in_commands = line.rstrip(':').endswith('Commands')
            elif in_commands and re.match(r'^  [a-z]', line):
                commands.add(line.split()[0])
        self.assertGreater(len(commands), 10, 'no commands found in migrationctl --help')
        return commands

    def help_options(self):
        """Options as --help writes them: with '=' when they take a value."""
        options = set()
        for line in self.help_text().splitlines():
            m = re.match(r'^\s+((?:-[a-z] )?--[a-z][a-z0-9-]*=?)', line)
            if m:
                for o in m.group(1).split():
                    options.add(o)
        self.assertGreater(len(options), 20, 'no options found in migrationctl --help')
        return options

    def define(self, name, start=False):
        guest = harness.Guest(self.host, name=name, workdir=self.workdir)
        dom = guest.define()
        if start:
            dom.start()
            self.addCleanup(lambda: dom.state != 'shutoff' and dom.destroy())
            dom.wait_state('running')
        return dom

    def define_three(self):
        """One running guest, two shut off, one of them with a space in its name."""
        self.define('completion-running', start=True)
        self.define('completion-off')
        self.define('other off')
