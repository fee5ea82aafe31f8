"""What bench/scale's modules share: PyGObject, the bus names, BenchError, log."""

import sys

try:
    import gi
    gi.require_version('Gio', '2.0')
    gi.require_version('GLib', '2.0')
    from gi.repository import Gio, GLib
except (ImportError, ValueError) as exc:  # pragma: no cover - environment
    sys.exit('bench/scale needs PyGObject with Gio (Debian: apt-get install python3-gi '
             'gir1.2-glib-2.0) and must run with /usr/bin/python3: %s' % exc)

__all__ = ['Gio', 'GLib', 'BUS_NAME', 'MANAGER_PATH', 'MANAGER_IFACE', 'DOMAIN_IFACE', 'DBUS_NAME', 'DBUS_PATH',
           'DBUS_IFACE', 'PROPS_IFACE', 'OM_IFACE', 'PEER_IFACE', 'BenchError', 'log']

BUS_NAME = 'org.example.Migration1'
MANAGER_PATH = '/org/example/Migration1'
MANAGER_IFACE = 'org.example.Migration1.Manager'
DOMAIN_IFACE = 'org.example.Migration1.Domain'
DBUS_NAME = 'org.freedesktop.DBus'
DBUS_PATH = '/org/freedesktop/DBus'
DBUS_IFACE = 'org.freedesktop.DBus'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'
OM_IFACE = 'org.freedesktop.DBus.ObjectManager'
PEER_IFACE = 'org.freedesktop.DBus.Peer'


class BenchError(Exception):
    pass


def log(msg):
    print('scale: ' + msg, file=sys.stderr, flush=True)
