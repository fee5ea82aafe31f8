#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""generator/storage-drop-in: migrationd-generator turns [storage]
directories and [qemu] hugetlbfs_mount into ReadWritePaths= for
migrationd.service, writes nothing without them, and refuses (status 1, nothing written) a directory systemd
could not take as it is.

    check-generator.py GENERATOR
"""

import os
import subprocess
import sys
import tempfile

DROP_IN = os.path.join('migrationd.service.d', '50-storage-directories.conf')


def run(generator, tmp, conf):
    path = os.path.join(tmp, 'migrationd.conf')
    with open(path, 'w') as f:
        f.write(conf)
    out = tempfile.mkdtemp(dir=tmp)
    proc = subprocess.run([generator, out, out, out], env=dict(os.environ, MIGRATIOND_CONFIG=path),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    drop_in = os.path.join(out, DROP_IN)
    text = open(drop_in).read() if os.path.exists(drop_in) else None
    return proc.returncode, proc.stdout, text


def main():
    generator = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, text = run(generator, tmp, '[storage]\ndirectories=/var/lib/libvirt/images; /srv/nfs/vms\n')
        lines = [l for l in (text or '').splitlines() if not l.startswith('#')]
        if rc != 0 or lines != ['[Service]', 'ReadWritePaths=-/var/lib/libvirt/images',
                                'ReadWritePaths=-/srv/nfs/vms']:
            failures.append('two directories: status %d, %r, drop-in %r' % (rc, out, text))
        # [qemu] hugetlbfs_mount: QEMU creates its guest RAM's file there.
        rc, out, text = run(generator, tmp, '[qemu]\nhugetlbfs_mount=/mnt/huge1G\n')
        lines = [l for l in (text or '').splitlines() if not l.startswith('#')]
        if rc != 0 or lines != ['[Service]', 'ReadWritePaths=-/mnt/huge1G']:
            failures.append('a hugetlbfs mount: status %d, %r, drop-in %r' % (rc, out, text))
        rc, out, text = run(generator, tmp, '[storage]\ndirectories=/srv/vms\n[qemu]\nhugetlbfs_mount=/mnt/a;/mnt/b\n')
        lines = [l for l in (text or '').splitlines() if not l.startswith('#')]
        if rc != 0 or lines != ['[Service]', 'ReadWritePaths=-/srv/vms', 'ReadWritePaths=-/mnt/a',
                                'ReadWritePaths=-/mnt/b']:
            failures.append('storage and hugetlbfs: status %d, %r, drop-in %r' % (rc, out, text))
        for conf in ('', '[storage]\n', '[storage]\ndirectories=\n', '[daemon]\nidle_timeout=5\n'):
            rc, out, text = run(generator, tmp, conf)
            if rc != 0 or text is not None:
                failures.append('%r: status %d, %r, drop-in %r (expected none)' % (conf, rc, out, text))
        for bad in ('images', '/', '/srv/../etc', '/srv/a/', '/srv//a', '/srv/a b', '/srv/%n', '/srv/"x',
                    '/srv/a\\\\b', '/srv/./a'):
            rc, out, text = run(generator, tmp, '[storage]\ndirectories=/ok;%s\n' % bad)
            if rc != 1 or text is not None or '[storage] directories' not in out:
                failures.append('%r: status %d, %r, drop-in %r (expected a refusal)' % (bad, rc, out, text))
    for f in failures:
        print('FAIL:', f)
    print('%d problems' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
