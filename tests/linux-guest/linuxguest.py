#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux test guest: a Debian cloud kernel and a busybox initramfs.

    linuxguest.py            builds (or checks) the cache and prints its path

Nothing of it is in the repository but init (this directory) and this
builder. At build time, with the machine's own apt configuration (the
repository names no archive):
  - `apt-get download` the kernel the metapackage linux-image-cloud-amd64
    depends on, and busybox-static;
  - `dpkg-deb -x` both; the fetched busybox runs `depmod` on the kernel's
    modules so that the virtio drivers' dependencies are known;
  - a tree of busybox, init and those modules (listed in load order in
    /etc/mdguest-modules) becomes initrd.img with `cpio -H newc` and gzip.

Cache: $MD_LINUX_GUEST_CACHE, default /var/cache/migrationd-tests/linux-guest:
    vmlinuz, initrd.img
    stamp       JSON, written last; missing or for another init, module list
                or builder version means the guest is rebuilt
    lock        flock()ed while building (exclusive) or in use (shared)
    build.log
    linux-guest-*/  the work directory of a build (removed after it)
Remove the directory to force a rebuild (a newer kernel in the archive does
not: the stamp names the one that was built).
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
INIT = os.path.join(HERE, 'init')
KERNEL_META = 'linux-image-cloud-amd64'
BUSYBOX = 'busybox-static'
# The virtio drivers the guest loads (PCI transport, disk, NIC); their
# dependencies (virtio, virtio_ring, failover, net_failover, ...) come from
# modules.dep. The serial console, tmpfs, devtmpfs and AF_PACKET are built
# into the cloud kernel.
MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net']
STAMP_VERSION = 1



class TickLog:
    """The guest's console as init writes it: `mdguest: boot=ID ...` once,
    then `tick N mem=OK|BAD disk=OK|BAD|none boot=ID` every half second.
    @prefix is the unterminated tail of the previous host's console (the
    line in flight at the switch-over is split between the two files)."""

    TICK = re.compile(r'^tick (\d+) mem=(\w+) disk=(\w+) boot=([0-9a-f]+)\s*$')

    def __init__(self, path, prefix=''):
        self.path, self.prefix = path, prefix

    def text(self):
        try:
            with open(self.path, 'rb') as f:
                data = f.read().decode('ascii', errors='replace')
        except FileNotFoundError:
            data = ''
        return self.prefix + data.replace('\r', '')

    def lines(self):
        return self.text().split('\n')[:-1]

    def tail(self):
        return self.text().split('\n')[-1]

    def ticks(self):
        """[(n, mem, disk, boot)] of the complete tick lines."""
        return [(int(m.group(1)), m.group(2), m.group(3), m.group(4))
                for m in map(self.TICK.match, self.lines()) if m]

    def headers(self):
        return [line for line in self.lines() if line.startswith('mdguest: boot=')]


class Unavailable(Exception):
    """apt cannot fetch the packages: the test skips (77)."""


def cache_dir():
    return os.environ.get('MD_LINUX_GUEST_CACHE') or '/var/cache/migrationd-tests/linux-guest'


def _run(argv, log_file, cwd=None, stdout=None):
    log_file.write('$ %s\n' % ' '.join(argv))
    log_file.flush()
    return subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout or log_file,
                          stderr=log_file, env=dict(os.environ, LC_ALL='C.UTF-8'))


def _stamp_wanted():
    with open(INIT, 'rb') as f:
        init_sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.abspath(__file__), 'rb') as f:
        builder_sha = hashlib.sha256(f.read()).hexdigest()
    return {'version': STAMP_VERSION, 'init_sha256': init_sha, 'builder_sha256': builder_sha,
            'modules': MODULES}


def _stamp_ok(cache, wanted):
    try:
        with open(os.path.join(cache, 'stamp')) as f:
            have = json.load(f)
    except (OSError, ValueError):
        return False
    return (all(have.get(k) == v for k, v in wanted.items()) and
            all(os.path.isfile(os.path.join(cache, n)) for n in ('vmlinuz', 'initrd.img')))


def ensure(log=print):
    """The cache directory (with vmlinuz, initrd.img, stamp), built first if
    missing or stale. Returns (directory, lock_fd): the caller keeps lock_fd
    open (a shared lock) while QEMU uses the files."""
    cache = cache_dir()
    os.makedirs(cache, exist_ok=True)
    lock_fd = os.open(os.path.join(cache, 'lock'), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    wanted = _stamp_wanted()
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
        if _stamp_ok(cache, wanted):
            log('cached Linux guest: %s' % cache)
            return cache, lock_fd
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if not _stamp_ok(cache, wanted):
            _build(cache, wanted, log)
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(lock_fd)
        raise
    return cache, lock_fd


def stamp(cache):
    with open(os.path.join(cache, 'stamp')) as f:
        return json.load(f)


def _kernel_package(log_file):
    """The linux-image-VERSION-cloud-amd64 that apt resolves the metapackage to."""
    proc = _run(['apt-cache', 'depends', '--important', KERNEL_META], log_file, stdout=subprocess.PIPE)
    out = proc.stdout.decode(errors='replace') if proc.stdout else ''
    log_file.write(out)
    for line in out.splitlines():
        word = line.strip().split(':', 1)
        if word[0] == 'Depends' and word[1].strip().startswith('linux-image-'):
            return word[1].strip()
    raise Unavailable('apt does not know %s (apt-cache depends: status %d; is "main" of a Debian '
                      'archive in the apt sources, and was `apt-get update` run?)' % (KERNEL_META, proc.returncode))


def _download(packages, into, log_file):
    # apt's download sandbox user must be able to write the directory.
    os.chmod(into, 0o777)
    if _run(['apt-get', 'download', '-q'] + packages, log_file, cwd=into).returncode != 0:
        raise Unavailable('`apt-get download %s` failed (no network, or stale package lists: '
                          'try `apt-get update`)' % ' '.join(packages))
    debs = {}
    for name in os.listdir(into):
        for p in packages:
            if name.startswith(p + '_') and name.endswith('.deb'):
                debs[p] = os.path.join(into, name)
    missing = [p for p in packages if p not in debs]
    if missing:
        raise Unavailable('apt-get download left no .deb for %s' % ' '.join(missing))
    return debs


def _deb_version(deb):
    return subprocess.run(['dpkg-deb', '-f', deb, 'Version'], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip()


def _module_order(moddir):
    """MODULES and their dependencies, each after what it needs, as paths
    relative to @moddir (from modules.dep)."""
    deps = {}
    with open(os.path.join(moddir, 'modules.dep')) as f:
        for line in f:
            mod, _, rest = line.partition(':')
            deps[mod] = rest.split()
    by_name = {os.path.basename(m)[:-len('.ko')]: m for m in deps}
    order = []

    def visit(mod):
        if mod in order:
            return
        for d in deps[mod]:
            visit(d)
        order.append(mod)
    for name in MODULES:
        if name not in by_name:
            raise RuntimeError('the kernel has no module %s (built in? check its config)' % name)
        visit(by_name[name])
    return order


def _build(cache, wanted, log):
    started = time.monotonic()
    for tool in ('apt-get', 'apt-cache', 'dpkg-deb', 'cpio', 'gzip'):
        if not shutil.which(tool):
            raise RuntimeError('%s is missing (tools/quickstart installs it)' % tool)
    # A build that was killed left its work directory (this one holds the lock).
    for name in os.listdir(cache):
        if name.startswith('linux-guest-'):
            shutil.rmtree(os.path.join(cache, name), ignore_errors=True)
    with open(os.path.join(cache, 'build.log'), 'w') as log_file, \
            tempfile.TemporaryDirectory(prefix='linux-guest-', dir=cache) as work:
        os.chmod(work, 0o755)   # apt's download sandbox user goes through it
        kernel_pkg = _kernel_package(log_file)
        log('building the Linux test guest from %s and %s (once per machine)' % (kernel_pkg, BUSYBOX))
        os.makedirs(os.path.join(work, 'debs'))
        debs = _download([kernel_pkg, BUSYBOX], os.path.join(work, 'debs'), log_file)
        fetched = time.monotonic()
        kernel, busybox = os.path.join(work, 'kernel'), os.path.join(work, 'busybox')
        for deb, into in ((debs[kernel_pkg], kernel), (debs[BUSYBOX], busybox)):
            if _run(['dpkg-deb', '-x', deb, into], log_file).returncode != 0:
                raise RuntimeError('dpkg-deb -x %s failed; see %s/build.log' % (deb, cache))
        kver = os.listdir(os.path.join(kernel, 'lib/modules'))[0]
        bb = os.path.join(busybox, 'bin/busybox')
        if _run([bb, 'depmod', '-b', kernel, kver], log_file).returncode != 0:
            raise RuntimeError('busybox depmod failed; see %s/build.log' % cache)
        moddir = os.path.join(kernel, 'lib/modules', kver)
        modules = _module_order(moddir)

        root = os.path.join(work, 'root')
        for d in ('bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'run', 'tmp', 'etc',
                  'lib/modules'):
            os.makedirs(os.path.join(root, d))
        shutil.copy2(bb, os.path.join(root, 'bin/busybox'))
        os.symlink('busybox', os.path.join(root, 'bin/sh'))
        shutil.copy2(INIT, os.path.join(root, 'init'))
        for m in modules:
            shutil.copy2(os.path.join(moddir, m), os.path.join(root, 'lib/modules', os.path.basename(m)))
        with open(os.path.join(root, 'etc/mdguest-modules'), 'w') as f:
            f.write(''.join(os.path.basename(m) + '\n' for m in modules))

        files = sorted(os.path.relpath(os.path.join(d, n), root)
                       for d, dirs, names in os.walk(root) for n in dirs + names)
        initrd = os.path.join(work, 'initrd.img')
        with open(initrd, 'wb') as out:
            cpio = subprocess.Popen(['cpio', '--quiet', '-o', '-H', 'newc', '-R', '0:0', '--reproducible'],
                                    cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file)
            gz = subprocess.Popen(['gzip', '-9n'], stdin=cpio.stdout, stdout=out, stderr=log_file)
            cpio.stdout.close()
            cpio.stdin.write(''.join(f + '\n' for f in ['.'] + files).encode())
            cpio.stdin.close()
            if cpio.wait() != 0 or gz.wait() != 0:
                raise RuntimeError('cpio | gzip failed; see %s/build.log' % cache)

        with _suppress_missing():
            os.unlink(os.path.join(cache, 'stamp'))
        shutil.copy2(os.path.join(kernel, 'boot', 'vmlinuz-' + kver), os.path.join(cache, 'vmlinuz.tmp'))
        os.rename(os.path.join(cache, 'vmlinuz.tmp'), os.path.join(cache, 'vmlinuz'))
        os.rename(initrd, os.path.join(cache, 'initrd.img'))
        info = dict(wanted, kernel_package=kernel_pkg, kernel_version=_deb_version(debs[kernel_pkg]),
                    kernel_release=kver, busybox_version=_deb_version(debs[BUSYBOX]),
                    loaded_modules=[os.path.basename(m) for m in modules],
                    vmlinuz_bytes=os.path.getsize(os.path.join(cache, 'vmlinuz')),
                    initrd_bytes=os.path.getsize(os.path.join(cache, 'initrd.img')),
                    download_seconds=round(fetched - started, 1),
                    build_seconds=round(time.monotonic() - started, 1),
                    built=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
        with open(os.path.join(cache, 'stamp.tmp'), 'w') as f:
            json.dump(info, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.rename(os.path.join(cache, 'stamp.tmp'), os.path.join(cache, 'stamp'))
    log('built the Linux test guest in %.1f s (%s %s, initrd %d KiB) in %s' % (
        info['build_seconds'], kernel_pkg, info['kernel_version'], info['initrd_bytes'] // 1024, cache))


class _suppress_missing:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is FileNotFoundError


if __name__ == '__main__':
    try:
        d, _fd = ensure(log=lambda m: print(m, file=sys.stderr))
    except Unavailable as e:
        print('SKIP: the Linux test guest cannot be fetched: ' + str(e), file=sys.stderr)
        sys.exit(SKIP)
    print(d)
