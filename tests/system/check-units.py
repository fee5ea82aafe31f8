#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""units/verify: `systemd-analyze verify` on the installed units.

    check-units.py MESON BUILDDIR PREFIX UNITDIR UNIT...

verify checks that ExecStart= names an executable, so the units are checked
as installed: into a temporary DESTDIR, whose PREFIX is laid over the real
one (an overlay, in a mount namespace of this process' own) while verify
runs. Any line verify prints about our units is a failure.
"""

import os
import shutil
import subprocess
import sys
import tempfile


def skip(reason):
    print('SKIPPED LOUDLY: %s' % reason)
    sys.exit(77)


def main():
    meson, builddir, prefix, unitdir, units = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    analyze = shutil.which('systemd-analyze')
    if not analyze:
        skip('systemd-analyze is missing (package systemd)')
    if os.geteuid() != 0:
        skip('verifying the installed units needs root (a mount namespace with an overlay)')
    destdir = tempfile.mkdtemp(prefix='md-units-')
    try:
        proc = subprocess.run([meson, 'install', '-C', builddir, '--no-rebuild', '--quiet', '--destdir', destdir],
                              env=dict(os.environ, DESTDIR=''), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            print(proc.stdout)
            print('meson install --destdir failed with status %d' % proc.returncode)
            return 1
        paths = [os.path.join(destdir, unitdir.lstrip('/'), u) for u in units]
        overlay = 'lowerdir=%s:%s' % (os.path.join(destdir, prefix.lstrip('/')), prefix)
        script = 'mount -t overlay md-units -o "$1" "$2" && shift 2 && exec "$@"'
        proc = subprocess.run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh',
                               overlay, prefix, analyze, 'verify', '--man=no'] + paths,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(proc.stdout, end='')
        ours = [line for line in proc.stdout.splitlines() if any(u in line for u in units)]
        if proc.returncode != 0 or ours:
            print('systemd-analyze verify failed (status %d) on %s' % (proc.returncode, ' '.join(units)))
            return 1
        print('systemd-analyze verify: %s clean' % ', '.join(units))
        return 0
    finally:
        shutil.rmtree(destdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
