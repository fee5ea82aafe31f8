#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The tests' choice of accelerator, checked without KVM.

The integration tests, the benches and nspawn/real-systemd run their guests
under KVM when /dev/kvm really works (harness.kvm_usable(): it opens
read-write, answers KVM_GET_API_VERSION with 12 and creates a VM), TCG
otherwise, MD_ACCEL=kvm|qemu forcing either. A device that only opens is
not KVM: the daemon (qemu_kvm_usable()) would refuse type='kvm' guests.
This machine may have no /dev/kvm, so the probe is pointed at devices that
open but are no KVM, and nspawn/real-systemd's choice is checked to follow
the harness's.

    check-kvm-detection.py

Exits 1 naming the first wrong answer."""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(os.path.dirname(HERE), 'integration'))
sys.path.append(os.path.join(HERE, 'nspawn'))

import harness  # noqa: E402
import harness_base  # noqa: E402
import test_real_systemd as nspawn  # noqa: E402


def check(what, got, expected):
    if got != expected:
        print('FAIL: %s: %r, expected %r' % (what, got, expected))
        sys.exit(1)
    print('ok: %s: %r' % (what, got))


def main():
    # Opens read-write but is no KVM: KVM_GET_API_VERSION fails (ENOTTY).
    check('/dev/null as the KVM device', harness.kvm_device_works('/dev/null'), False)
    check('a missing device', harness.kvm_device_works('/nonexistent/kvm'), False)
    with tempfile.NamedTemporaryFile() as f:
        check('a regular file', harness.kvm_device_works(f.name), False)

    os.environ.pop('MD_ACCEL', None)
    # The probe's state lives in harness_base (harness re-exports its functions).
    harness_base.KVM_DEVICE = '/dev/null'
    harness_base._kvm_usable = None
    check('harness.kvm_usable() with /dev/null', harness.kvm_usable(), False)
    check('harness.domain_type() with /dev/null', harness.domain_type(), 'qemu')

    # nspawn/real-systemd takes the harness's answer, whatever /dev/kvm here is.
    for usable, forced, expected in ((True, None, 'kvm'), (False, None, 'qemu'),
                                     (True, 'qemu', 'qemu'), (False, 'kvm', 'kvm')):
        harness_base._kvm_usable = usable
        if forced:
            os.environ['MD_ACCEL'] = forced
        else:
            os.environ.pop('MD_ACCEL', None)
        check('nspawn guest type (KVM works: %s, MD_ACCEL %s)' % (usable, forced),
              nspawn.guest_virt_type(), expected)
    return 0


if __name__ == '__main__':
    sys.exit(main())
