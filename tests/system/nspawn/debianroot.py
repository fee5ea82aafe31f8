#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The cached minimal Debian root of the nspawn system test.

    debianroot.py            builds (or checks) the cache and prints its path

Made with `debootstrap --variant=minbase --include=...` from the archive this
machine's apt already uses (read from /etc/apt/sources.list,
sources.list.d/*.list and deb822 *.sources at run time: the repository names
no archive), for the release this machine runs.

Cache: $MD_NSPAWN_CACHE, default /var/cache/migrationd-tests/debian-root-CODENAME:
    root/       the tree (never written by the test: it is the lower layer)
    complete    JSON stamp, written last; missing or for another package set
                or archive means the tree is rebuilt
    lock        flock()ed while building or in use
    debootstrap.log
Remove the directory to force a rebuild.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

SKIP = 77

# What the installed binaries need (ldd of migrationd, migrationctl and
# migration-bridge: glib/gio, json-glib, libxml2, libsystemd) plus the system
# under test: systemd as init, the real bus and polkitd (polkitd's
# default-logind alternative is named, debootstrap resolves no virtual
# packages), QEMU with the firmware its Depends name, glib-networking for
# GIO's TLS (the bridge and the peer link; through gsettings it wants a
# session bus: dbus-user-session). Only Depends are installed.
PACKAGES = sorted([
    'systemd', 'libpam-systemd', 'dbus', 'dbus-user-session', 'polkitd',
    'qemu-system-x86', 'qemu-system-data', 'seabios', 'ipxe-qemu',
    'libglib2.0-0', 'glib-networking', 'libjson-glib-1.0-0', 'libxml2',
    'util-linux',
])
STAMP_VERSION = 1


class Unavailable(Exception):
    """A dependency outside the project is missing: the test skips (77)."""


def os_codename():
    with open('/etc/os-release') as f:
        info = dict(line.rstrip('\n').split('=', 1) for line in f if '=' in line)
    codename = info.get('VERSION_CODENAME', '').strip('"')
    if info.get('ID', '').strip('"') != 'debian' or not codename:
        raise Unavailable('this is not a Debian release with a VERSION_CODENAME (/etc/os-release)')
    return codename


def _one_line_sources(path):
    """(types, uris, suites, components, options) of a sources.list file."""
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            words = line.split()
            kind, rest = words[0], words[1:]
            options = {}
            if rest and rest[0].startswith('['):
                opts = []
                while rest:
                    w = rest.pop(0)
                    opts.append(w.strip('[]'))
                    if w.endswith(']'):
                        break
                options = dict(o.split('=', 1) for o in opts if '=' in o)
            if len(rest) >= 2:
                yield [kind], [rest[0]], [rest[1]], rest[2:], options


def _deb822_sources(path):
    with open(path) as f:
        text = f.read()
    for stanza in text.split('\n\n'):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith('#') or not line.strip():
                continue
            if line[0] in ' \t' and key:
                fields[key] += ' ' + line.strip()
                continue
            key, _, value = line.partition(':')
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get('enabled', 'yes').lower() == 'no' or 'uris' not in fields:
            continue
        yield (fields.get('types', '').split(), fields['uris'].split(), fields.get('suites', '').split(),
               fields.get('components', '').split(), {'signed-by': fields.get('signed-by', '')})


def apt_sources():
    files = []
    if os.path.isfile('/etc/apt/sources.list'):
        files.append(('/etc/apt/sources.list', _one_line_sources))
    d = '/etc/apt/sources.list.d'
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith('.list'):
            files.append((os.path.join(d, name), _one_line_sources))
        elif name.endswith('.sources'):
            files.append((os.path.join(d, name), _deb822_sources))
    for path, parse in files:
        yield from parse(path)


def find_mirror(codename):
    """The first `deb` URI of the Debian archive whose suite is @codename
    itself (not -updates or -security); $MD_NSPAWN_MIRROR overrides."""
    if os.environ.get('MD_NSPAWN_MIRROR'):
        return os.environ['MD_NSPAWN_MIRROR']
    for types, uris, suites, components, options in apt_sources():
        signed_by = options.get('signed-by', '')
        # A third-party archive may call its suite "bookworm" as well; the
        # Debian archive has "main" and Debian's keyring (or none named).
        if 'deb' in types and codename in suites and 'main' in components \
                and (not signed_by or 'debian-archive' in signed_by):
            return uris[0].rstrip('/')
    raise Unavailable('no Debian "deb" source for %s in /etc/apt/sources.list{,.d/*.list,.d/*.sources}; '
                      'set MD_NSPAWN_MIRROR' % codename)


def check_reachable(mirror, codename):
    url = '%s/dists/%s/Release' % (mirror, codename)
    if not url.startswith(('http://', 'https://')):
        return
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method='HEAD'), timeout=30) as r:
            r.read()
    except (urllib.error.URLError, OSError) as e:
        raise Unavailable('the Debian archive %s is unreachable (%s)' % (url, e)) from None


def cache_dir(codename):
    return os.environ.get('MD_NSPAWN_CACHE') or '/var/cache/migrationd-tests/debian-root-' + codename


def _stamp_wanted(codename):
    return {'version': STAMP_VERSION, 'codename': codename, 'packages': PACKAGES,
            'arch': subprocess.run(['dpkg', '--print-architecture'], stdout=subprocess.PIPE,
                                   text=True, check=True).stdout.strip()}


def _stamp_ok(stamp_path, wanted):
    try:
        with open(stamp_path) as f:
            have = json.load(f)
    except (OSError, ValueError):
        return False
    return all(have.get(k) == v for k, v in wanted.items())


def ensure(log=print):
    """The cached root (its path), built first if missing or incomplete.
    Returns (root, lock_fd): the caller keeps lock_fd open (shared lock)
    while it uses the root, so that no concurrent run rebuilds it."""
    codename = os_codename()
    for tool in ('debootstrap',):
        if not shutil.which(tool):
            raise Unavailable('%s is missing (apt-get install debootstrap)' % tool)
    cache = cache_dir(codename)
    os.makedirs(cache, exist_ok=True)
    root, stamp = os.path.join(cache, 'root'), os.path.join(cache, 'complete')
    lock_fd = os.open(os.path.join(cache, 'lock'), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    # The archive only matters for a build; the stamp records which one.
    wanted = _stamp_wanted(codename)
    try:
        # Shared while in use: concurrent runs share a complete root; a
        # build (exclusive) waits for them, and they for it.
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
        if _stamp_ok(stamp, wanted) and os.path.isdir(root):
            log('cached Debian root: %s (stamp %s)' % (root, stamp))
            return root, lock_fd
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if not (_stamp_ok(stamp, wanted) and os.path.isdir(root)):
            _build(cache, root, stamp, wanted, codename, log)
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(lock_fd)
        raise
    return root, lock_fd


def _build(cache, root, stamp, wanted, codename, log):
    mirror = find_mirror(codename)
    check_reachable(mirror, codename)
    with _suppress_missing():
        os.unlink(stamp)
    new = root + '.new'
    for d in (new, root):
        if os.path.exists(d):
            log('removing the incomplete root %s' % d)
            _remove_tree(d)
    argv = ['debootstrap', '--variant=minbase', '--merged-usr', '--components=main',
            '--include=' + ','.join(PACKAGES), codename, new, mirror]
    log('building the Debian root (takes minutes, once per machine): %s' % ' '.join(argv))
    started = time.monotonic()
    log_path = os.path.join(cache, 'debootstrap.log')
    with open(log_path, 'w') as f:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                              env=dict(os.environ, LC_ALL='C.UTF-8', DEBIAN_FRONTEND='noninteractive'))
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        with open(log_path, errors='replace') as f:
            tail = f.read()[-4000:]
        raise RuntimeError('debootstrap failed (status %d) after %.0f s; %s ends:\n%s'
                           % (proc.returncode, elapsed, log_path, tail))
    # Downloaded .debs are not needed again; machine-id is left empty so that
    # each boot makes a transient one (as an image should).
    for name in os.listdir(os.path.join(new, 'var/cache/apt/archives')):
        if name.endswith('.deb'):
            os.unlink(os.path.join(new, 'var/cache/apt/archives', name))
    with open(os.path.join(new, 'etc/machine-id'), 'w'):
        pass
    os.rename(new, root)
    wanted = dict(wanted, mirror=mirror, debootstrap_seconds=round(elapsed),
                  built=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    with open(stamp + '.tmp', 'w') as f:
        json.dump(wanted, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.rename(stamp + '.tmp', stamp)
    log('debootstrap took %.0f s; cached in %s' % (elapsed, root))


def _remove_tree(path):
    # debootstrap may have left mounts (proc, sys) behind if it was killed.
    with open('/proc/self/mountinfo') as f:
        mounts = [line.split()[4] for line in f]
    for m in sorted((m for m in mounts if m == path or m.startswith(path + '/')), reverse=True):
        subprocess.run(['umount', '-l', m], check=False)
    shutil.rmtree(path)


class _suppress_missing:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is FileNotFoundError


if __name__ == '__main__':
    try:
        r, _fd = ensure()
    except Unavailable as e:
        print('SKIP: ' + str(e))
        sys.exit(SKIP)
    print(r)
