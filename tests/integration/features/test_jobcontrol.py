#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Job control at the edges of Perform3 that the feature tests ran into."""

import time

import feattest
from feattest import (FeatureTestCase, FGuest, LIVE, Mig, Pending, recorder, assert_runs_here, wait_until,
                      pid_alive, log, DEADLINE, SIGNAL_DEADLINE)
import harness

# Far shorter than a whole phase: an aborted stream ends within seconds.
ABORT_DEADLINE = 60.0 * feattest.TIMEOUT_FACTOR


class JobControl(FeatureTestCase):

    def test_abort_at_perform_start(self):
        """AbortJob sent right behind Perform3Params (before QEMU has started the
        stream): Perform3 must end with MigrationAborted, not stream on."""
        g = FGuest(self, self.src)
        boot, pid = g.snapshot()
        self.slow_down(g)                 # the stream cannot converge by itself
        m = Mig(self, g, self.src, self.dst)
        m.begin()
        m.prepare()
        dst_pid = g.qemu_pid_with(m.dst_serial)
        with recorder(self.src, g.path) as rec:
            m.perform_start()
            abort = Pending(self.src.connect(), g.path, harness.DOMAIN_IFACE, 'AbortJob', 'u', (0,))
            abort.wait(SIGNAL_DEADLINE)
            t0 = time.monotonic()
            try:
                wait_until(lambda: m.pending.done, ABORT_DEADLINE, 'Perform3 to end after AbortJob')
            except feattest.WaitTimeout:
                stats = feattest.job_stats(self.src, g.path, 0)[1]
                self.fail('AbortJob replied success, but %.0f s later the stream still runs (phase %r, '
                          'memory_processed %r): an abort that arrives before QEMU\'s migrate command is lost'
                          % (time.monotonic() - t0, stats.get('phase'), stats.get('memory_processed')))
            finally:
                if not m.pending.done:
                    # Clean up: a second AbortJob reaches the running stream.
                    feattest.dcall(self.src, g.path, 'AbortJob', 'u', (0,))
                    wait_until(lambda: m.pending.done, SIGNAL_DEADLINE, 'Perform3 to end after a second AbortJob')
                    self.speed_up(g)
            with self.assertDBusError('MigrationAborted'):
                m.perform_wait()
            m.cancel()
        wait_until(lambda: not pid_alive(dst_pid), DEADLINE, 'the incoming QEMU to go')
        self.speed_up(g)
        assert_runs_here(self, g, self.src, pid, ' after the abort')
        g.destroy()


if __name__ == '__main__':
    feattest.main()
