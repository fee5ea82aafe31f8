#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness' D-Bus client: Client (GDBus, synchronous calls), the
signals it records (Signal, SignalRecorder, properties_changed), D-Bus error
names and messages, and object paths (sd_bus_path_encode, domain_path)."""

import contextlib
import re
import time

from harness_base import (BUS_NAME, CALL_TIMEOUT_MS, DOMAIN_PATH_PREFIX, INTROSPECTABLE_IFACE,
                          PROPERTIES_IFACE, Gio, GLib, WaitTimeout, _iterate, wait_until)


def dbus_error_name(e):
    if isinstance(e, GLib.Error):
        return Gio.DBusError.get_remote_error(e)
    return None


def dbus_error_message(e):
    if isinstance(e, GLib.Error):
        # A copy: strip_remote_error modifies in place.
        msg = e.message
        m = re.match(r'^GDBus\.Error:[^ ]+: (.*)$', msg, re.S)
        return m.group(1) if m else msg
    return str(e)


def sd_bus_path_encode(prefix, s):
    """systemd's sd_bus_path_encode(): PREFIX/ESCAPED, where every byte but
    [A-Za-z0-9] becomes _XX (lower-case hex), and so does a leading digit
    (bus_label_escape); the empty string is "_"."""
    if not s:
        return prefix.rstrip('/') + '/_'
    out = []
    for i, ch in enumerate(s.encode()):
        c = chr(ch)
        if c.isascii() and (c.isalpha() or (i > 0 and c.isdigit())):
            out.append(c)
        else:
            out.append('_%02x' % ch)
    return prefix.rstrip('/') + '/' + ''.join(out)


def domain_path(uuid):
    return sd_bus_path_encode(DOMAIN_PATH_PREFIX.rstrip('/'), uuid)


def _variant(sig, args):
    if sig is None or sig == '':
        return None
    if isinstance(args, GLib.Variant):
        return args
    return GLib.Variant('(%s)' % sig, tuple(args))


class Client:
    """A client connection to one bus (GDBus, synchronous calls with long
    timeouts, signals dispatched on the default main context)."""

    def __init__(self, address, name='client'):
        self.address = address
        self.name = name
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None, None)
        self.conn.set_exit_on_close(False)

    def close(self):
        if self.conn is not None and not self.conn.is_closed():
            with contextlib.suppress(GLib.Error):
                self.conn.close_sync(None)
        self.conn = None

    def call(self, path, iface, method, sig=None, args=(), reply_sig=None,
             dest=BUS_NAME, timeout_ms=None, flags=None):
        """Calls a method; returns the unpacked reply tuple. Raises GLib.Error
        (see dbus_error_name/dbus_error_message)."""
        reply = self.conn.call_sync(
            dest, path, iface, method, _variant(sig, args),
            GLib.VariantType.new('(%s)' % reply_sig) if reply_sig is not None else None,
            Gio.DBusCallFlags.NONE if flags is None else flags,
            CALL_TIMEOUT_MS if timeout_ms is None else timeout_ms, None)
        return reply.unpack() if reply is not None else ()

    def call_raw(self, path, iface, method, variant, dest=BUS_NAME, timeout_ms=None):
        """Like call() with a ready-made parameters GVariant (or None) and no
        reply type check, for tests that probe argument validation."""
        reply = self.conn.call_sync(dest, path, iface, method, variant, None,
                                    Gio.DBusCallFlags.NONE,
                                    CALL_TIMEOUT_MS if timeout_ms is None else timeout_ms, None)
        return reply.unpack() if reply is not None else ()

    def get(self, path, iface, prop, dest=BUS_NAME):
        return self.call(path, PROPERTIES_IFACE, 'Get', 'ss', (iface, prop), 'v', dest=dest)[0]

    def get_all(self, path, iface, dest=BUS_NAME):
        return self.call(path, PROPERTIES_IFACE, 'GetAll', 's', (iface,), 'a{sv}', dest=dest)[0]

    def introspect(self, path, dest=BUS_NAME):
        return self.call(path, INTROSPECTABLE_IFACE, 'Introspect', None, (), 's', dest=dest)[0]

    def name_has_owner(self, name):
        return self.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner',
                         's', (name,), 'b', dest='org.freedesktop.DBus')[0]

    def name_owner_pid(self, name):
        return self.call('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetConnectionUnixProcessID',
                         's', (name,), 'u', dest='org.freedesktop.DBus')[0]

    def record(self, **kw):
        return SignalRecorder(self, **kw)


class Signal:
    __slots__ = ('sender', 'path', 'iface', 'member', 'args', 'time')

    def __init__(self, sender, path, iface, member, args):
        self.sender, self.path, self.iface, self.member, self.args = sender, path, iface, member, args
        self.time = time.monotonic()

    def __repr__(self):
        return '<%s.%s %s %r>' % (self.iface, self.member, self.path, self.args)


class SignalRecorder:
    """Records matching signals from the moment it is created: create it
    before the action whose signals you expect, then wait_for()."""

    def __init__(self, client, iface=None, member=None, path=None, arg0=None, sender=None,
                 path_namespace=None):
        self.client = client
        self.signals = []
        self._path_namespace = path_namespace
        self._id = client.conn.signal_subscribe(
            sender, iface, member, path, arg0, Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, conn, sender, path, iface, member, params):
        if self._path_namespace and not (path == self._path_namespace or
                                         path.startswith(self._path_namespace.rstrip('/') + '/')):
            return
        self.signals.append(Signal(sender, path, iface, member, params.unpack()))

    def close(self):
        if self._id is not None and self.client.conn is not None:
            self.client.conn.signal_unsubscribe(self._id)
        self._id = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def matching(self, predicate=None):
        _iterate(0)
        return [s for s in self.signals if predicate is None or predicate(s)]

    def wait_for(self, predicate=None, timeout=None, what=None):
        """Waits for a recorded signal (also one recorded before this call)
        for which predicate(signal) is true; returns it."""
        def check():
            for s in self.signals:
                if predicate is None or predicate(s):
                    return s
            return None
        try:
            return wait_until(check, timeout, what or 'a signal')
        except WaitTimeout as e:
            raise WaitTimeout('%s; recorded: %r' % (e, self.signals)) from None


def properties_changed(path, iface, **expected):
    """A predicate for SignalRecorder.wait_for: PropertiesChanged on @path for
    @iface whose changed properties include all of @expected."""
    def pred(s):
        if s.member != 'PropertiesChanged' or s.path != path:
            return False
        s_iface, changed, _invalidated = s.args
        if s_iface != iface:
            return False
        return all(k in changed and changed[k] == v for k, v in expected.items())
    return pred
