#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""POSTCOPY into a host whose migrationd has no capabilities (as the unit
runs it) while vm.unprivileged_userfaultfd is 0: QEMU 7.2 there cannot get
the userfaultfd post-copy needs. Prepare3 fails with Error.Unsupported
naming the fix, the guest runs on at the source, nothing is left at the
destination, and a plain live migration to the same daemon then succeeds.

The destination daemon is started through setpriv without any capability
(bounding, inheritable, ambient), so its QEMUs have none either. Two cases:
/dev/userfaultfd usable by the daemon (root owns it: no capability needed),
where QEMU 7.2, which never opens it, refuses postcopy-ram and Prepare
names the cause; and /dev/userfaultfd out of its reach (a /dev/null bound
over it in the daemon's mount namespace, as DevicePolicy=closed does),
where Prepare refuses before any QEMU is launched."""

import os

import feattest
from feattest import (FeatureTestCase, FGuest, LIVE, POSTCOPY, Mig, assert_runs_here, wait_until, log,
                      DEADLINE)
import harness

SYSCTL = '/proc/sys/vm/unprivileged_userfaultfd'
NO_CAPS = ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all']
# unshare and sh exec: the daemon keeps the pid the harness waits on.
HIDE_DEVICE = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
               '[ ! -e /dev/userfaultfd ] || mount --bind /dev/null /dev/userfaultfd || exit 1; exec "$@"', 'sh']


class CaplessHost(harness.Host):
    """A Host whose migrationd runs through @wrapper (a list of argv that
    exec the rest)."""

    wrapper = NO_CAPS

    def in_netns(self, argv):
        return self.wrapper + super().in_netns(argv)


def capabilities(pid):
    """CapEff and CapBnd of @pid, as integers."""
    with open('/proc/%d/status' % pid) as f:
        fields = dict(line.split(':', 1) for line in f if ':' in line)
    return int(fields['CapEff'], 16), int(fields['CapBnd'], 16)


class PostcopyHost(FeatureTestCase):

    def setUp(self):
        harness.MigrationdTestCase.setUp(self)
        self.keep_sysctl_zero()
        self.src = feattest.make_host(self, 'source')

    def keep_sysctl_zero(self):
        try:
            with open(SYSCTL) as f:
                old = f.read().strip()
        except OSError as e:
            harness.skip_everything('cannot read %s: %s' % (SYSCTL, e))
        if old == '0':
            return
        try:
            with open(SYSCTL, 'w') as f:
                f.write('0\n')
        except OSError as e:
            harness.skip_everything('%s is %s and cannot be set to 0 for the test: %s' % (SYSCTL, old, e))

        def restore():
            with open(SYSCTL, 'w') as f:
                f.write(old + '\n')
        self.addCleanup(restore)
        log('%s was %s: 0 for this test' % (SYSCTL, old))

    def capless_destination(self, hide_device):
        bus = self.make_bus('destination-bus', external_ok=False)
        host = CaplessHost(bus, self.workdir, 'destination',
                           config_extra={'migration': {'address': '127.0.0.1'}})
        if hide_device:
            if os.geteuid() != 0:
                harness.skip_everything('hiding /dev/userfaultfd from the daemon (a mount namespace) needs root')
            host.wrapper = HIDE_DEVICE + NO_CAPS
        self.hosts.append(host)
        self.addCleanup(host.teardown)
        host.start()
        self.assertEqual(capabilities(host.proc.pid), (0, 0), 'the destination daemon kept capabilities')
        return host

    def refused_then_plain(self, hide_device):
        self.dst = self.capless_destination(hide_device)
        g = FGuest(self, self.src, memory_mib=64)
        _, pid = g.snapshot()
        launches = len(os.listdir(self.dst.log_dir))
        m = Mig(self, g, self.src, self.dst, flags=LIVE | POSTCOPY)
        m.begin()
        with self.assertDBusError('Unsupported', "Cannot migrate '%s' with POSTCOPY into this host" % g.name,
                                  'vm.unprivileged_userfaultfd=1', 'CAP_SYS_PTRACE',
                                  'Post-copy under the unit') as ctx:
            m.prepare()
        log('Prepare3Params refused as expected: %s: %s' % (ctx.name, ctx.message))
        m.confirm(cancelled=True)
        wait_until(lambda: g.qemu_pid_with(m.dst_serial) is None, DEADLINE, 'no QEMU of the guest at the destination')
        assert_runs_here(self, g, self.src, pid, ' after the refused Prepare')
        self.assertEqual(self.dst.list_domains(), [], 'Prepare left a domain at the destination')
        if hide_device:
            self.assertEqual(len(os.listdir(self.dst.log_dir)), launches, 'a QEMU was launched at the destination')
        self.live_migration(g, self.src, self.dst)
        g.destroy()

    def test_qemu_refuses(self):
        """/dev/userfaultfd usable, QEMU 7.2 asks the system call: Prepare names why QEMU refused."""
        self.refused_then_plain(hide_device=False)

    def test_refused_before_qemu(self):
        """Neither the system call nor /dev/userfaultfd: Prepare refuses before launching QEMU."""
        self.refused_then_plain(hide_device=True)


if __name__ == '__main__':
    feattest.main()
