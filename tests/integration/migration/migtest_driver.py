#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What drives a managed migration in the tests (migtest.py re-exports it
all): libvirt's migration flags and the migration deadlines; guest profiles
per accelerator (KVM or TCG with small dirty areas, announced loudly);
asynchronous method calls (Pending, call, dcall, mcall); hosts whose QEMU
listens on 127.0.0.1, the test guest (MigGuest), disk images, signal
recorders; and Managed, the five phases in either form (Begin3Params ... or
plain Begin3 ...)."""

import contextlib
import fcntl
import os
import sys
import time
from xml.sax.saxutils import quoteattr

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: the parent's test_*.py must not shadow ours.
if os.path.dirname(HERE) not in sys.path:
    sys.path.append(os.path.dirname(HERE))

import harness  # noqa: E402
from harness import (BUS_NAME, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH,  # noqa: E402
                     DEADLINE, BOOT_DEADLINE, CALL_TIMEOUT_MS, TIMEOUT_FACTOR,
                     wait_until, pid_alive, proc_cmdline, find_qemu_pids, domain_path)

GLib = harness.GLib
Gio = harness.Gio

# libvirt's virDomainMigrateFlags
LIVE = 1 << 0
PEER2PEER = 1 << 1
TUNNELLED = 1 << 2
PERSIST_DEST = 1 << 3
UNDEFINE_SOURCE = 1 << 4
PAUSED = 1 << 5
CHANGE_PROTECTION = 1 << 8
UNSAFE = 1 << 9
OFFLINE = 1 << 10
COMPRESSED = 1 << 11
AUTO_CONVERGE = 1 << 13
RDMA_PIN_ALL = 1 << 14
POSTCOPY = 1 << 15
TLS = 1 << 16
PARALLEL = 1 << 17

# Generous: a busy 2-core machine, nested KVM, several tests at once.
MIGRATION_DEADLINE = 240.0 * TIMEOUT_FACTOR   # a whole migration phase
SIGNAL_DEADLINE = 120.0 * TIMEOUT_FACTOR      # a signal that must come


# ---------------------------------------------------------------------------
# accelerator and guest profiles

def accel():
    return harness.domain_type()


def on_kvm():
    return accel() == 'kvm'


def announce_accel():
    # The same guests on both: TCG guests get RAM off QEMU 7.2's dirty-bitmap
    # grid (src/drivers/qemu-command.h), so their live migrations are exact too.
    sys.stderr.write('[migtest] accelerator %s\n' % ('KVM' if on_kvm() else 'TCG'))
    sys.stderr.flush()


def guest_profile(profile='normal'):
    """Keyword arguments for harness.guest_xml().

    normal: 64 MiB, a dirty area the stream must keep up with;
    slow:   256 MiB and a large dirty area, for a Perform3 that lasts under
            a low speed limit (aborts, faults: these streams never complete);
    light:  64 MiB, a small dirty area: converges under a modest speed limit
            (one pass at 8 MiB/s fits in a 2 s downtime).

    The same on KVM and TCG."""
    if profile == 'normal':
        return dict(memory_mib=64, cmdline='dirty=32M period=100')
    if profile == 'slow':
        return dict(memory_mib=256, cmdline='dirty=64M period=100')
    if profile == 'light':
        return dict(memory_mib=64, cmdline='dirty=8M period=100')
    raise ValueError(profile)


# ---------------------------------------------------------------------------
# calls

def variant_dict(d):
    """{'key': ('t', 5)} or {'key': GLib.Variant} -> a{sv} values."""
    out = {}
    for k, v in d.items():
        out[k] = v if isinstance(v, GLib.Variant) else GLib.Variant(v[0], v[1])
    return out


class Pending:
    """An asynchronous method call: the main context keeps running (signals
    are dispatched and time-stamped as they come) until wait()."""

    def __init__(self, client, path, iface, method, sig=None, args=(), reply_sig=None,
                 timeout_ms=None, dest=BUS_NAME):
        self.what = '%s %s.%s' % (client.name, iface.rsplit('.', 1)[-1], method)
        self.done = False
        self.result = None
        self.error = None
        self.t0 = time.monotonic()
        self.t1 = None
        reply_type = GLib.VariantType.new('(%s)' % reply_sig) if reply_sig is not None else None
        client.conn.call(dest, path, iface, method, harness._variant(sig, args), reply_type,
                         Gio.DBusCallFlags.NONE, CALL_TIMEOUT_MS if timeout_ms is None else timeout_ms,
                         None, self._on_reply)

    def _on_reply(self, conn, res):
        try:
            reply = conn.call_finish(res)
            self.result = reply.unpack() if reply is not None else ()
        except GLib.Error as e:
            self.error = e
        self.t1 = time.monotonic()
        self.done = True

    @property
    def elapsed(self):
        return (self.t1 if self.t1 is not None else time.monotonic()) - self.t0

    def wait(self, timeout=None):
        """The reply tuple; raises the GLib.Error of an error reply."""
        wait_until(lambda: self.done, timeout or (CALL_TIMEOUT_MS / 1000.0 + 30), 'the reply to ' + self.what)
        if self.error is not None:
            raise self.error
        return self.result


def call(client, path, iface, method, sig=None, args=(), reply_sig=None, timeout_ms=None):
    return Pending(client, path, iface, method, sig, args, reply_sig, timeout_ms).wait()


def dcall(host, path, method, sig=None, args=(), reply_sig=None, timeout_ms=None):
    return call(host.connect(), path, DOMAIN_IFACE, method, sig, args, reply_sig, timeout_ms)


def mcall(host, method, sig=None, args=(), reply_sig=None, timeout_ms=None):
    return call(host.connect(), MANAGER_PATH, MANAGER_IFACE, method, sig, args, reply_sig, timeout_ms)


# ---------------------------------------------------------------------------
# hosts and guests

def _merge(*configs):
    out = {}
    for c in configs:
        for section, keys in (c or {}).items():
            out.setdefault(section, {}).update(keys)
    return out


def make_migration_host(tc, name, config=None, **kw):
    """A host whose incoming QEMU listens on 127.0.0.1, so that the uri_out of
    Prepare3 is reachable (the harness' host names do not resolve)."""
    extra = _merge({'migration': {'address': '127.0.0.1'}}, config)
    return tc.make_host(name, bus=tc.make_bus(name + '-bus', external_ok=False), config_extra=extra, **kw)


class MigGuest:
    """A test guest that moves between hosts. Each hop gets its own serial
    log (serial-UUID-hopN.log: the UUID in the path, as the harness does, so
    that leftovers are found)."""

    def __init__(self, tc, host, profile='normal', start=True, **kw):
        xml_kw = dict(self.profile_kw(profile))
        xml_kw.update(kw)
        ident = {k: xml_kw.pop(k) for k in ('name', 'uuid') if k in xml_kw}
        self.tc = tc
        self.g = tc.make_guest(host, define=True, start=start, **ident, **xml_kw)
        self.uuid = self.g.uuid
        self.name = self.g.name
        self.xml_kw = xml_kw
        self.path = domain_path(self.uuid)
        self.host = host
        self.serials = [self.g.serial]
        for h in tc.hosts:
            h.domain_uuids.add(self.uuid)

    @staticmethod
    def profile_kw(profile):
        """harness.guest_xml() arguments of @profile (guest_profile)."""
        return guest_profile(profile)

    @property
    def serial(self):
        return self.serials[-1]

    def dom(self, host=None):
        return harness.Domain(host or self.host, self.path)

    def next_serial_path(self):
        return os.path.join(self.tc.workdir, 'serial-%s-hop%d.log' % (self.uuid, len(self.serials)))

    def xml(self, name=None, serial_path=None, title=None):
        kw = dict(self.xml_kw)
        if title is not None:
            kw['title'] = title
        return harness.guest_xml(name or self.name, self.uuid, serial_path or self.serial.path, **kw)

    def qemu_pids(self):
        return find_qemu_pids(self.uuid)

    def qemu_pid_with(self, needle):
        """The QEMU of this guest whose command line contains @needle (a serial path)."""
        pids = [p for p in self.qemu_pids() if any(needle in a for a in (proc_cmdline(p) or []))]
        return pids[0] if pids else None

    def destroy(self):
        """Destroys the guest where it runs and waits until no QEMU of it is left."""
        pids = self.qemu_pids()
        dom = self.dom()
        with contextlib.suppress(GLib.Error):
            if dom.prop('State') != 'shutoff':
                dcall(self.host, self.path, 'Destroy', 'u', (0,))
        wait_until(lambda: not any(pid_alive(p) for p in pids), DEADLINE, 'the QEMU of %s to exit' % self.name)


def disk_image(tc, name, size=1 << 20):
    """A raw disk image of @size bytes in the test's directory; its path."""
    path = os.path.join(tc.workdir, name)
    with open(path, 'wb') as f:
        f.truncate(size)
    return path


def disk_xml(path, cache='none'):
    """A <disk> for harness.guest_xml(devices_extra=): @path as raw virtio vda.
    cache='none' by default: a LIVE migration of a writable disk with another
    cache mode on a local file system is refused (Error.Unsafe)."""
    return ("    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='raw' cache='%s'/>\n"
            "      <source file=%s/>\n"
            "      <target dev='vda' bus='virtio'/>\n"
            "    </disk>" % (cache, quoteattr(path)))


def block_image_writes(tc, path):
    """Holds a lock on @path where QEMU's image locking sees another user
    that does not share write access (byte 200 + the bit of the write
    permission): a QEMU that has the image open already, or opened it
    inactive for an incoming migration, runs on; one that activates it
    (cont after the stream) fails with 'Failed to get "write" lock'. Until
    the returned function (also a clean-up of @tc) releases it."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 201)
    state = {'fd': fd}

    def release():
        if state['fd'] is not None:
            os.close(state['fd'])
            state['fd'] = None
    tc.addCleanup(release)
    return release


def recorder(host, path):
    """Records every signal on @path of @host's bus (PropertiesChanged and the
    Domain signals)."""
    return host.connect().record(path=path)


def counter_rises(tc, serial, by=3, timeout=None):
    before, after = serial.wait_advance(by, timeout or BOOT_DEADLINE)
    tc.assertGreater(after, before if before is not None else 0)
    return after


def assert_runs_here(tc, guest, host, pids=None, what=''):
    """The guest runs on @host: State running, no job, exactly the QEMU(s)
    @pids (when given), its counter rising, memory intact."""
    dom = guest.dom(host)
    wait_until(lambda: dom.prop('State') == 'running' and dom.prop('JobType') == 'none', DEADLINE,
               '%s to run on %s without a job%s' % (guest.name, host.name, what))
    if pids is not None:
        tc.assertEqual(guest.qemu_pids(), sorted(pids), 'the guest\'s QEMU processes changed%s' % what)
    counter_rises(tc, guest.serial)
    guest.serial.check_not_corrupt()


# ---------------------------------------------------------------------------
# the five phases

class Managed:
    """One managed migration of @guest from @src to @dst: the client (this
    test) calls the five phases over the two buses and carries the cookies.

    form 'params' uses Begin3Params ..., 'plain' Begin3 ...; dest_xml is the
    domain XML for the destination (destination_xml / xmlin), or with
    edit_xml the XML from Begin3 is changed before Prepare3 (the other way to
    give the destination another serial log)."""

    def __init__(self, tc, guest, src, dst, form='params', flags=LIVE, dname=None, dest_xml=None,
                 edit_xml=None, bandwidth=None, extra_params=None, phase_params=None):
        assert form in ('params', 'plain')
        self.tc, self.guest, self.src, self.dst = tc, guest, src, dst
        self.form, self.flags, self.dname, self.dest_xml = form, flags, dname, dest_xml
        self.edit_xml, self.bandwidth = edit_xml, bandwidth
        self.extra_params = extra_params or {}
        # Typed parameters for Begin3, Prepare3 and Perform3 alike (libvirt passes them to every phase).
        self.phase_params = phase_params or {}
        self.path = guest.path
        self.xml = self.cookie = self.uri = None
        self.perform_pending = None
        self.finish_path = None

    @property
    def params(self):
        return self.form == 'params'

    @property
    def final_name(self):
        return self.dname or self.guest.name

    def _begin_params(self):
        p = {}
        if self.dest_xml:
            p['destination_xml'] = ('s', self.dest_xml)
        if self.dname:
            p['destination_name'] = ('s', self.dname)
        if self.bandwidth is not None:
            p['bandwidth'] = ('t', self.bandwidth)
        p.update(self.extra_params)
        p.update(self.phase_params)
        return variant_dict(p)

    def begin(self, client=None):
        client = client or self.src.connect()
        if self.params:
            xml, cookie = call(client, self.path, DOMAIN_IFACE, 'Begin3Params', 'a{sv}u',
                               (self._begin_params(), self.flags), 'say')
        else:
            xml, cookie = call(client, self.path, DOMAIN_IFACE, 'Begin3', 'sstu',
                               (self.dest_xml or '', self.dname or '', self.bandwidth or 0, self.flags), 'say')
        self.xml = self.edit_xml(xml) if self.edit_xml else xml
        self.cookie = bytes(cookie)
        return self.xml, self.cookie

    def prepare(self, client=None, cookie=None, xml=None):
        client = client or self.dst.connect()
        cookie = self.cookie if cookie is None else cookie
        xml = self.xml if xml is None else xml
        if self.params:
            p = {'destination_xml': ('s', xml)}
            if self.dname:
                p['destination_name'] = ('s', self.dname)
            if self.bandwidth is not None:
                p['bandwidth'] = ('t', self.bandwidth)
            p.update(self.phase_params)
            cookie_out, uri = call(client, MANAGER_PATH, MANAGER_IFACE, 'Prepare3Params', 'a{sv}ayu',
                                   (variant_dict(p), cookie, self.flags), 'ays')
        else:
            cookie_out, uri = call(client, MANAGER_PATH, MANAGER_IFACE, 'Prepare3', 'sstaysu',
                                   (xml, self.dname or '', self.bandwidth or 0, cookie, '', self.flags), 'ays')
        self.cookie, self.uri = bytes(cookie_out), uri
        return self.cookie, self.uri

    def perform_start(self, client=None, dconnuri=''):
        client = client or self.src.connect()
        if self.params:
            p = {'migrate_uri': ('s', self.uri)}
            if self.bandwidth is not None:
                p['bandwidth'] = ('t', self.bandwidth)
            p.update(self.phase_params)
            self.perform_pending = Pending(client, self.path, DOMAIN_IFACE, 'Perform3Params', 'sa{sv}ayu',
                                           (dconnuri, variant_dict(p), self.cookie, self.flags), 'ay')
        else:
            self.perform_pending = Pending(client, self.path, DOMAIN_IFACE, 'Perform3', 'sayssstu',
                                           ('', self.cookie, dconnuri, self.uri, '', self.bandwidth or 0,
                                            self.flags), 'ay')
        return self.perform_pending

    def perform_wait(self, timeout=None):
        (cookie,) = self.perform_pending.wait(timeout or MIGRATION_DEADLINE)
        self.cookie = bytes(cookie)
        return self.cookie

    def perform(self):
        self.perform_start()
        return self.perform_wait()

    def finish_start(self, cancelled=False, timeout_ms=None, client=None):
        client = client or self.dst.connect()
        cookie = b'' if self.cookie is None else self.cookie
        if self.params:
            p = {'destination_name': ('s', self.final_name)}
            if self.uri:
                p['migrate_uri'] = ('s', self.uri)
            return Pending(client, MANAGER_PATH, MANAGER_IFACE, 'Finish3Params', 'a{sv}ayub',
                           (variant_dict(p), cookie, self.flags, cancelled), 'oay', timeout_ms=timeout_ms)
        return Pending(client, MANAGER_PATH, MANAGER_IFACE, 'Finish3', 'saysub',
                       (self.final_name, cookie, self.uri or '', self.flags, cancelled), 'oay',
                       timeout_ms=timeout_ms)

    def finish(self, cancelled=False, timeout_ms=None):
        path, cookie = self.finish_start(cancelled, timeout_ms).wait(MIGRATION_DEADLINE)
        self.finish_path = path
        self.cookie = bytes(cookie)
        return path, self.cookie

    def confirm(self, cancelled=False, client=None, cookie=None):
        client = client or self.src.connect()
        if cookie is None:
            cookie = self.cookie or b''
        if self.params:
            call(client, self.path, DOMAIN_IFACE, 'Confirm3Params', 'a{sv}ayub',
                 ({}, cookie, self.flags, cancelled), None, timeout_ms=int(MIGRATION_DEADLINE * 1000))
        else:
            call(client, self.path, DOMAIN_IFACE, 'Confirm3', 'ayub', (cookie, self.flags, cancelled), None,
                 timeout_ms=int(MIGRATION_DEADLINE * 1000))
