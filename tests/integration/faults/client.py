#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The driving client of a managed migration in a process of its own, so that
a fault-matrix case can make it vanish the hard way (kill -9): both of its bus
connections close at once, without a word, as when migrationctl or a
management application dies.

    client.py SOURCE_BUS DESTINATION_BUS DOMAIN_PATH NAME FLAGS BANDWIDTH LAST_PHASE < DESTINATION_XML

It calls the v3 phases (the ...Params forms) from Begin up to LAST_PHASE
(begin, prepare, perform, finish or confirm) and prints one JSON line on
stdout as each one returns: {"phase": "begin"}, ... For perform it prints
{"phase": "perform-started"} as soon as Perform3Params is sent (the test
waits for the stream itself) and {"phase": "perform"} when it replies. A
phase that fails prints {"phase": ..., "error": ...} and ends the process
with status 1. After LAST_PHASE it keeps its connections open until it is
killed. BANDWIDTH 0 means no bandwidth parameter.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.append(os.path.join(os.path.dirname(HERE), 'migration'))

import harness  # noqa: E402
import migtest  # noqa: E402

GLib = harness.GLib

PHASES = ('begin', 'prepare', 'perform', 'finish', 'confirm')


class RemoteHost:
    """What migtest.Managed needs of a host: a name and a connection."""

    def __init__(self, name, address):
        self.name = name
        self.address = address
        self.client = None

    def connect(self):
        if self.client is None:
            self.client = harness.Client(self.address, 'vanishing-client-' + self.name)
        return self.client


class RemoteGuest:
    def __init__(self, path, name):
        self.path = path
        self.name = name


def say(**what):
    sys.stdout.write(json.dumps(what) + '\n')
    sys.stdout.flush()


def main():
    if len(sys.argv) != 8 or sys.argv[7] not in PHASES:
        sys.stderr.write(__doc__)
        return 2
    src_bus, dst_bus, path, name, flags, bandwidth, last = sys.argv[1:]
    dest_xml = sys.stdin.read()
    src, dst = RemoteHost('source', src_bus), RemoteHost('destination', dst_bus)
    m = migtest.Managed(None, RemoteGuest(path, name), src, dst, flags=int(flags), dest_xml=dest_xml,
                        bandwidth=int(bandwidth) or None)
    # Both connections exist before the first call: the client's leaving
    # closes both at once.
    src.connect()
    dst.connect()
    steps = {'begin': m.begin, 'prepare': m.prepare, 'finish': m.finish, 'confirm': m.confirm}
    for phase in PHASES[:PHASES.index(last) + 1]:
        try:
            if phase == 'perform':
                pending = m.perform_start()
                say(phase='perform-started')
                if last == 'perform':
                    break
                m.perform_wait()
            else:
                steps[phase]()
        except GLib.Error as e:
            say(phase=phase, error=harness.dbus_error_message(e))
            return 1
        say(phase=phase)
    loop = GLib.MainLoop()
    if last == 'perform':
        def reply_came():
            if not pending.done:
                return GLib.SOURCE_CONTINUE
            if pending.error is not None:
                say(phase='perform', error=harness.dbus_error_message(pending.error))
            else:
                say(phase='perform')
            return GLib.SOURCE_REMOVE
        GLib.timeout_add(50, reply_came)
    # Until kill -9 (or the test's death: PR_SET_PDEATHSIG).
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
