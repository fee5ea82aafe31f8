#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What goes on top of the cached Debian root: the project as
`meson install --destdir STAGE` puts it (from a build configured with
--prefix=/usr), the test guest, certificates, configuration, a polkit rule.

STAGE becomes an overlayfs lower layer above the cached root, so it must look
like a package's files would: directories that exist in the root keep the
root's owner and mode, and /lib, /bin, /sbin (symlinks into /usr in a
merged-/usr root) are folded into /usr.
"""

import json
import os
import shutil
import subprocess
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'integration'))
import certs  # noqa: E402

GUEST_DIR = '/usr/lib/migrationd-test'
PKI_DIR = '/etc/migrationd/pki'
OPERATOR = 'md-operator'        # the user the polkit rule lets manage domains
OPERATOR_UID = 4711
BRIDGE_PORT = 16519             # migration-bridge.socket's ListenStream=
ALLOWED_PEER = 'host-b'         # in [bridge] allowed_peers
REFUSED_PEER = 'host-c'         # signed by the same CA, not allowed


def _introspect(meson, builddir, what):
    out = subprocess.run([meson, 'introspect', '--' + what, builddir], stdout=subprocess.PIPE,
                         check=True, text=True).stdout
    return json.loads(out)


def install_build(meson, source_root, builddir, log):
    """The build to install from: @builddir itself when it is configured for
    /usr without sanitizers (the binaries under test are the ones meson just
    built), else a prefix=/usr build of the same sources kept in
    BUILDDIR/nspawn-build (incremental on later runs)."""
    opts = {o['name']: o['value'] for o in _introspect(meson, builddir, 'buildoptions')}
    if opts.get('prefix') == '/usr' and opts.get('b_sanitize') in (None, 'none', []):
        log('installing %s (prefix /usr)' % builddir)
        return builddir
    nested = os.path.join(builddir, 'nspawn-build')
    log('%s has prefix %s (sanitize %s): building a --prefix=/usr copy in %s'
        % (builddir, opts.get('prefix'), opts.get('b_sanitize'), nested))
    if not os.path.exists(os.path.join(nested, 'build.ninja')):
        shutil.rmtree(nested, ignore_errors=True)
        _run([meson, 'setup', '--prefix=/usr', '-Dintegration_tests=false', nested, source_root])
    _run(['ninja', '-C', nested])
    return nested


def _run(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError('%s failed with status %d:\n%s' % (' '.join(argv), proc.returncode, proc.stdout[-4000:]))
    return proc.stdout


def meson_install(meson, builddir, stage):
    env = dict(os.environ)
    env.pop('DESTDIR', None)
    proc = subprocess.run([meson, 'install', '-C', builddir, '--no-rebuild', '--quiet', '--destdir', stage],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError('meson install --destdir failed (%d):\n%s' % (proc.returncode, proc.stdout))


def fold_merged_usr(stage, root):
    """STAGE/lib/... -> STAGE/usr/lib/... where ROOT/lib is a symlink: a
    directory in an upper layer would hide the root's /lib symlink."""
    for name in os.listdir(stage):
        top = os.path.join(root, name)
        if not os.path.islink(top) or not os.path.isdir(os.path.join(stage, name)):
            continue
        target = os.path.normpath(os.path.join('/', os.readlink(top))).lstrip('/')
        src, dst = os.path.join(stage, name), os.path.join(stage, target)
        for dirpath, _dirs, files in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            for f in files:
                os.replace(os.path.join(dirpath, f), os.path.join(dst, rel, f))
        shutil.rmtree(src)


def match_root_directories(stage, root):
    """Every directory of STAGE that the root has too takes the root's owner
    and mode (the overlay shows the top layer's): /etc/polkit-1/rules.d is
    polkitd's 0700, for instance."""
    for dirpath, _dirs, _files in os.walk(stage):
        rel = os.path.relpath(dirpath, stage)
        theirs = os.path.join(root, rel)
        if os.path.isdir(theirs) and not os.path.islink(theirs):
            st = os.stat(theirs)
            os.chown(dirpath, st.st_uid, st.st_gid)
            os.chmod(dirpath, st.st_mode & 0o7777)


def write(stage, path, text, mode=0o644):
    full = os.path.join(stage, path.lstrip('/'))
    os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
    with open(full, 'w') as f:
        f.write(text)
    os.chmod(full, mode)
    return full


# ---- certificates (tests/integration/certs.py, as the bridge tests make them) ----

def make_pki(d):
    """ca, host-a (the container's identity), host-b (an allowed peer),
    host-c (a peer of the same CA that [bridge] allowed_peers refuses)."""
    os.makedirs(d)
    certs.make_cert(d, 'ca', 'Test CA', organization='Example')
    for name in ('host-a', ALLOWED_PEER, REFUSED_PEER):
        certs.make_cert(d, name, name, 'ca', organization='Example')
    return d


# ---- the whole stage ----

STORAGE_DIR = '/srv/md-images'       # in [storage] directories
UNCONFIGURED_DIR = '/srv/md-other'   # not: read-only under the unit


def disk_xml(path):
    return ("    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='raw'/>\n"
            "      <source file='%s'/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>\n" % path)


def guest_xml(kernel, serial, virt_type, name='nspawn-guest', disk=None):
    return """<domain type='%s'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%s</kernel>
    <cmdline>dirty=4M period=100</cmdline>
  </os>
  <devices>
%s    <serial type='file'>
      <source path='%s'/>
    </serial>
  </devices>
</domain>
""" % (virt_type, name, kernel, disk_xml(disk) if disk else '', serial)


def build(stage, root, meson, builddir, guest_kernel, pki, virt_type):
    """Fills STAGE; returns {'guest_xml': path inside, 'serial': path inside}."""
    meson_install(meson, builddir, stage)
    fold_merged_usr(stage, root)
    units = [os.path.join(dp, 'migration-bridge.socket') for dp, _d, fs in os.walk(stage)
             if 'migration-bridge.socket' in fs]
    if len(units) != 1:
        raise RuntimeError('meson install put migration-bridge.socket at %r' % units)

    # Enabled, as a package's postinst (deb-systemd-helper) would.
    wants = os.path.join(stage, 'etc/systemd/system/sockets.target.wants')
    os.makedirs(wants)
    os.symlink('/' + os.path.relpath(units[0], stage), os.path.join(wants, 'migration-bridge.socket'))

    # Test keys only, readable by the bridge's user: the unit's comment
    # names LoadCredential= for real keys.
    for name in ('ca.pem', 'host-a.pem', 'host-a.key'):
        with open(os.path.join(pki, name)) as f:
            write(stage, os.path.join(PKI_DIR, name), f.read())
    # idle_timeout=0: the checks look at the unit's state between steps, and
    # an idle exit in between would make them flaky.
    write(stage, '/etc/migrationd/migrationd.conf', """# the nspawn system test's configuration
[daemon]
idle_timeout=0

[tls]
ca=%(pki)s/ca.pem
cert=%(pki)s/host-a.pem
key=%(pki)s/host-a.key

[bridge]
listen=127.0.0.1:%(port)d
allowed_peers=*CN=%(peer)s

[storage]
directories=%(storage)s
""" % {'pki': PKI_DIR, 'port': BRIDGE_PORT, 'peer': ALLOWED_PEER, 'storage': STORAGE_DIR})
    # Disk images outside the service's own directories: one where
    # [storage] directories grants it (migrationd-generator's drop-in), one not.
    for d in (STORAGE_DIR, UNCONFIGURED_DIR):
        full = os.path.join(stage, d.lstrip('/'))
        os.makedirs(full, mode=0o755)
        with open(os.path.join(full, 'disk.img'), 'wb') as f:
            f.truncate(1 << 20)

    # An ordinary user whom the administrator's rule lets manage domains.
    write(stage, '/etc/sysusers.d/md-test.conf',
          'u %s %d "migrationd test operator" / /usr/sbin/nologin\n' % (OPERATOR, OPERATOR_UID))
    write(stage, '/etc/polkit-1/rules.d/50-md-test.rules', """// the nspawn system test: %s may manage domains
polkit.addRule(function(action, subject) {
    if (action.id == "org.example.migration1.manage" && subject.user == "%s")
        return polkit.Result.YES;
});
""" % (OPERATOR, OPERATOR))

    # The guest. Its console goes to the log directory: the unit's
    # ProtectSystem=strict leaves only the service's own directories writable.
    kernel = GUEST_DIR + '/guest.elf'
    full = os.path.join(stage, kernel.lstrip('/'))
    os.makedirs(os.path.dirname(full), mode=0o755)
    shutil.copyfile(guest_kernel, full)
    os.chmod(full, 0o644)
    serial = '/var/log/migrationd/nspawn-guest.serial'
    xml = write(stage, GUEST_DIR + '/guest.xml', guest_xml(kernel, serial, virt_type))
    match_root_directories(stage, root)
    return {'guest_xml': '/' + os.path.relpath(xml, stage), 'serial': serial}
