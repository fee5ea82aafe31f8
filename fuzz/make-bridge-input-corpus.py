#!/usr/bin/python3
# Writes the seeds of fuzz/corpus/bridge-input: what a peer sends to the
# bridge after the TLS handshake (D-Bus authentication, then messages
# marshalled by GIO, then hostile variations).
#
#   make-bridge-input-corpus.py fuzz/corpus/bridge-input
import gi, os, sys
gi.require_version('Gio', '2.0')
from gi.repository import Gio, GLib
out = sys.argv[1]
AUTH = b'\0AUTH ANONYMOUS\r\nBEGIN\r\n'
serial = [0]
def call(member, sig=None, args=None, path='/org/example/Migration1', iface='org.example.Migration1.Manager'):
    m = Gio.DBusMessage.new_method_call(None, path, iface, member)
    if sig is not None:
        m.set_body(GLib.Variant('(%s)' % sig, args))
    serial[0] += 1
    m.set_serial(serial[0])
    return m.to_blob(Gio.DBusCapabilityFlags.NONE)
xml = "<domain type='kvm'><name>g</name><memory>65536</memory><os><type>hvm</type></os></domain>"
params = {'destination_xml': GLib.Variant('s', xml), 'bandwidth': GLib.Variant('t', 1), 'migrate_disks': GLib.Variant('as', ['vda'])}
seeds = {
    'capabilities.bin': AUTH + call('GetCapabilities'),
    'prepare3-params.bin': AUTH + call('GetCapabilities') + call('Prepare3Params', 'a{sv}ayu', (params, b'{"version":1}', 1)),
    'prepare3.bin': AUTH + call('Prepare3', 'sstaysu', (xml, '', 0, b'', '', 1)),
    'prepare3-wrong-signature.bin': AUTH + call('Prepare3', 'su', (xml, 1)),
    'finish3.bin': AUTH + call('Finish3', 'saysub', ('g', b'', 'tcp:127.0.0.1:1', 1, True)),
    'finish3-params.bin': AUTH + call('Finish3Params', 'a{sv}ayub', (params, b'', 1, False)),
    'v2.bin': AUTH + call('Prepare2', 'sstsu', (xml, '', 0, '', 1)) + call('Finish2', 'saysui', ('g', b'', '', 1, -1)),
    'abort-incoming.bin': AUTH + call('AbortIncoming', 's', ('g',)),
    'not-relayed.bin': AUTH + call('DefineXML', 's', (xml,)) + call('ListDomains', 'u', (0,))
        + call('Start', 'u', (0,), path='/org/example/Migration1/domain/_1', iface='org.example.Migration1.Domain')
        + call('Ping', iface='org.freedesktop.DBus.Peer') + call('Introspect', iface='org.freedesktop.DBus.Introspectable'),
    'too-many-calls.bin': AUTH + b''.join(call('GetCapabilities') for _ in range(24)),
    'garbage-after.bin': AUTH + call('GetCapabilities') + bytes(range(256)) * 4,
    'truncated.bin': AUTH + call('Prepare3Params', 'a{sv}ayu', (params, b'x' * 100, 1))[:70],
    'no-auth.bin': call('GetCapabilities'),
    'auth-external.bin': b'\0AUTH EXTERNAL 30\r\nBEGIN\r\n' + call('GetCapabilities'),
    'auth-garbage.bin': b'\0AUTH \xff\xfe\r\n' * 8 + b'BEGIN\r\n',
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
print(len(seeds), 'seeds')
