#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer-to-peer migration and the protocol the two daemons speak: the
negotiation of protocol 2 or 3 from the destination's protocol_versions,
ProtocolMismatch before anything starts, and protocol 2's failure rules
(Finish2 failing, a job of another client)."""

import re

import p2ptest
from p2ptest import (P2PTestCase, LIVE, PEER2PEER, PARALLEL, MIGRATION_DEADLINE, DEADLINE,
                     recorder, members, phases_seen, job_types_seen,
                     snapshot_before, wait_until, holds_for, pid_alive, harness)


class Negotiation(P2PTestCase):

    def protocol_used(self, src, dst, form, members):
        """The source's log names the protocol of its last peer-to-peer
        migration; the destination heard @members from the source's DN."""
        lines = re.findall(r'Peer-to-peer migration to (\S+) with protocol (.*)', self.daemon_log(src))
        self.assertTrue(lines, 'no "Peer-to-peer migration ... with protocol" line in the log of %s' % src.name)
        uri, used = lines[-1]
        self.assertEqual(uri, 'migration+tls://127.0.0.1:%d' % dst.bridge_port)
        self.assertEqual(used.strip(), form)
        dlog = self.daemon_log(dst)
        for m in members:
            self.assertRegex(dlog, r"(?m)\b%s from peer '%s' through migration-bridge" % (m, p2ptest.Pki.DN[src.cert]))

    def daemons_survive(self, what):
        """Both daemons keep running a while after @what (the source
        frees the peer link around its reply)."""
        holds_for(lambda: self.a.running() and self.b.running(), 2.0, 'both daemons running after %s' % what)
        self.a.check_alive()
        self.b.check_alive()

    def test_negotiation(self):
        """protocol_versions on the destination: 3 -> plain protocol 3
        (Prepare3, Finish3), 2 -> protocol 2 (Prepare2, Finish2); a parameter
        that the chosen form cannot carry is ProtocolMismatch naming it,
        before anything starts; no common protocol is ProtocolMismatch."""
        a, b = self.a, self.b
        # Protocol 2, there and back (b's own side accepts 2 only, too).
        self.reconfigure(b, extra={'migration': {'protocol_versions': '2'}})
        self.bridge(a)
        self.bridge(b)
        g = self.guest(a, profile='light')
        self.migrate_moved(g, a, b)
        self.daemons_survive('a protocol-2 migration')
        self.protocol_used(a, b, '2', ['Prepare2', 'Finish2'])
        self.migrate_moved(g, b, a)
        self.daemons_survive('a protocol-2 migration')
        self.protocol_used(b, a, '2', ['Prepare2', 'Finish2'])

        # b accepts plain protocol 3 only.
        self.reconfigure(b, extra={'migration': {'protocol_versions': '3'}})

        # parallel.connections needs the extensible form, which b does not accept.
        self.mismatch(g, "'parallel.connections'", flags=LIVE | PEER2PEER | PARALLEL,
                      params={'parallel.connections': ('i', 2)})

        # Plain protocol 3, there and back (b's own side accepts 3 only, too).
        self.migrate_moved(g, a, b)
        self.protocol_used(a, b, '3', ['Prepare3', 'Finish3'])
        self.migrate_moved(g, b, a)
        self.protocol_used(b, a, '3', ['Prepare3', 'Finish3'])

        # a speaks 3 only, b 2 only.
        self.reconfigure(b, extra={'migration': {'protocol_versions': '2'}})
        self.reconfigure(a, extra={'migration': {'protocol_versions': '3-params,3'}})
        self.mismatch(g, 'share no migration protocol', 'protocol_versions')
        g.destroy()

    def mismatch(self, g, *parts, **kw):
        """MigrateToURI3 from a to b fails with ProtocolMismatch before
        anything starts: no job on a, no call reaches b's daemon."""
        a, b = self.a, self.b
        boot, pid = snapshot_before(g)
        relayed = self.daemon_log(b).count('from peer')
        with recorder(a, g.path) as rec:
            pending, _ = self.migrate_start(g, a, b, **kw)
            self.assertMigrateError(pending, 'ProtocolMismatch', *parts)
            self.daemons_survive('the ProtocolMismatch')
            self.assertEqual(job_types_seen(rec.signals), [], 'a job started on a despite the ProtocolMismatch')
        self.assertStaysHere(g, a, pid, ' after the ProtocolMismatch')
        self.assertNothingThere(g, b, ' after the ProtocolMismatch')
        self.assertEqual(self.daemon_log(b).count('from peer'), relayed, 'a phase reached b despite the ProtocolMismatch')


class Protocol2FinishFails(P2PTestCase):
    # b accepts protocol 2 only.
    b_config = {'migration': {'protocol_versions': '2'}}

    def test_finish2_fails(self):
        """Peer-to-peer with protocol 2; Finish2 fails after a complete
        stream (another process write-locks b's disk image, so b cannot start
        the guest). The source keeps its guest paused until Finish2 answers
        and, with no domain from it, resumes it: the guest runs on at a in
        the same QEMU, memory intact, and keeps its definition despite
        UNDEFINE_SOURCE. b kills its paused copy, as Finish3 would (libvirt's
        rule for a destination whose source still holds the guest): no
        second copy is left that someone could resume. (Before: b kept it
        paused, protocol 2's rule for a source that is gone, next to the
        guest running on at a.)"""
        self.bridge(self.b)
        src_img = p2ptest.migtest.disk_image(self, 'a-disk.img')
        dst_img = p2ptest.migtest.disk_image(self, 'b-disk.img')
        g = self.guest(self.a, profile='light', devices_extra=p2ptest.migtest.disk_xml(src_img))
        boot, src_pid = snapshot_before(g)
        dst_serial = g.next_serial_path()
        dest_xml = g.xml(serial_path=dst_serial).replace(src_img, dst_img)
        p2ptest.migtest.block_image_writes(self, dst_img)
        with recorder(self.a, g.path) as rec, recorder(self.b, g.path) as drec:
            pending, _ = self.migrate_start(g, self.a, self.b, flags=LIVE | PEER2PEER | p2ptest.migtest.UNDEFINE_SOURCE,
                                           params={'destination_xml': ('s', dest_xml)})
            # b's QEMU, if seen before it goes (assertStaysHere counts them all anyway).
            wait_until(lambda: pending.done or len(g.qemu_pids()) > 1, MIGRATION_DEADLINE,
                       'the incoming QEMU to start on b')
            incoming = [p for p in g.qemu_pids() if p != src_pid]
            self.assertMigrateError(pending, 'MigrationFailed', 'Finish', 'lock')
            self.assertJobFailed(rec)
            self.assertIn('lock', members(rec.signals, 'JobCompleted')[0].args[0]['errmsg'])
            self.assertIn('perform3_done', phases_seen(rec.signals))
            # b's incoming job ended failed, saying why; it never succeeded.
            wait_until(lambda: members(drec.signals, 'JobCompleted'), DEADLINE, 'JobCompleted on b')
            dst_done = [m.args[0] for m in members(drec.signals, 'JobCompleted')]
            self.assertEqual([d['success'] for d in dst_done], [False], dst_done)
            self.assertIn('Failed to start the migrated guest', dst_done[0]['errmsg'])
            self.assertNotIn('only copy', dst_done[0]['errmsg'])
        self.assertIn('with protocol 2', self.daemon_log(self.a))
        # b: its paused copy is killed, the transient incoming domain gone; it never ran.
        wait_until(lambda: not any(pid_alive(p) for p in incoming), DEADLINE,
                   "b's incoming QEMU (%r) to be killed after the failed Finish2" % incoming)
        wait_until(lambda: g.path not in self.b.list_domains(0), DEADLINE, 'b to forget the incoming guest')
        self.assertNothingThere(g, self.b, ' after the failed Finish2')
        self.assertIsNone(harness.SerialLog(dst_serial).last_counter(), 'the guest ran on b')
        # a: the guest runs on in the same QEMU, its counter going on, its definition kept.
        dom = g.dom(self.a)
        self.assertStaysHere(g, self.a, src_pid, ' after the failed Finish2')
        before, after = g.serial.wait_advance(3, DEADLINE)
        self.assertGreater(after, before or 0)
        g.serial.check_not_corrupt()
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.serial.assert_continuous()
        self.assertIs(dom.prop('Persistent'), True, 'a lost the definition')
        holds_for(lambda: g.qemu_pids() == [src_pid], 2.0, 'no second QEMU of the guest to appear')
        g.destroy()

    def test_job_of_another_client(self):
        """A protocol-2 MigrateToURI3 while another client's job holds the
        domain (Begin3 here): JobActive; that job stays as it was (the failed
        Perform2 had none of its own to cancel), b throws its incoming guest
        away, and the other client's Confirm3(cancelled) ends its job."""
        self.bridge(self.b)
        g = self.guest(self.a, profile='light')
        boot, pid = snapshot_before(g)
        dom = g.dom(self.a)
        dom.call('Begin3Params', 'a{sv}u', ({}, LIVE), 'say')
        pending, _ = self.migrate_start(g, self.a, self.b)
        self.assertMigrateError(pending, 'JobActive')
        self.assertEqual((dom.prop('JobType'), dom.prop('JobPhase')), ('migration-out', 'begin3'),
                         'the peer-to-peer migration ended the other client\'s job')
        wait_until(lambda: g.path not in self.b.list_domains(0), DEADLINE, 'b to throw the incoming guest away')
        dom.call('Confirm3Params', 'a{sv}ayub', ({}, b'', LIVE, True))
        self.assertStaysHere(g, self.a, pid, ' after the refused migration')
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()


if __name__ == '__main__':
    p2ptest.main()
