#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""install/destdir: `meson install --destdir` puts every file where a Debian
system looks for it.

    check-install.py MESON BUILDDIR KEY=PATH...

Each KEY=PATH is an expected installed file (an absolute path, as configured);
the script installs into a fresh temporary DESTDIR and checks each one under
it, plus that the units and the policy are the generated ones (no @...@ left,
the translations merged) and that the binaries run.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile


def main():
    meson, builddir, expected = sys.argv[1], sys.argv[2], sys.argv[3:]
    destdir = tempfile.mkdtemp(prefix='md-destdir-')
    failures = []
    try:
        env = dict(os.environ, DESTDIR='')
        proc = subprocess.run([meson, 'install', '-C', builddir, '--no-rebuild', '--quiet',
                               '--destdir', destdir],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            print(proc.stdout)
            print('meson install --destdir failed with status %d' % proc.returncode)
            return 1

        def inside(path):
            return os.path.join(destdir, path.lstrip('/'))

        for item in expected:
            key, path = item.split('=', 1)
            full = inside(path)
            if not os.path.isfile(full):
                failures.append('%s: %s is missing' % (key, path))
                continue
            if key in ('migrationd', 'migrationctl', 'generator') and not os.access(full, os.X_OK):
                failures.append('%s: %s is not executable' % (key, path))
            with open(full, 'rb') as f:
                data = f.read()
            if key.endswith('-unit') or key.endswith('.service'):
                if re.search(rb'@[A-Za-z_]+@', data):
                    failures.append('%s: %s has an unsubstituted @...@' % (key, path))
            if key == 'policy':
                if b'xml:lang="de"' not in data:
                    failures.append('policy: %s has no German (xml:lang="de") messages merged' % path)
                if b'auth_admin_keep' not in data:
                    failures.append('policy: %s lacks the contract\'s defaults' % path)
            if key == 'migrationd-unit':
                exec_lines = [l for l in data.decode().splitlines() if l.startswith('ExecStart=')]
                paths = dict(i.split('=', 1) for i in expected)
                if exec_lines != ['ExecStart=' + paths['migrationd']]:
                    failures.append('migrationd-unit: ExecStart is %r, not the installed daemon %s'
                                    % (exec_lines, paths['migrationd']))

        # What the tree holds beyond the expectations is listed, for the log.
        print('installed under %s:' % destdir)
        for root, _dirs, files in sorted(os.walk(destdir)):
            for name in sorted(files):
                print('  /' + os.path.relpath(os.path.join(root, name), destdir))

        paths = dict(i.split('=', 1) for i in expected)
        out = subprocess.run([inside(paths['migrationctl']), '--version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        if out.returncode != 0 or not out.stdout.startswith('migrationctl '):
            failures.append('the installed migrationctl --version says %r (status %d)'
                            % (out.stdout, out.returncode))
        out = subprocess.run([inside(paths['migrationd']), '--help'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        if out.returncode != 0 or '--state-dir' not in out.stdout:
            failures.append('the installed migrationd --help says %r (status %d)'
                            % (out.stdout, out.returncode))
    finally:
        shutil.rmtree(destdir, ignore_errors=True)

    for f in failures:
        print('FAIL:', f)
    print('%d expected files, %d problems' % (len(expected), len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
