#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""harness.main()'s exit status, the one meson reads.

harness.skip_everything() skips a test whose system dependency is absent,
loudly, with meson's "skipped" (77). Called from a test's setUp, setUpClass
or body, a plain sys.exit(77) reached unittest as SystemExit, which it
reports as an error: exit 1, a failure for a missing dependency. Each case
here is a small test module run through harness.main() in a child python.

    check-harness-skip.py

Exits 1 naming the first wrong status."""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), 'integration')

MODULE = '''
import sys
sys.path.insert(0, %(integration)r)
import unittest
import harness


class Case(unittest.TestCase):
%(body)s


if __name__ == '__main__':
    harness.main(need_daemon=False)
'''

CASES = (
    ('skip_everything() in setUp', 77,
     '    def setUp(self):\n        harness.skip_everything("no such tool")\n\n'
     '    def test_it(self):\n        pass\n'),
    ('skip_everything() in setUpClass', 77,
     '    @classmethod\n    def setUpClass(cls):\n        harness.skip_everything("no such tool")\n\n'
     '    def test_it(self):\n        pass\n'),
    ('skip_everything() in the test', 77,
     '    def test_it(self):\n        harness.skip_everything("no such tool")\n'),
    ('a test that passes', 0,
     '    def test_it(self):\n        self.assertTrue(True)\n'),
    ('a test that fails', 1,
     '    def test_it(self):\n        self.fail("on purpose")\n'),
    ('a test that fails after another skipped everything', 1,
     '    def test_a(self):\n        harness.skip_everything("no such tool")\n\n'
     '    def test_b(self):\n        self.fail("on purpose")\n'),
    ('self.skipTest() (not a missing dependency): as unittest says', 0,
     '    def test_it(self):\n        self.skipTest("does not apply here")\n'),
)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for what, expected, body in CASES:
            path = os.path.join(tmp, 'test_case.py')
            with open(path, 'w') as f:
                f.write(MODULE % {'integration': INTEGRATION, 'body': body})
            run = subprocess.run([sys.executable, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, timeout=120)
            if run.returncode != expected:
                print(run.stdout)
                print('FAIL: %s: exit %d, expected %d' % (what, run.returncode, expected))
                return 1
            print('ok: %s: exit %d' % (what, run.returncode))
    return 0


if __name__ == '__main__':
    sys.exit(main())
