#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""harness.check_arrival, the guest's own proof of a migration that every
path moving a guest uses (the migration, feature and p2p tests, the demo,
bench/overhead, bench/soak), on consoles written here: it must refuse what
the demo once called a success (the source stopped at counter 29, the
destination went on with counter 28) and every other way a guest can
arrive damaged, and accept the line split at the switch-over."""

import os
import shutil
import tempfile
import unittest

import harness

BOOT = '0x0b4db91d'


def counters(first, n, passes=(0, 3), boot=BOOT):
    """`counter N pass=P boot=B` lines from @first, the pass rising by
    passes[1] a line from passes[0]."""
    return ''.join('counter %d pass=%d boot=%s\n' % (first + i, passes[0] + i * passes[1], boot)
                   for i in range(n))


class Arrival(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='md-arrival-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.source = counters(1, 29)      # the source stopped at counter 29

    def check(self, source, destination, **kw):
        paths = []
        for name, text in (('source', source), ('destination', destination)):
            paths.append(os.path.join(self.dir, name + '.log'))
            with open(paths[-1], 'w') as f:
                f.write(text)
        kw.setdefault('timeout', 2)
        return harness.check_arrival(*paths, **kw)

    def assertRefused(self, destination, source=None, first=None, *parts):
        with self.assertRaises(harness.ArrivalFailed) as cm:
            self.check(self.source if source is None else source, destination)
        e = cm.exception
        self.assertEqual((e.source_last, e.destination_first), (29, first))
        for part in ('the source stopped at counter 29', 'the destination went on with counter %s' % first) + parts:
            self.assertIn(part, str(e))

    def test_goes_on(self):
        """Counter 30 after 29, same boot, two passes checked: verified; also
        with the line in flight split between the two consoles."""
        self.assertEqual(self.check(self.source, counters(30, 5, (90, 1))), (29, 30))
        self.assertEqual(self.check(self.source + 'counter 3', '0 pass=90 boot=%s\n' % BOOT
                                    + counters(31, 4, (91, 1))), (29, 30))

    def test_counter_back(self):
        """The demo's run: 28 after 29, also when the line is split."""
        self.assertRefused(counters(28, 5, (90, 1)), None, 28, 'went back')
        self.assertRefused('8 pass=90 boot=%s\n' % BOOT + counters(29, 4, (91, 1)),
                           self.source + 'counter 2', 28, 'went back')

    def test_counter_skipped(self):
        self.assertRefused(counters(31, 5, (90, 1)), None, 31, 'skipped 1')
        self.assertRefused(counters(30, 2, (90, 1)) + counters(33, 3, (92, 1)), None, 30, 'by one')

    def test_memory_corrupt(self):
        """MEMORY CORRUPT on either side, as soon as the guest says it."""
        corrupt = 'MEMORY CORRUPT page=7 expected=0x00000001 got=0x00000002\n'
        self.assertRefused(counters(30, 1, (90, 0)) + corrupt + counters(31, 2, (90, 0)), None, 30,
                           'corruption on the destination', 'page=7')
        self.assertRefused(counters(30, 5, (90, 1)), self.source + corrupt, 30, 'corruption on the source')

    def test_another_boot(self):
        self.assertRefused('guest: dirty=4096 boot=0x00000005\n' + counters(1, 5, (0, 1), '0x00000005'),
                           None, 1, 'booted again')
        self.assertRefused(counters(30, 5, (90, 1), '0x00000005'), None, 30, 'another boot')

    def test_waits_for_the_whole_area(self):
        """No verdict before the guest has checked its whole dirty area on
        the destination (two more completed passes than its first line
        there): then a page lost in the move would still be unchecked."""
        self.assertRefused(counters(30, 5, (90, 0)) + counters(35, 1, (91, 0)), None, 30, 'whole dirty area')
        self.assertEqual(self.check(self.source, counters(30, 5, (90, 0)) + counters(35, 1, (92, 0))), (29, 30))
        # An idle guest (dirty=0) has no area: the counter is the proof.
        self.assertEqual(self.check(self.source, counters(30, 2, (0, 0)), dirty=False), (29, 30))


if __name__ == '__main__':
    harness.main(need_daemon=False)
