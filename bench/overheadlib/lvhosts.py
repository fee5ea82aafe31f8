"""Path (d)'s two libvirt "hosts": libvirtd run as root, each in its own
network namespace (a veth pair between them), mount namespace (private
/etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
/var/log/libvirt and /etc/hosts) and UTS namespace (its own host name:
libvirt refuses to migrate to a host of its own name), so that nothing of
the machine's libvirt set-up (default network, storage pools, AppArmor,
other domains) is seen or touched. The client (virsh) reaches each daemon
on its unix socket in the temporary directory; the source daemon reaches
the destination over TCP (auth_tcp none) inside the veth pair."""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
import uuid as uuidlib

from .common import START_DEADLINE_S, BenchError, now, stop_process

LIBVIRTD = '/usr/sbin/libvirtd'
VIRSH = '/usr/bin/virsh'
# The QEMU driver is a loadable module of libvirtd (Debian:
# libvirt-daemon-driver-qemu); without it qemu:///system does not exist.
QEMU_DRIVER_GLOB = ('/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so',
                    '/usr/lib64/libvirt/connection-driver/libvirt_driver_qemu.so',
                    '/usr/lib/libvirt/connection-driver/libvirt_driver_qemu.so')
# Mount points the daemon gets private copies of (created on the machine when
# missing, empty: the package makes most of them).
PRIVATE_DIRS = (('etc', '/etc/libvirt'), ('run', '/run/libvirt'), ('lib', '/var/lib/libvirt'),
                ('cache', '/var/cache/libvirt'), ('log', '/var/log/libvirt'))
NETNS_PREFIX = 'mdovh-'
SUBNET = '10.251.%d.%d'
PR_SET_PDEATHSIG = 1


def missing():
    """Why path (d) cannot run here, or None."""
    if os.geteuid() != 0:
        return 'not root (libvirtd must run as root in its own network and mount namespaces)'
    for tool in (LIBVIRTD, VIRSH):
        if not os.access(tool, os.X_OK):
            return ('%s not installed (Debian: apt-get install --no-install-recommends libvirt-daemon '
                    'libvirt-daemon-driver-qemu libvirt-clients)' % tool)
    if not any(os.path.exists(p) for p in QEMU_DRIVER_GLOB):
        return "libvirt's QEMU driver is not installed (Debian: libvirt-daemon-driver-qemu)"
    for tool in ('ip', 'unshare', 'mount', 'hostname'):
        if shutil.which(tool) is None:
            return '%s not found (Debian: iproute2, util-linux, hostname)' % tool
    return None


def run_cmd(argv, timeout=60):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BenchError('%s failed (%d): %s' % (' '.join(argv), p.returncode, (p.stderr or p.stdout).strip()))
    return p.stdout


def remove_stale_netns():
    """Namespaces of an earlier bench that was SIGKILLed (named by its pid)."""
    out = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ''
        if not name.startswith(NETNS_PREFIX):
            continue
        pid = name[len(NETNS_PREFIX):].split('-')[0]
        if pid.isdigit() and not os.path.exists('/proc/%s' % pid):
            subprocess.run(['ip', 'netns', 'del', name], capture_output=True)


def pdeathsig():
    """In the child: SIGTERM when the bench dies, even by SIGKILL (ip netns exec,
    unshare and sh exec, so this reaches libvirtd)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class LibvirtHost:
    """One libvirtd in namespace @netns with address @addr."""

    def __init__(self, tmp, name, netns, addr, peers):
        self.name = name
        self.netns = netns
        self.addr = addr
        self.dir = os.path.join(tmp, name)
        self.proc = None
        self.hostname = '%s-%s' % (netns, name)
        for sub, _ in PRIVATE_DIRS:
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.sock_dir = os.path.join(self.dir, 'sock')
        os.makedirs(self.sock_dir, exist_ok=True)
        self.uri = 'qemu:///system?socket=%s' % os.path.join(self.sock_dir, 'libvirt-sock')
        self.tcp_uri = 'qemu+tcp://%s/system' % addr
        self.log_path = os.path.join(self.dir, 'libvirtd.log')
        self.conf = os.path.join(self.dir, 'etc', 'libvirtd.conf')
        with open(self.conf, 'w') as f:
            f.write('listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "%s"\nauth_tcp = "none"\n'
                    'unix_sock_dir = "%s"\nunix_sock_rw_perms = "0700"\nauth_unix_rw = "none"\n'
                    'auth_unix_ro = "none"\nmdns_adv = 0\nhost_uuid = "%s"\n'
                    'log_outputs = "3:file:%s"\n'
                    % (addr, self.sock_dir, uuidlib.uuid4(), self.log_path))
        with open(os.path.join(self.dir, 'etc', 'qemu.conf'), 'w') as f:
            # No confinement, relabelling, cgroups, /dev namespace or virtlogd:
            # the guest's files are the bench's, in its temporary directory.
            f.write('user = "root"\ngroup = "root"\ndynamic_ownership = 0\nremember_owner = 0\n'
                    'security_driver = "none"\nnamespaces = [ ]\ncgroup_controllers = [ ]\n'
                    'stdio_handler = "file"\nmigration_address = "%s"\nmigration_host = "%s"\n'
                    % (addr, addr))
        self.hosts_file = os.path.join(self.dir, 'hosts')
        with open('/etc/hosts') as src, open(self.hosts_file, 'w') as f:
            f.write(src.read())
            # Without these libvirt's own host name lookups wait on DNS.
            for host_name, host_addr in peers:
                f.write('\n%s %s' % (host_addr, host_name))
            f.write('\n')

    def start(self):
        binds = ['%s %s' % (os.path.join(self.dir, sub), target) for sub, target in PRIVATE_DIRS]
        binds.append('%s /etc/hosts' % self.hosts_file)
        script = 'set -e; hostname %s; ' % self.hostname
        script += ''.join('mount --bind %s; ' % b for b in binds)
        script += 'exec %s --listen --config %s --pid-file %s' % (LIBVIRTD, self.conf,
                                                                  os.path.join(self.dir, 'libvirtd.pid'))
        for _, target in PRIVATE_DIRS:
            os.makedirs(target, exist_ok=True)
        self.out = open(os.path.join(self.dir, 'stdout.log'), 'ab')
        self.proc = subprocess.Popen(['ip', 'netns', 'exec', self.netns, 'unshare', '--mount', '--uts',
                                      '--propagation', 'private', 'sh', '-c', script],
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT,
                                     preexec_fn=pdeathsig)
        deadline = now() + START_DEADLINE_S
        while True:
            if self.proc.poll() is not None:
                raise BenchError('libvirtd (%s) exited with status %s:\n%s'
                                 % (self.name, self.proc.returncode, self.log_tail()))
            p = subprocess.run([VIRSH, '-q', '-c', self.uri, 'hostname'], capture_output=True, text=True)
            if p.returncode == 0:
                return
            if now() > deadline:
                raise BenchError('libvirtd (%s) did not answer within %.0f s: %s\n%s'
                                 % (self.name, START_DEADLINE_S, p.stderr.strip(), self.log_tail()))
            time.sleep(0.1)

    def virsh(self, *args, timeout=300):
        return run_cmd([VIRSH, '-q', '-c', self.uri] + list(args), timeout=timeout)

    def log_tail(self, lines=20):
        text = ''
        for path in (os.path.join(self.dir, 'stdout.log'), self.log_path):
            with contextlib.suppress(OSError), open(path, errors='replace') as f:
                text += ''.join(f.readlines()[-lines:])
        return text

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError('libvirtd (%s) died with status %s:\n%s'
                             % (self.name, self.proc.returncode, self.log_tail()))

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, 30)
            self.proc = None
            self.out.close()


class LibvirtPair:
    """Two network namespaces joined by a veth pair, a libvirtd in each."""

    def __init__(self, tmp):
        remove_stale_netns()
        tag = '%s%d' % (NETNS_PREFIX, os.getpid())
        self.netns = ['%s-a' % tag, '%s-b' % tag]
        self.created = []
        net = os.getpid() % 250 + 1
        addrs = [SUBNET % (net, 1), SUBNET % (net, 2)]
        names = [('%s-%s' % (ns, n), a) for ns, n, a in zip(self.netns, ('lvA', 'lvB'), addrs)]
        self.hosts = [LibvirtHost(tmp, n, ns, a, names) for n, ns, a in zip(('lvA', 'lvB'), self.netns, addrs)]
        self.addrs = addrs

    def start(self):
        for ns in self.netns:
            run_cmd(['ip', 'netns', 'add', ns])
            self.created.append(ns)
        veth = ['v%d%s' % (os.getpid(), s) for s in ('a', 'b')]
        run_cmd(['ip', 'link', 'add', veth[0], 'netns', self.netns[0], 'type', 'veth',
                 'peer', 'name', veth[1], 'netns', self.netns[1]])
        for ns, dev, addr in zip(self.netns, veth, self.addrs):
            run_cmd(['ip', '-n', ns, 'addr', 'add', addr + '/30', 'dev', dev])
            run_cmd(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
            run_cmd(['ip', '-n', ns, 'link', 'set', dev, 'up'])
        for h in self.hosts:
            h.start()

    def stop(self):
        for h in self.hosts:
            with contextlib.suppress(Exception):
                h.stop()
        for ns in self.created:
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        self.created = []
