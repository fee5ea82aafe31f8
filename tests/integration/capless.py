# SPDX-License-Identifier: LGPL-2.1-or-later
"""A migrationd without capabilities, as the unit runs it (its QEMUs then
have none either), for the tests of POSTCOPY into such a host; and
vm.unprivileged_userfaultfd held at its default, 0, for a test's duration."""

import os

import harness

SYSCTL = '/proc/sys/vm/unprivileged_userfaultfd'
NO_CAPS = ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all']
# /dev/userfaultfd out of the daemon's reach, as DevicePolicy=closed puts it:
# /dev/null bound over it in a mount namespace of its own. unshare and sh
# exec: the daemon keeps the pid the harness waits on.
HIDE_DEVICE = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
               '[ ! -e /dev/userfaultfd ] || mount --bind /dev/null /dev/userfaultfd || exit 1; exec "$@"', 'sh']


class CaplessHost(harness.Host):
    """A Host whose migrationd runs through @wrapper (argv that execs the
    rest): without capabilities, and with @hide_device without
    /dev/userfaultfd."""

    def __init__(self, *args, hide_device=False, **kw):
        super().__init__(*args, **kw)
        if hide_device and os.geteuid() != 0:
            harness.skip_everything('hiding /dev/userfaultfd from the daemon (a mount namespace) needs root')
        self.wrapper = (HIDE_DEVICE if hide_device else []) + NO_CAPS

    def in_netns(self, argv):
        # The daemon only: a bridge for this host (bridgetest) keeps its own setpriv.
        wrapper = self.wrapper if argv and argv[0] == harness.MIGRATIOND else []
        return wrapper + super().in_netns(argv)


def make_host(tc, name, bus, hide_device=False, **kw):
    """tc.make_host() for a CaplessHost; checks that it has no capability."""
    host = CaplessHost(bus, tc.workdir, name, hide_device=hide_device, **kw)
    tc.hosts.append(host)
    tc.addCleanup(host.teardown)
    host.start()
    tc.assertEqual(capabilities(host.proc.pid), (0, 0), 'migrationd (%s) kept capabilities' % name)
    return host


def capabilities(pid):
    """CapEff and CapBnd of @pid, as integers."""
    with open('/proc/%d/status' % pid) as f:
        fields = dict(line.split(':', 1) for line in f if ':' in line)
    return int(fields['CapEff'], 16), int(fields['CapBnd'], 16)


def keep_sysctl_zero(tc):
    """vm.unprivileged_userfaultfd is 0 until @tc's clean-up (set and
    restored if it was not); exits 77 loudly if it cannot be."""
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
    tc.addCleanup(restore)
    harness.log('%s was %s: 0 for this test' % (SYSCTL, old))


# The refusal's words (Error.Unsupported).
def refusal_parts(name):
    return ("Cannot migrate '%s' with POSTCOPY into this host" % name, 'vm.unprivileged_userfaultfd=1',
            'CAP_SYS_PTRACE', 'Post-copy under the unit')
