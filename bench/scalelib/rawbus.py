"""bench/scale's timed-loop client: D-Bus over a plain socket."""

import os
import socket
import struct

from .common import DBUS_IFACE, DBUS_NAME, DBUS_PATH, BenchError, Gio, GLib


class DBusCallError(BenchError):
    """A D-Bus error reply to a RawBus call."""

    def __init__(self, name, args):
        super().__init__('D-Bus error %s: %s' % (name, args))
        self.name = name


def unix_socket_path(address):
    """The socket of a unix:path= or unix:abstract= D-Bus address ('\\0...' for abstract)."""
    for part in address.split(';'):
        if not part.startswith('unix:'):
            continue
        opts = dict(kv.split('=', 1) for kv in part[5:].split(',') if '=' in kv)
        if 'path' in opts:
            return GLib.Uri.unescape_string(opts['path'], None)
        if 'abstract' in opts:
            return '\0' + GLib.Uri.unescape_string(opts['abstract'], None)
    raise BenchError('cannot use bus address %s (unix:path= or unix:abstract= wanted)' % address)


class RawBus:
    """A minimal blocking D-Bus client on a plain socket, for the timed loops.

    Calls are marshalled once, outside the timed region, by GDBusMessage;
    each call then only patches the serial, sends the bytes and reads the
    reply's bytes up to its end (its length from GDBusMessage.bytes_needed),
    checking its type but parsing it only when it is an error. So a figure is the round trip through the bus and the
    service until the last byte of the reply has arrived, with a client cost of
    a few microseconds (measured and reported), and not GDBus' worker-thread
    hand-offs or its parsing of a big reply into GVariants (which for
    GetManagedObjects of 1,000 domains costs a GDBus client more than the
    daemon spends building the reply; that cost is reported separately)."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(unix_socket_path(address))
        self.authenticate(b'EXTERNAL', str(os.getuid()).encode(), 'the bus')
        self.unique_name = self.call(self.marshal(DBUS_NAME, DBUS_PATH, DBUS_IFACE, 'Hello'),
                                     parse=True).get_body().unpack()[0]

    def authenticate(self, mechanism, initial_response, what, buffer_size=1 << 20):
        """The D-Bus authentication on self.sock (one mechanism, its initial
        response) and BEGIN; then the read buffer. @what names the other end."""
        self.sock.sendall(b'\0AUTH %s %s\r\n' % (mechanism, initial_response.hex().encode()))
        line = b''
        while not line.endswith(b'\r\n'):
            chunk = self.sock.recv(256)
            if not chunk:
                raise BenchError('%s closed the connection during authentication' % what)
            line += chunk
        if not line.startswith(b'OK '):
            raise BenchError('%s refused %s authentication: %r' % (what, mechanism.decode(), line))
        self.sock.sendall(b'BEGIN\r\n')
        self.buf = bytearray(buffer_size)
        self.view = memoryview(self.buf)
        self.have = 0               # bytes in buf not yet consumed
        self.serial = 0

    def close(self):
        self.sock.close()

    @staticmethod
    def marshal(dest, path, iface, method, params=None):
        msg = Gio.DBusMessage.new_method_call(dest, path, iface, method)
        if params is not None:
            msg.set_body(params)
        msg.set_serial(1)
        blob = bytearray(msg.to_blob(Gio.DBusCapabilityFlags.NONE))
        return (blob, '<' if blob[0:1] == b'l' else '>')

    def _fill(self, need):
        """Makes buf hold at least @need bytes."""
        if need > len(self.buf):
            bigger = bytearray(max(need, 2 * len(self.buf)))
            bigger[:self.have] = self.buf[:self.have]
            self.buf, self.view = bigger, memoryview(bigger)
        while self.have < need:
            got = self.sock.recv_into(self.view[self.have:])
            if not got:
                raise BenchError('the bus closed the connection')
            self.have += got

    def call(self, marshalled, parse=False):
        """Sends one call and returns the size of its reply in bytes (or, with
        @parse, the reply as a GDBusMessage). D-Bus errors raise DBusCallError."""
        blob, endian = marshalled
        self.serial += 1
        struct.pack_into(endian + 'I', blob, 8, self.serial)
        self.sock.sendall(blob)
        while True:
            self._fill(16)
            mtype = self.buf[1]
            total = Gio.DBusMessage.bytes_needed(bytes(self.buf[:16]))
            self._fill(total)
            # One call at a time: any method return or error is its reply
            # (checked against its serial when it is parsed anyway).
            mine = mtype in (2, 3)
            if mine and (parse or mtype == 3):
                msg = Gio.DBusMessage.new_from_blob(bytes(self.buf[:total]), Gio.DBusCapabilityFlags.NONE)
                if msg.get_reply_serial() != self.serial:
                    raise BenchError('a reply to serial %d, not to %d' % (msg.get_reply_serial(), self.serial))
            # Consume the message.
            self.buf[:self.have - total] = self.buf[total:self.have]
            self.have -= total
            if not mine:
                continue            # a signal (NameAcquired) or a stray message
            if mtype == 3:
                raise DBusCallError(msg.get_error_name(), msg.get_body().unpack())
            return msg if parse else total
