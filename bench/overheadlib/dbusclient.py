"""The managed paths' timed D-Bus client and GVariant helpers: bench/scale's
raw-socket client with pipelining, so that a phase call's time is the
daemon's (send -> reply's last byte), not PyGObject's marshalling."""

import select
import struct
import time

from .common import BUS_NAME, MANAGER_PATH, PEER_IFACE, BenchError, GLib, Gio, now, scale


class CallFailed(BenchError):
    def __init__(self, name, message):
        super().__init__('%s: %s' % (name, message))
        self.name = name
        self.message = message


class PhaseBus(scale.RawBus):
    """bench/scale's raw-socket client, with pipelining: send() returns the
    serial, wait() reads messages until that reply arrived (or a deadline),
    keeping other replies for later and signals for afterwards. While it
    waits it also reads its peers (the other host's connection), so that
    every message is time-stamped when it arrives, not when it is next
    looked at. A call's time is from just before sendall() to the arrival of
    the reply's last byte; marshalling and parsing are outside it."""

    def __init__(self, address, name):
        self.name = name
        self.pending = {}             # reply serial -> (t_ns, type, GDBusMessage)
        self.signals = []             # (t_ns, blob)
        self.peers = []               # other PhaseBus read while this one waits
        super().__init__(address)

    def fileno(self):
        return self.sock.fileno()

    def _recv(self):
        """One recv() of what the socket has (it is readable), then every
        complete message is taken."""
        if self.have == len(self.buf):
            self._grow(2 * len(self.buf))
        got = self.sock.recv_into(self.view[self.have:])
        if not got:
            raise BenchError('the bus (%s) closed the connection' % self.name)
        self.have += got
        t = time.perf_counter_ns()
        while self.have >= 16:
            mtype = self.buf[1]
            total = Gio.DBusMessage.bytes_needed(bytes(self.buf[:16]))
            if total > len(self.buf):
                self._grow(total)
            if self.have < total:
                break
            blob = bytes(self.buf[:total])
            self.buf[:self.have - total] = self.buf[total:self.have]
            self.have -= total
            if mtype == 4:
                self.signals.append((t, blob))
            elif mtype in (2, 3):
                # Parsed after the arrival's time stamp: outside the call's time.
                msg = Gio.DBusMessage.new_from_blob(blob, Gio.DBusCapabilityFlags.NONE)
                self.pending[msg.get_reply_serial()] = (t, mtype, msg)

    def _grow(self, size):
        bigger = bytearray(max(size, 2 * len(self.buf)))
        bigger[:self.have] = self.buf[:self.have]
        self.buf, self.view = bigger, memoryview(bigger)

    def send(self, marshalled):
        blob, endian = marshalled
        self.serial += 1
        struct.pack_into(endian + 'I', blob, 8, self.serial)
        self.sock.sendall(blob)
        return self.serial

    def wait(self, serial, deadline=None):
        """(t_ns of the reply's last byte, body tuple) of call @serial; None
        if @deadline (perf_counter seconds) passed first. D-Bus errors raise
        CallFailed."""
        conns = [self] + self.peers
        while serial not in self.pending:
            remaining = None if deadline is None else deadline - now()
            if remaining is not None and remaining <= 0:
                return None
            for c in select.select(conns, [], [], remaining)[0]:
                c._recv()
        t, mtype, msg = self.pending.pop(serial)
        if mtype == 3:
            body = msg.get_body()
            text = body.get_child_value(0).get_string() if body is not None and body.n_children() else ''
            raise CallFailed(msg.get_error_name(), text)
        return t, fast_unpack(msg.get_body())

    def call(self, marshalled, parse=False, deadline=None):  # noqa: D401 - same name as RawBus
        """Blocking call (used by RawBus.__init__ for Hello, and for set-up)."""
        serial = self.send(marshalled)
        got = self.wait(serial, deadline)
        if got is None:
            raise BenchError('no reply within the deadline on %s' % self.name)
        if parse:
            # RawBus.__init__ wants a message with get_body(); give it one.
            return _Body(got[1])
        return got

    def sync(self):
        """A round trip to the daemon: every signal it emitted before is read."""
        self.call(self.marshal(BUS_NAME, MANAGER_PATH, PEER_IFACE, 'Ping'), deadline=now() + 30)

    def take_signals(self):
        out = []
        for t, blob in self.signals:
            msg = Gio.DBusMessage.new_from_blob(blob, Gio.DBusCapabilityFlags.NONE)
            body = msg.get_body()
            out.append((t, msg.get_path(), msg.get_interface(), msg.get_member(),
                        body.unpack() if body is not None else ()))
        self.signals = []
        return out


class _Body:
    def __init__(self, values):
        self.values = values

    def get_body(self):
        return self

    def unpack(self):
        return self.values


def marshal(dest, path, iface, method, *children):
    """A method call's bytes; the body is a tuple of ready GVariants (see
    v_ay: PyGObject's own conversion of bytes to 'ay' takes ~20 ms for a 2 KiB
    cookie, which would be the client's cost, not the daemon's)."""
    body = GLib.Variant.new_tuple(*children) if children else None
    return scale.RawBus.marshal(dest, path, iface, method, body)


def fast_unpack(body):
    """A reply body as a tuple, 'ay' as bytes without PyGObject's
    element-by-element unpacking (~20 ms for a 2 KiB cookie)."""
    if body is None:
        return ()
    out = []
    for i in range(body.n_children()):
        c = body.get_child_value(i)
        out.append(bytes(c.get_data_as_bytes().get_data()) if c.get_type_string() == 'ay' else c.unpack())
    return tuple(out)


def vdict(d):
    return {k: (v if isinstance(v, GLib.Variant) else GLib.Variant(*v)) for k, v in d.items()}


def v_dict(d):
    return GLib.Variant('a{sv}', vdict(d))


def v_ay(data):
    return GLib.Variant.new_from_bytes(GLib.VariantType.new('ay'), GLib.Bytes.new(bytes(data)), True)


def v_u(n):
    return GLib.Variant('u', n)


def v_b(flag):
    return GLib.Variant('b', flag)


def v_s(text):
    return GLib.Variant('s', text)
