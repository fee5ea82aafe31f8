#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fault matrix: each of five faults at each of the five phases of a
managed live migration, one test case each (meson: faults/PHASE-FAULT).
Where each fault hits and what every case asserts: faulttest.py."""

import faulttest


class FaultMatrix(faulttest.FaultMatrixCase):

    def test_begin_kill_source_qemu(self):
        """Kill -9 of the source QEMU after Begin3 returned, before Prepare3."""
        self.run_case('begin', 'kill-source-qemu')

    def test_begin_kill_destination_qemu(self):
        """Kill -9 of the destination QEMU after Begin3 returned, before Prepare3."""
        self.run_case('begin', 'kill-destination-qemu')

    def test_begin_restart_source_daemon(self):
        """The source daemon killed with -9 and restarted after Begin3 returned, before Prepare3."""
        self.run_case('begin', 'restart-source-daemon')

    def test_begin_restart_destination_daemon(self):
        """The destination daemon killed with -9 and restarted after Begin3 returned, before Prepare3."""
        self.run_case('begin', 'restart-destination-daemon')

    def test_begin_client_vanishes(self):
        """The driving client killed with -9 after Begin3 returned, before Prepare3."""
        self.run_case('begin', 'client-vanishes')

    def test_prepare_kill_source_qemu(self):
        """Kill -9 of the source QEMU after Prepare3 returned, before Perform3."""
        self.run_case('prepare', 'kill-source-qemu')

    def test_prepare_kill_destination_qemu(self):
        """Kill -9 of the destination QEMU after Prepare3 returned, before Perform3."""
        self.run_case('prepare', 'kill-destination-qemu')

    def test_prepare_restart_source_daemon(self):
        """The source daemon killed with -9 and restarted after Prepare3 returned, before Perform3."""
        self.run_case('prepare', 'restart-source-daemon')

    def test_prepare_restart_destination_daemon(self):
        """The destination daemon killed with -9 and restarted after Prepare3 returned, before Perform3."""
        self.run_case('prepare', 'restart-destination-daemon')

    def test_prepare_client_vanishes(self):
        """The driving client killed with -9 after Prepare3 returned, before Perform3."""
        self.run_case('prepare', 'client-vanishes')

    def test_perform_kill_source_qemu(self):
        """Kill -9 of the source QEMU mid-stream in Perform3."""
        self.run_case('perform', 'kill-source-qemu')

    def test_perform_kill_destination_qemu(self):
        """Kill -9 of the destination QEMU mid-stream in Perform3."""
        self.run_case('perform', 'kill-destination-qemu')

    def test_perform_restart_source_daemon(self):
        """The source daemon killed with -9 and restarted mid-stream in Perform3."""
        self.run_case('perform', 'restart-source-daemon')

    def test_perform_restart_destination_daemon(self):
        """The destination daemon killed with -9 and restarted mid-stream in Perform3."""
        self.run_case('perform', 'restart-destination-daemon')

    def test_perform_client_vanishes(self):
        """The driving client killed with -9 mid-stream in Perform3."""
        self.run_case('perform', 'client-vanishes')

    def test_finish_kill_source_qemu(self):
        """Kill -9 of the source QEMU after Finish3 returned, before Confirm3."""
        self.run_case('finish', 'kill-source-qemu')

    def test_finish_kill_destination_qemu(self):
        """Kill -9 of the destination QEMU after Finish3 returned, before Confirm3."""
        self.run_case('finish', 'kill-destination-qemu')

    def test_finish_restart_source_daemon(self):
        """The source daemon killed with -9 and restarted after Finish3 returned, before Confirm3."""
        self.run_case('finish', 'restart-source-daemon')

    def test_finish_restart_destination_daemon(self):
        """The destination daemon killed with -9 and restarted after Finish3 returned, before Confirm3."""
        self.run_case('finish', 'restart-destination-daemon')

    def test_finish_client_vanishes(self):
        """The driving client killed with -9 after Finish3 returned, before Confirm3."""
        self.run_case('finish', 'client-vanishes')

    def test_confirm_kill_source_qemu(self):
        """Kill -9 of the source QEMU after Confirm3 returned."""
        self.run_case('confirm', 'kill-source-qemu')

    def test_confirm_kill_destination_qemu(self):
        """Kill -9 of the destination QEMU after Confirm3 returned."""
        self.run_case('confirm', 'kill-destination-qemu')

    def test_confirm_restart_source_daemon(self):
        """The source daemon killed with -9 and restarted after Confirm3 returned."""
        self.run_case('confirm', 'restart-source-daemon')

    def test_confirm_restart_destination_daemon(self):
        """The destination daemon killed with -9 and restarted after Confirm3 returned."""
        self.run_case('confirm', 'restart-destination-daemon')

    def test_confirm_client_vanishes(self):
        """The driving client killed with -9 after Confirm3 returned."""
        self.run_case('confirm', 'client-vanishes')


if __name__ == '__main__':
    faulttest.main()
