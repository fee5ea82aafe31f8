#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""POSTCOPY into a host whose migrationd has no capabilities (as the unit
runs it) while vm.unprivileged_userfaultfd is 0: QEMU 7.2 there cannot get
the userfaultfd post-copy needs. Prepare3 fails with Error.Unsupported
naming the fix, the guest runs on at the source, nothing is left at the
destination, and a plain live migration to the same daemon then succeeds.

The destination daemon is started through setpriv without any capability
(../capless.py). Two cases: /dev/userfaultfd usable by the daemon (root owns
it: no capability needed), where QEMU 7.2, which never opens it, refuses
postcopy-ram and Prepare names the cause; and /dev/userfaultfd out of its
reach (as DevicePolicy=closed puts it), where Prepare refuses before any
QEMU is launched."""

import os

import feattest
from feattest import FeatureTestCase, FGuest, LIVE, POSTCOPY, Mig, assert_runs_here, wait_until, log, DEADLINE
import harness
import capless


class PostcopyHost(FeatureTestCase):

    def setUp(self):
        harness.MigrationdTestCase.setUp(self)
        capless.keep_sysctl_zero(self)
        self.src = feattest.make_host(self, 'source')

    def refused_then_plain(self, hide_device):
        self.dst = capless.make_host(self, 'destination', self.make_bus('destination-bus', external_ok=False),
                                     hide_device=hide_device,
                                     config_extra={'migration': {'address': '127.0.0.1'}})
        g = FGuest(self, self.src, memory_mib=64)
        _, pid = g.snapshot()
        launches = len(os.listdir(self.dst.log_dir))
        m = Mig(self, g, self.src, self.dst, flags=LIVE | POSTCOPY)
        m.begin()
        with self.assertDBusError('Unsupported', *capless.refusal_parts(g.name)) as ctx:
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
