#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Processes for the harness: children that die with the test
(_set_pdeathsig), /proc lookups (proc_cmdline, pid_alive, find_qemu_pids),
kill_and_reap, stop_process, and PortBlock, the TCP ports reserved for one host among all
tests running at once."""

import contextlib
import ctypes
import fcntl
import os
import signal
import subprocess
import tempfile

from harness_base import WaitTimeout, wait_until


def _set_pdeathsig():
    # Children die with the test process (even on SIGKILL), so that nothing of
    # a killed test survives. Not used for QEMU, which the daemon starts.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def stop_process(proc, timeout=30):
    """SIGTERM to a child still running, SIGKILL if it has not exited after
    @timeout s; reaped either way. Returns its status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def proc_cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
    except OSError:
        return None


def pid_alive(pid):
    """True if @pid exists and is not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] != 'Z'


def find_qemu_pids(needle):
    """PIDs of QEMU processes whose command line contains @needle (a domain
    UUID: the harness puts it in the serial log path too)."""
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        pid = int(entry)
        argv = proc_cmdline(pid)
        if not argv or 'qemu-system' not in os.path.basename(argv[0]):
            continue
        if any(needle in a for a in argv) and pid_alive(pid):
            pids.append(pid)
    return sorted(pids)


def kill_and_reap(pid, sig=signal.SIGKILL, timeout=30):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    with contextlib.suppress(WaitTimeout):
        wait_until(lambda: not pid_alive(pid), timeout, 'pid %d to exit' % pid)


class PortBlock:
    """A block of TCP ports reserved for one host among all concurrently
    running tests (a lock file per block; free ports at reservation time)."""

    LOCK_DIR = os.path.join(tempfile.gettempdir(), 'migrationd-test-ports')
    FIRST, LAST, SIZE = 40000, 47999, 16

    def __init__(self):
        os.makedirs(self.LOCK_DIR, exist_ok=True)
        nblocks = (self.LAST - self.FIRST + 1) // self.SIZE
        start = (os.getpid() * 7) % nblocks
        for i in range(nblocks):
            base = self.FIRST + ((start + i) % nblocks) * self.SIZE
            fd = os.open(os.path.join(self.LOCK_DIR, '%d.lock' % base), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if self._all_free(base):
                self.fd, self.port_min, self.port_max = fd, base, base + self.SIZE - 1
                return
            os.close(fd)
        raise RuntimeError('no free block of %d TCP ports in %d-%d' % (self.SIZE, self.FIRST, self.LAST))

    def _all_free(self, base):
        import socket
        for port in range(base, base + self.SIZE):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                return False
            finally:
                s.close()
        return True

    def release(self):
        if getattr(self, 'fd', None) is not None:
            os.close(self.fd)
            self.fd = None
