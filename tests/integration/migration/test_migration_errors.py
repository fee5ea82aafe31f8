#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every refused migration call names its error and leaves the guest running
where it was; the failure rules undo what a failed phase started."""

import json
import os
import uuid as uuidlib

import migtest
from migtest import (GLib, LIVE, PEER2PEER, TUNNELLED, OFFLINE, POSTCOPY, RDMA_PIN_ALL, TLS,
                     CHANGE_PROTECTION, COMPRESSED, AUTO_CONVERGE, PARALLEL, UNSAFE,
                     MigrationTestCase, MigGuest, Managed, assert_runs_here, snapshot_before,
                     dcall, mcall, recorder, variant_dict, wait_until, DEADLINE)


def cookie_json(cookie):
    return json.loads(bytes(cookie).decode())


def cookie_bytes(obj):
    return json.dumps(obj, separators=(',', ':')).encode()


class Errors(MigrationTestCase):

    def setUp(self):
        super().setUp()
        self.g = MigGuest(self, self.src)
        self.boot, self.pid = snapshot_before(self.g)
        self.dom = self.g.dom(self.src)

    def still_here(self, what):
        """The guest runs on the source, in the same QEMU, without a job, its
        counter rising; nothing of it is left on the destination."""
        assert_runs_here(self, self.g, self.src, [self.pid], ' after ' + what)
        self.assertEqual(self.dst.list_domains(0), [], 'a domain was left on the destination after ' + what)

    def managed(self, **kw):
        kw.setdefault('dest_xml', self.g.xml(serial_path=self.g.next_serial_path()))
        return Managed(self, self.g, self.src, self.dst, **kw)

    def refused_begin(self, m, name, *parts):
        """Begin3 of @m must fail with @name; should it succeed, the job it
        started is cancelled again, so that the next case starts clean."""
        try:
            with self.assertDBusError(name, *parts):
                m.begin()
        finally:
            if self.dom.prop('JobType') != 'none':
                m.confirm(cancelled=True, cookie=b'')

    def cancel_source(self, what):
        """Failure rule: Confirm3(cancelled=true) ends the source's job."""
        with recorder(self.src, self.g.path) as rec:
            self.managed().confirm(cancelled=True, cookie=b'')
            done = rec.wait_for(lambda s: s.member == 'JobCompleted', migtest.SIGNAL_DEADLINE,
                                'JobCompleted after Confirm3(cancelled) (%s)' % what)
        self.assertIs(done.args[0]['success'], False, done.args[0])
        self.assertTrue(done.args[0]['errmsg'], 'JobCompleted of a cancelled job says nothing')
        self.assertEqual(self.dom.prop('JobType'), 'none')
        self.assertEqual(self.dom.call('GetJobStats', 'u', (1,), 'sa{sv}')[0], 'cancelled')

    def test_errors(self):
        """Each refused call: the named error, and the guest runs on the source."""
        src, dst, g, dom = self.src, self.dst, self.g, self.dom
        foreign_host = str(uuidlib.uuid4())

        # A well-formed cookie from a third host, for calls that fail before
        # they look at it.
        foreign = cookie_bytes({
            'format': 'migrationd-cookie', 'version': 1, 'name': g.name, 'uuid': g.uuid,
            'hostname': 'elsewhere.example', 'host_uuid': foreign_host, 'protocol': 3, 'features': []})

        with self.subTest('Perform3 before Begin3: OperationInvalid'):
            for form in ('params', 'plain'):
                m = self.managed(form=form)
                m.cookie, m.uri = foreign, 'tcp:127.0.0.1:%d' % dst.ports.port_min
                with self.assertDBusError('OperationInvalid', 'Begin3'):
                    m.perform()
            self.still_here('Perform3 before Begin3')

        with self.subTest('Begin3 twice: JobActive'):
            m = self.managed()
            m.begin()
            for form in ('params', 'plain'):
                with self.assertDBusError('JobActive'):
                    self.managed(form=form).begin()
            self.assertEqual(dom.prop('JobPhase'), 'begin3', 'the refused Begin3 changed the job')
            self.cancel_source('Begin3 twice')
            self.still_here('Begin3 twice')

        with self.subTest('Begin3 on a shut-off domain: OperationInvalid'):
            off = self.make_guest(src, name='never-started')
            for method, sig, args in (('Begin3', 'sstu', ('', '', 0, LIVE)),
                                      ('Begin3Params', 'a{sv}u', ({}, LIVE))):
                with self.assertDBusError('OperationInvalid', 'not running'):
                    dcall(src, off.dom.path, method, sig, args, 'say')
            self.assertEqual(off.dom.prop('JobType'), 'none')
            self.assertEqual(off.dom.prop('State'), 'shutoff')
            self.still_here('Begin3 on a shut-off domain')

        with self.subTest('Prepare3 with a malformed cookie: InvalidCookie; failed Prepare -> Confirm3 cancelled'):
            m = self.managed()
            xml, cookie = m.begin()
            bad_cookies = [
                b'',
                b'not a cookie at all',
                cookie[:len(cookie) // 2],                                   # truncated
                b'\xff\xfe' + cookie,                                        # not UTF-8
                cookie_bytes(dict(cookie_json(cookie), format='libvirt')),   # another format
                cookie_bytes(dict(cookie_json(cookie), version=99)),         # from the future
                cookie_bytes({k: v for k, v in cookie_json(cookie).items() if k != 'uuid'}),
            ]
            for i, bad in enumerate(bad_cookies):
                for form in ('params', 'plain'):
                    with self.assertDBusError('InvalidCookie'):
                        Managed(self, g, src, dst, form=form).prepare(cookie=bad, xml=xml)
            # A cookie for another domain than the XML.
            other = cookie_bytes(dict(cookie_json(cookie), uuid=str(uuidlib.uuid4())))
            with self.assertDBusError('InvalidCookie'):
                m.prepare(cookie=other)
            self.assertEqual(dst.list_domains(0), [], 'a failed Prepare3 left a domain behind')
            self.assertEqual(dom.prop('JobPhase'), 'begin3')
            # The failure rule for a failed Prepare3.
            self.cancel_source('a failed Prepare3')
            self.still_here('a failed Prepare3 and Confirm3(cancelled)')

        with self.subTest('Prepare3 on the source itself: SameHost'):
            m = self.managed()
            m.begin()
            for form in ('params', 'plain'):
                with self.assertDBusError('SameHost', src.host_uuid):
                    Managed(self, g, src, src, form=form).prepare(cookie=m.cookie, xml=m.xml)
            self.cancel_source('SameHost')
            self.still_here('Prepare3 on the source itself')

        with self.subTest('A cookie with an unknown mandatory feature: Unsupported'):
            m = self.managed()
            m.begin()
            c = cookie_json(m.cookie)
            c['features'] = c['features'] + [{'name': 'x-teleportation', 'mandatory': True}]
            for form in ('params', 'plain'):
                with self.assertDBusError('Unsupported', 'x-teleportation'):
                    Managed(self, g, src, dst, form=form).prepare(cookie=cookie_bytes(c), xml=m.xml)
            self.assertEqual(dst.list_domains(0), [])
            self.cancel_source('an unknown mandatory feature')
            self.still_here('a cookie with an unknown mandatory feature')

        with self.subTest('Unknown flag bits: InvalidArgs'):
            for form in ('params', 'plain'):
                self.refused_begin(self.managed(form=form, flags=LIVE | (1 << 25)),
                                   'org.freedesktop.DBus.Error.InvalidArgs', '0x2000000')
            with self.assertDBusError('org.freedesktop.DBus.Error.InvalidArgs'):
                mcall(dst, 'Prepare3Params', 'a{sv}ayu', (variant_dict({'destination_xml': ('s', g.xml())}),
                                                          foreign, 1 << 31), 'ays')
            self.still_here('unknown flag bits')

        # The Features a host advertises are what it implements ("only what
        # this build really implements is advertised: peers plan by it").
        features = set(src.manager_props()['Features']) & set(dst.manager_props()['Features'])
        by_feature = [(PEER2PEER, 'PEER2PEER', 'peer2peer'), (CHANGE_PROTECTION, 'CHANGE_PROTECTION', 'change-protection'),
                      (COMPRESSED, 'COMPRESSED', 'compression'), (AUTO_CONVERGE, 'AUTO_CONVERGE', 'auto-converge'),
                      (POSTCOPY, 'POSTCOPY', 'postcopy'), (TLS, 'TLS', 'tls'), (PARALLEL, 'PARALLEL', 'parallel')]

        with self.subTest('Unimplemented flags: Unsupported naming them'):
            # TUNNELLED and RDMA_PIN_ALL stay refused for good; the others
            # while the hosts do not advertise them.
            refused = [(LIVE | TUNNELLED | PEER2PEER, 'TUNNELLED'), (LIVE | RDMA_PIN_ALL, 'RDMA_PIN_ALL')]
            refused += [(LIVE | bit, name) for bit, name, feature in by_feature if feature not in features]
            for flags, name in refused:
                for form in ('params', 'plain'):
                    with self.subTest(flag=name, form=form, features=sorted(features)):
                        self.refused_begin(self.managed(form=form, flags=flags), 'Unsupported', name)
            self.still_here('unimplemented flags')

        with self.subTest('Advertised flags: Begin3 accepts them'):
            for bit, name, feature in by_feature:
                if feature not in features:
                    continue
                with self.subTest(flag=name, feature=feature):
                    # LIVE with XBZRLE under TCG before QEMU 9.0 is Unsafe
                    # (features/compression-xbzrle); UNSAFE is its way out.
                    unsafe = UNSAFE if bit == COMPRESSED and migtest.harness.tcg_dirty_tracking_flawed() else 0
                    m = self.managed(flags=LIVE | bit | unsafe)
                    try:
                        m.begin()
                    except GLib.Error as e:
                        self.fail('Begin3 refused %s although the hosts advertise %r: %s: %s'
                                  % (name, feature, migtest.harness.dbus_error_name(e), migtest.harness.dbus_error_message(e)))
                    self.assertEqual(dom.prop('JobPhase'), 'begin3')
                    m.confirm(cancelled=True, cookie=b'')
            self.still_here('Begin3 with advertised flags')

        with self.subTest('OFFLINE without PERSIST_DEST: InvalidArgs'):
            for form in ('params', 'plain'):
                self.refused_begin(self.managed(form=form, flags=OFFLINE),
                                   'org.freedesktop.DBus.Error.InvalidArgs', 'OFFLINE', 'PERSIST_DEST')
            self.still_here('OFFLINE without PERSIST_DEST')

        with self.subTest('A parameter of the wrong type: InvalidArgs naming key and type'):
            self.refused_begin(self.managed(extra_params={'bandwidth': ('s', '100')}),
                               'org.freedesktop.DBus.Error.InvalidArgs', 'bandwidth', 'uint64')
            self.refused_begin(self.managed(extra_params={'destination_name': ('u', 5)}),
                               'org.freedesktop.DBus.Error.InvalidArgs', 'destination_name', 'string')
            self.still_here('a parameter of the wrong type')

        with self.subTest('An unknown parameter key: Unsupported naming it'):
            self.refused_begin(self.managed(extra_params={'x-warp-speed': ('t', 9)}), 'Unsupported', 'x-warp-speed')
            with self.assertDBusError('Unsupported', 'x-warp-speed'):
                mcall(dst, 'Prepare3Params', 'a{sv}ayu',
                      (variant_dict({'destination_xml': ('s', g.xml()), 'x-warp-speed': ('t', 9)}), foreign, LIVE),
                      'ays')
            self.still_here('an unknown parameter key')

        with self.subTest('Perform3 with a dconnuri but no PEER2PEER: Unsupported (direct migration)'):
            m = self.managed()
            m.begin()
            m.prepare()
            self.assertEqual(len(g.qemu_pids()), 2, 'Prepare3 started no incoming QEMU')
            for form in ('params', 'plain'):
                m.form = form
                with self.assertDBusError('Unsupported', 'Direct migration'):
                    m.perform_start(dconnuri='migration+tls://127.0.0.1:16519')
                    m.perform_wait()
            # An error before the stream starts leaves the job where it was.
            self.assertEqual(dom.prop('JobPhase'), 'begin3')
            self.assertEqual(dom.prop('State'), 'running')
            # Failure rules for a failed Perform3: Finish3 cancelled, Confirm3 cancelled.
            path, cookie = m.finish(cancelled=True)
            self.assertEqual(path, '/')
            wait_until(lambda: g.qemu_pids() == [self.pid], DEADLINE, 'the incoming QEMU to be killed')
            self.cancel_source('a refused Perform3')
            self.still_here('Perform3 with a dconnuri')

        with self.subTest('Perform3 to a URI where nobody listens: MigrationFailed, then the failure rules'):
            m = self.managed()
            m.begin()
            m.prepare()
            good = m.uri
            # The source's own port range: nothing listens there.
            m.uri = 'tcp:127.0.0.1:%d' % src.ports.port_max
            with self.assertDBusError('MigrationFailed'):
                m.perform()
            self.assertEqual(dom.prop('JobType'), 'migration-out')
            m.uri = good
            path, _ = m.finish(cancelled=True)
            self.assertEqual(path, '/')
            wait_until(lambda: g.qemu_pids() == [self.pid], DEADLINE, 'the incoming QEMU to be killed')
            m.confirm(cancelled=True, cookie=b'')
            self.assertEqual(dom.call('GetJobStats', 'u', (1,), 'sa{sv}')[0], 'failed')
            self.still_here('a Perform3 to a dead URI')

        with self.subTest('Confirm3(cancelled=false) before Perform3: OperationInvalid'):
            m = self.managed()
            m.begin()
            for form in ('params', 'plain'):
                m.form = form
                with self.assertDBusError('OperationInvalid', 'Perform3'):
                    m.confirm(cancelled=False, cookie=m.cookie)
            self.assertEqual(dom.prop('JobPhase'), 'begin3')
            self.cancel_source('Confirm3 before Perform3')
            self.still_here('Confirm3(cancelled=false) before Perform3')

        with self.subTest('Confirm3 and AbortJob without a job: OperationInvalid'):
            with self.assertDBusError('OperationInvalid'):
                self.managed().confirm(cancelled=True, cookie=b'')
            with self.assertDBusError('OperationInvalid'):
                dcall(src, g.path, 'AbortJob', 'u', (0,))
            self.still_here('Confirm3 without a job')

        g.destroy()


class PrepareFails(MigrationTestCase):

    def test_qemu_fails(self):
        """Prepare3 whose incoming QEMU cannot start (the destination XML names a
        kernel that does not exist there): QemuFailed, the destination daemon
        lives on with nothing of the migration left, and after the failure rule
        (Confirm3 cancelled) the guest runs on the source."""
        g = MigGuest(self, self.src)
        boot, pid = snapshot_before(g)
        missing = os.path.join(self.workdir, 'no-such-kernel.elf')
        xml = g.xml(serial_path=g.next_serial_path()).replace(migtest.harness.GUEST_KERNEL, missing)
        self.assertIn(missing, xml)
        for form in ('params', 'plain'):
            m = Managed(self, g, self.src, self.dst, form=form, dest_xml=xml)
            m.begin()
            with self.assertDBusError('QemuFailed'):
                m.prepare()
            self.dst.check_alive()
            self.assertEqual(self.dst.list_domains(0), [], 'a failed Prepare3 left a domain behind')
            with self.assertDBusError('NoSuchDomain'):
                self.dst.lookup_uuid(g.uuid)
            self.assertEqual(g.qemu_pids(), [pid])
            m.confirm(cancelled=True, cookie=b'')
            assert_runs_here(self, g, self.src, [pid], ' after a Prepare3 whose QEMU failed (%s)' % form)
        self.assertEqual(g.serial.boot_ids(), [boot])
        g.destroy()


if __name__ == '__main__':
    migtest.main()
