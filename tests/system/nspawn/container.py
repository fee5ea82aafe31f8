#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A booted systemd-nspawn container of the cached Debian root, with the
project installed on top, and clean-up that leaves nothing behind.

The cached root is never written: the container's root is an overlayfs of our
own, lowerdir = STAGE (what `meson install --destdir` and the test put there)
over the cached root, upperdir on a tmpfs of the run, so that its writes
vanish with it as with --volatile=overlay. Unlike --volatile=overlay (one
lower layer: the installation would have to be copied in after boot) the
project is in place before systemd starts, as after a package installation.

The container has its own network namespace (--private-network: only
loopback), so the bridge's port 16519 never meets the host's. It is not
registered with machined (--register=no, the host's PID 1 is not systemd);
commands run in it through nsenter into its PID 1's namespaces.
"""

import os
import signal
import subprocess
import time

POLL = 0.1
CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'


class WaitTimeout(AssertionError):
    pass


def wait_until(predicate, timeout, what, poll=POLL):
    """predicate()'s first true value, polled until @timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout('timed out after %.0f s waiting for %s' % (timeout, what))
        time.sleep(poll)


def mounts_under(path):
    with open('/proc/self/mountinfo') as f:
        points = [line.split()[4].replace('\\040', ' ') for line in f]
    return [m for m in points if m == path or m.startswith(path + '/')]


def _ppid(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _ns(pid, kind='pid'):
    try:
        return os.stat('/proc/%d/ns/%s' % (pid, kind)).st_ino
    except OSError:
        return None


def pids_in_pidns(ns_inode):
    """Host pids of the processes in the pid namespace @ns_inode."""
    found = []
    for name in os.listdir('/proc'):
        if name.isdigit() and _ns(int(name)) == ns_inode:
            found.append(int(name))
    return found


def comm(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def start_time(pid):
    """Field 22 of /proc/PID/stat: tells a pid apart from a reused one."""
    with open('/proc/%d/stat' % pid) as f:
        return int(f.read().rsplit(')', 1)[1].split()[19])


class Container:
    def __init__(self, workdir, lower_root, stage, name, log, kvm=False):
        self.workdir = workdir
        self.lower_root = lower_root
        self.stage = stage
        self.name = name
        self.log = log
        self.kvm = kvm
        self.merged = os.path.join(workdir, 'merged')
        self.upper = os.path.join(workdir, 'rw', 'upper')
        self.console_log = os.path.join(workdir, 'console.log')
        self.nspawn = None
        self.leader = None
        self.pidns = None

    # ---- set-up ----

    def mount(self):
        # The writable layer on a tmpfs of its own: any file system can
        # hold the lower layers, not every one an upper (overlayfs cannot).
        rw = os.path.join(self.workdir, 'rw')
        os.makedirs(self.merged)
        os.makedirs(rw)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=2g', 'md-nspawn-rw', rw], check=True)
        work = os.path.join(rw, 'work')
        os.makedirs(self.upper)
        os.makedirs(work)
        # The overlay's / takes the upper layer's owner and mode.
        st = os.stat(self.lower_root)
        os.chmod(self.upper, st.st_mode & 0o7777)
        subprocess.run(['mount', '-t', 'overlay', 'md-nspawn', '-o',
                        'lowerdir=%s:%s,upperdir=%s,workdir=%s' % (self.stage, self.lower_root, self.upper, work),
                        self.merged], check=True)

    def boot(self, deadline):
        argv = ['systemd-nspawn', '--boot', '--register=no', '--keep-unit', '--quiet',
                '--directory', self.merged, '--machine', self.name,
                '--private-network', '--link-journal=no', '--resolv-conf=off', '--timezone=off',
                '--console=read-only', '--kill-signal=SIGRTMIN+4']
        if self.kvm:
            # A device node bound in is added to the container's device
            # allow-list; the service's own DeviceAllow=/dev/kvm does the rest.
            argv.append('--bind=/dev/kvm')
        self.log('booting:', ' '.join(argv))
        console = open(self.console_log, 'wb')
        self.nspawn = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        console.close()
        self.leader = wait_until(self._find_leader, deadline, "the container's PID 1")
        self.pidns = _ns(self.leader)
        self.log('container PID 1 is host pid %d (nspawn %d)' % (self.leader, self.nspawn.pid))
        # systemctl needs PID 1's private socket; is-system-running --wait
        # does the rest of the waiting.
        wait_until(lambda: self._alive() and os.path.exists(self.path('/run/systemd/private')), deadline,
                   "the container's systemd to listen on /run/systemd/private")

    def _alive(self):
        if self.nspawn.poll() is not None:
            raise AssertionError('systemd-nspawn exited with status %d; console:\n%s'
                                 % (self.nspawn.returncode, self.console()))
        return True

    def _find_leader(self):
        self._alive()
        mine = _ns(os.getpid())
        for name in os.listdir('/proc'):
            if name.isdigit() and _ppid(int(name)) == self.nspawn.pid:
                pid = int(name)
                # The outer child shares our pid namespace; PID 1 does not.
                if _ns(pid) not in (None, mine) and comm(pid) == 'systemd':
                    return pid
        return None

    def console(self):
        try:
            with open(self.console_log, 'rb') as f:
                return f.read().decode(errors='replace')[-6000:]
        except OSError:
            return ''

    # ---- inside ----

    def argv(self, argv, net_only=False):
        if net_only:
            # Only the network namespace: a host program on the container's loopback.
            return ['nsenter', '--target', str(self.leader), '--net', '--'] + list(argv)
        return ['nsenter', '--target', str(self.leader), '--mount', '--uts', '--ipc', '--net', '--pid',
                '--cgroup', '--root', '--wd', '--',
                '/usr/bin/env', '-i', 'PATH=' + CONTAINER_PATH, 'LANG=C.UTF-8', 'SYSTEMD_COLORS=0',
                'SYSTEMD_PAGER=', 'SYSTEMD_LOG_COLOR=0', 'TERM=dumb'] + list(argv)

    def run(self, *argv, check=True, timeout=120, net_only=False, input=None):
        """Runs @argv in the container; returns the CompletedProcess (text)."""
        proc = subprocess.run(self.argv(argv, net_only), input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError('in the container, %r failed with status %d:\n%s%s'
                                 % (list(argv), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def sh(self, script, **kw):
        return self.run('/bin/sh', '-c', script, **kw)

    def path(self, inside):
        """A path of the container's file system as the host reaches it."""
        return '/proc/%d/root/%s' % (self.leader, inside.lstrip('/'))

    def unit_state(self, unit):
        return self.run('systemctl', 'is-active', unit, check=False).stdout.strip()

    def unit_props(self, unit, *names):
        out = self.run('systemctl', 'show', unit, '--property=' + ','.join(names)).stdout
        return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)

    def processes(self):
        """{host pid: comm} of everything running in the container."""
        return {pid: comm(pid) for pid in pids_in_pidns(self.pidns)}

    # ---- tear-down ----

    def shutdown(self, deadline):
        """Powers the container off (SIGKILL if it will not), unmounts the
        overlay; returns a list of what was left over (empty: clean)."""
        problems = []
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.leader:
                # SIGRTMIN+4 to systemd: an orderly poweroff.
                try:
                    os.kill(self.leader, signal.SIGRTMIN + 4)
                except ProcessLookupError:
                    pass
            try:
                self.nspawn.wait(deadline)
            except subprocess.TimeoutExpired:
                problems.append('the container did not power off within %.0f s; killed' % deadline)
                if self.leader:
                    # PID 1 dying takes every process of its namespace along.
                    try:
                        os.kill(self.leader, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    self.nspawn.wait(30)
                except subprocess.TimeoutExpired:
                    self.nspawn.kill()
                    self.nspawn.wait()
            self.log('systemd-nspawn exited with status %d' % self.nspawn.returncode)
        if self.pidns is not None:
            try:
                wait_until(lambda: not pids_in_pidns(self.pidns), 30, "the container's processes to go")
            except WaitTimeout:
                left = {p: comm(p) for p in pids_in_pidns(self.pidns)}
                problems.append('processes left in the container: %r' % left)
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self.nspawn is not None and self.nspawn.poll() is None:
            problems.append('systemd-nspawn %d still runs' % self.nspawn.pid)
        # Newest first: the overlay before the tmpfs that holds its upper layer.
        for m in reversed(mounts_under(self.workdir)):
            if subprocess.run(['umount', m], stderr=subprocess.PIPE).returncode != 0:
                subprocess.run(['umount', '--lazy', m])
                problems.append('%s could only be unmounted lazily' % m)
        left = mounts_under(self.workdir) + mounts_under(self.lower_root)
        if left:
            problems.append('mounts left: %r' % left)
        return problems
