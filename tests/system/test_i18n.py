#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Translations at work: migrationctl's messages and the daemon's bus errors
in German, from the catalogue the build made (BUILDDIR/po/de/LC_MESSAGES/
migrationd.mo).

The programs look in LOCALEDIR (prefix/share/locale), where nothing is
installed during a build; each run happens in a private mount namespace
(unshare -m) where BUILDDIR/po is mounted on LOCALEDIR. Needs root.

    test_i18n.py LOCALEDIR BUILDDIR_PO Class.test
"""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'integration'))

import harness  # noqa: E402
import harness_base  # noqa: E402  (where the settings live: Host.start reads MIGRATIOND there)

LOCALEDIR = PO_DIR = None
UNSHARE = shutil.which('unshare') or '/usr/bin/unshare'
GERMAN = {'LANGUAGE': 'de', 'LC_ALL': 'C.UTF-8', 'LANG': 'C.UTF-8'}

# Mounts PO_DIR on LOCALEDIR ($1, $2), creating LOCALEDIR on a tmpfs over its
# nearest existing parent if it does not exist; then runs the rest.
MOUNT_SCRIPT = r'''set -e
mount --make-rprivate /
if [ ! -d "$1" ]; then
    a=$1
    while [ ! -d "$a" ]; do a=$(dirname "$a"); done
    mount -t tmpfs -o mode=0755 migrationd-test-locale "$a"
    mkdir -p "$1"
fi
mount --bind "$2" "$1"
shift 2
exec "$@"
'''


def in_namespace(argv):
    return [UNSHARE, '--mount', 'sh', '-c', MOUNT_SCRIPT, 'sh', LOCALEDIR, PO_DIR] + argv


def check_prerequisites():
    if os.geteuid() != 0:
        harness.skip_everything('the translation tests mount the build\'s catalogues in a private '
                                'mount namespace, which needs root')
    if not os.access(UNSHARE, os.X_OK):
        harness.skip_everything('unshare (util-linux) is missing')
    mo = os.path.join(PO_DIR, 'de', 'LC_MESSAGES', 'migrationd.mo')
    if not os.path.isfile(mo):
        harness.fail_everything('%s was not built' % mo)


class Migrationctl(harness.MigrationdTestCase):

    def run_ctl(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith(('LC_', 'LANG'))}
        e.update(env or {})
        return subprocess.run(in_namespace([harness.MIGRATIONCTL] + list(args)), env=e, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=60)

    def test_german(self):
        """migrationctl speaks German where asked (help, usage errors, its
        own failure messages), English otherwise."""
        help_de = self.run_ctl('--help', env=GERMAN)
        self.assertEqual(help_de.returncode, 0, help_de.stderr)
        self.assertIn('Die QEMU-Gäste von migrationd verwalten.', help_de.stdout)
        self.assertIn('Domänenbefehle:', help_de.stdout)
        self.assertIn('Eine ausgeschaltete Domäne starten', help_de.stdout)

        wrong = self.run_ctl('no-such-verb', env=GERMAN)
        self.assertEqual(wrong.returncode, 1)
        self.assertIn('Unbekannter Befehl »no-such-verb«', wrong.stderr)

        nobus = self.run_ctl('--bus', 'unix:path=/nonexistent/socket', 'list', env=GERMAN)
        self.assertEqual(nobus.returncode, 1)
        self.assertIn('Verbindung zu unix:path=/nonexistent/socket fehlgeschlagen', nobus.stderr)

        help_c = self.run_ctl('--help', env={'LC_ALL': 'C'})
        self.assertIn('Manage the QEMU guests of migrationd.', help_c.stdout)


class Daemon(harness.MigrationdTestCase):

    def test_german_bus_errors(self):
        """The daemon's bus error messages follow its locale (systemd gives
        it the system's); the error names do not change."""
        wrapper = os.path.join(self.workdir, 'migrationd-in-namespace')
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\nexec %s "$@"\n' % ' '.join("'%s'" % a for a in in_namespace([harness.MIGRATIOND])))
        os.chmod(wrapper, 0o755)
        saved = {k: os.environ.get(k) for k in GERMAN}
        os.environ.update(GERMAN)
        saved_daemon, harness_base.MIGRATIOND = harness_base.MIGRATIOND, wrapper
        try:
            host = self.make_host('host', bus=self.make_bus('bus', external_ok=False))
        finally:
            harness_base.MIGRATIOND = saved_daemon
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        with self.assertDBusError('NoSuchDomain', 'Keine Domäne namens »nirgendwo«'):
            host.lookup('nirgendwo')
        g = self.make_guest(host)
        with self.assertDBusError('OperationInvalid', 'läuft nicht'):
            g.dom.destroy()
        with self.assertDBusError('DomainExists', 'existiert bereits'):
            host.define(harness.guest_xml(g.name, None, g.serial_path))
        # The model's messages too (domain XML, checked before the core sees it).
        with self.assertDBusError('InvalidXML', 'Ungültiges Domänen-XML'):
            host.define('<domain type="qemu"></domain')


if __name__ == '__main__':
    LOCALEDIR, PO_DIR = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    check_prerequisites()
    harness.main()
