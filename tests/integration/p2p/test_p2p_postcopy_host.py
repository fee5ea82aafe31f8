#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer-to-peer POSTCOPY into host B whose migrationd has no capabilities
(as the unit runs it; ../capless.py) while vm.unprivileged_userfaultfd is
0: MigrateToURI3 fails with B's Error.Unsupported and its message naming the
fix, A's job ends failed, the guest runs on at A, B has nothing of it, and a
plain peer-to-peer migration to B then succeeds."""

import p2ptest
from p2ptest import P2PTestCase, LIVE, PEER2PEER, recorder, snapshot_before
import capless
import migtest


class P2PPostcopyHost(P2PTestCase):

    def setUp(self):
        capless.keep_sysctl_zero(self)
        super().setUp()

    def make_host(self, name='host', bus=None, start=True, **kw):
        if name != 'b':
            return super().make_host(name, bus=bus, start=start, **kw)
        return capless.make_host(self, name, bus, **kw)

    def test_refused(self):
        """A -> B with PEER2PEER|POSTCOPY: Unsupported from B's Prepare; then A -> B without POSTCOPY."""
        a, b = self.a, self.b
        self.bridge(b)
        g = self.guest(a, profile='light')
        _, pid = snapshot_before(g)
        with recorder(a, g.path) as rec:
            pending, _ = self.migrate_start(g, a, b, flags=LIVE | PEER2PEER | migtest.POSTCOPY)
            self.assertMigrateError(pending, 'Unsupported', *capless.refusal_parts(g.name))
            self.assertJobFailed(rec)
        self.assertStaysHere(g, a, pid, ' after the refused Prepare')
        self.assertNothingThere(g, b, ' after the refused Prepare')
        self.migrate_moved(g, a, b)
        g.destroy()


if __name__ == '__main__':
    p2ptest.main()
