#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Makes D-Bus calls as whoever runs it (the tests run it as uid 65534 with
setpriv) and prints one JSON result per call.

    caller.py ADDRESS < calls.json

calls.json is a list of {"dest", "path", "iface", "method", "sig", "args",
"interactive", "timeout_ms"}; "args" is the GVariant text format of the
argument tuple (GLib.Variant.print_), parsed here with the type "(sig)".
Each result is {"ok": true, "reply": TEXT} or {"ok": false, "error": NAME,
"message": MESSAGE}. One connection serves all calls (one bus name, as a
client program would have), and the connection's unique name is printed
first: {"unique_name": ...}.
"""

import json
import os
import re
import sys

import gi
gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio  # noqa: E402


def main():
    address = sys.argv[1]
    calls = json.load(sys.stdin)
    conn = Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    out = [{'unique_name': conn.get_unique_name(), 'uid': os.getuid(), 'gid': os.getgid()}]
    for c in calls:
        params = None
        if c.get('sig'):
            params = GLib.Variant.parse(GLib.VariantType.new('(%s)' % c['sig']), c['args'], None, None)
        # A message rather than call_sync(): the interface may be absent.
        msg = Gio.DBusMessage.new_method_call(c['dest'], c['path'], c.get('iface'), c['method'])
        if params is not None:
            msg.set_body(params)
        if c.get('interactive'):
            msg.set_flags(msg.get_flags() | Gio.DBusMessageFlags.ALLOW_INTERACTIVE_AUTHORIZATION)
        try:
            reply, _serial = conn.send_message_with_reply_sync(msg, Gio.DBusSendMessageFlags.NONE,
                                                               c.get('timeout_ms', 120000), None)
            reply.to_gerror()
            body = reply.get_body()
            out.append({'ok': True, 'reply': body.print_(True) if body is not None else '()'})
        except GLib.Error as e:
            name = Gio.DBusError.get_remote_error(e)
            m = re.match(r'^GDBus\.Error:[^ ]+: (.*)$', e.message, re.S)
            out.append({'ok': False, 'error': name, 'message': m.group(1) if m else e.message})
    conn.close_sync(None)
    json.dump(out, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
