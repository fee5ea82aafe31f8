#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An unknown outcome is never success (issue 10, hole 8): when the final
query-migrate after the stream fails, Perform fails (MigrationFailed, "outcome
is unknown") instead of reporting a completed migration; under Perform2 the
source QEMU is not killed, and the failure rules keep the guest on the source.

The source's QEMU runs behind qmp_fault_qemu.py, which answers every
query-migrate after QEMU's MIGRATION "completed" event with a QMP error."""

import os
import sys

import feattest
from feattest import (FeatureTestCase, FGuest, LIVE, Mig, assert_runs_here, wait_until, pid_alive, log,
                      DEADLINE)
import harness
from test_protocol2 import V2

HERE = os.path.dirname(os.path.abspath(__file__))


class UnknownOutcome(FeatureTestCase):

    def setUp(self):
        harness.MigrationdTestCase.setUp(self)
        wrapper = os.path.join(self.workdir, 'qmp-fault-wrapper')
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\nexec %s %s %s "$@"\n' % (sys.executable, os.path.join(HERE, 'qmp_fault_qemu.py'),
                                                         harness.QEMU_BINARY))
        os.chmod(wrapper, 0o755)
        self.src = feattest.make_host(self, 'source', {'qemu': {'binary': wrapper}})
        self.dst = feattest.make_host(self, 'destination')

    def test_perform2(self):
        """Perform2 whose final query-migrate fails: MigrationFailed naming the
        unknown outcome, the source QEMU lives and the guest runs on there;
        Finish2(retcode 1) throws the incoming guest away."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        v = V2(self, g, self.src, self.dst)
        v.prepare()
        dst_pid = g.qemu_pid_with(v.dst_serial)
        v.perform_start()
        with self.assertDBusError('MigrationFailed', 'outcome', 'unknown', 'query-migrate'):
            v.perform_wait()
        self.assertTrue(pid_alive(pid), 'Perform2 killed the source QEMU although the outcome is unknown')
        self.assertEqual(v.finish(1), '/')
        wait_until(lambda: dst_pid is None or not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to exit')
        assert_runs_here(self, g, self.src, pid, ' after the failed Perform2')
        kind, stats = feattest.job_stats(self.src, g.path, 1)
        log('last job of the source: %s %r' % (kind, stats.get('errmsg')))
        self.assertEqual(kind, 'failed')
        g.destroy()

    def test_perform3(self):
        """Perform3 whose final query-migrate fails: MigrationFailed, not a cookie
        for Finish3; the client's failure rules (Finish3 and Confirm3 cancelled)
        keep the guest on the source."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        m = Mig(self, g, self.src, self.dst, flags=LIVE)
        m.begin()
        m.prepare()
        m.perform_start()
        with self.assertDBusError('MigrationFailed', 'outcome', 'unknown'):
            m.perform_wait()
        self.assertEqual(g.dom(self.src).prop('JobPhase'), 'perform3')
        m.cancel()
        self.assertTrue(pid_alive(pid), 'the source QEMU was killed')
        assert_runs_here(self, g, self.src, pid, ' after the failed Perform3')
        g.destroy()


if __name__ == '__main__':
    feattest.main()
