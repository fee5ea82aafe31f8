#!/usr/bin/python3
"""One load client of bench/load, run as its own process (no GIL shared with
the benchmark or the other clients, no GLib: plain sockets).

stdin, one JSON line: {"path": socket path ('\\0...' abstract), "hello":
hex, "calls": [hex, ...]} (calls marshalled by the parent, serial patched
here). It authenticates, says Hello, prints "ready", waits for the line "go",
then makes the calls in turn (call i % len(calls)), one at a time, until
stdin has more to read ("stop"). Then it writes to stdout one line "result"
and a JSON document: per call made, [kind, start ns, latency ns] in flat
arrays, and the errors (name) met. perf_counter_ns is CLOCK_MONOTONIC, the
same clock as the parent's."""

import json
import os
import select
import socket
import struct
import sys
import time


def reply_serial(buf, endian, fields_len):
    """REPLY_SERIAL (header field 5) of the message at the start of @buf, and
    ERROR_NAME (field 4) if there is one."""
    pos, end = 16, 16 + fields_len
    serial = name = None
    while pos < end:
        pos = (pos + 7) & ~7
        code, siglen = buf[pos], buf[pos + 1]
        sig = bytes(buf[pos + 2:pos + 2 + siglen])
        pos += 3 + siglen
        if sig in (b's', b'o'):
            pos = (pos + 3) & ~3
            n = struct.unpack_from(endian + 'I', buf, pos)[0]
            if code == 4:
                name = bytes(buf[pos + 4:pos + 4 + n]).decode()
            pos += 4 + n + 1
        elif sig == b'g':
            pos += 1 + buf[pos] + 1
        elif sig == b'u':
            pos = (pos + 3) & ~3
            if code == 5:
                serial = struct.unpack_from(endian + 'I', buf, pos)[0]
            pos += 4
        else:
            raise RuntimeError('unexpected header field signature %r' % sig)
    return serial, name


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(b'\0AUTH EXTERNAL %s\r\n' % str(os.getuid()).encode().hex().encode())
        line = b''
        while not line.endswith(b'\r\n'):
            chunk = self.sock.recv(256)
            if not chunk:
                raise RuntimeError('the bus closed the connection during authentication')
            line += chunk
        if not line.startswith(b'OK '):
            raise RuntimeError('EXTERNAL refused: %r' % line)
        self.sock.sendall(b'BEGIN\r\n')
        self.buf = bytearray(1 << 20)
        self.view = memoryview(self.buf)
        self.have = 0
        self.serial = 0

    def fill(self, need):
        if need > len(self.buf):
            bigger = bytearray(max(need, 2 * len(self.buf)))
            bigger[:self.have] = self.buf[:self.have]
            self.buf, self.view = bigger, memoryview(bigger)
        while self.have < need:
            got = self.sock.recv_into(self.view[self.have:])
            if not got:
                raise RuntimeError('the bus closed the connection')
            self.have += got

    def call(self, blob):
        """Sends @blob (a bytearray, serial patched) and reads up to its
        reply; returns None or the D-Bus error name."""
        self.serial += 1
        endian = '<' if blob[0] == 0x6c else '>'
        struct.pack_into(endian + 'I', blob, 8, self.serial)
        self.sock.sendall(blob)
        while True:
            self.fill(16)
            e = '<' if self.buf[0] == 0x6c else '>'
            mtype = self.buf[1]
            body_len, _s, fields_len = struct.unpack_from(e + 'III', self.buf, 4)
            total = ((16 + fields_len + 7) & ~7) + body_len
            self.fill(total)
            serial, name = reply_serial(self.buf, e, fields_len) if mtype in (2, 3) else (None, None)
            self.buf[:self.have - total] = self.buf[total:self.have]
            self.have -= total
            if serial == self.serial:
                return name if mtype == 3 else None


def main():
    spec = json.loads(sys.stdin.readline())
    conn = Conn(spec['path'])
    if conn.call(bytearray.fromhex(spec['hello'])) is not None:
        raise RuntimeError('Hello failed')
    calls = [bytearray.fromhex(h) for h in spec['calls']]
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    if sys.stdin.readline().strip() != 'go':
        return 1
    kinds, starts, lats, errors = [], [], [], {}
    ns = time.perf_counter_ns
    stdin = sys.stdin.fileno()
    n = len(calls)
    i = 0
    while True:
        # Every 8 calls: has the parent said stop?
        if i % 8 == 0 and select.select([stdin], [], [], 0)[0]:
            break
        k = i % n
        t0 = ns()
        try:
            err = conn.call(calls[k])
        except (OSError, RuntimeError) as exc:
            err = 'client: %s' % exc
            errors[err] = errors.get(err, 0) + 1
            break
        t1 = ns()
        kinds.append(k)
        starts.append(t0)
        lats.append(t1 - t0)
        if err is not None:
            errors[err] = errors.get(err, 0) + 1
            kinds[-1] = -1 - k      # an error: kept out of the latencies
        i += 1
    sys.stdout.write('result\n' + json.dumps({'kinds': kinds, 'starts': starts, 'lats': lats,
                                              'errors': errors}) + '\n')
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
