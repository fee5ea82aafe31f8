"""--count-messages: every message on both hosts' buses during each timed
section of paths (b) and (c), by kind and member, from a dbus-monitor
--profile on each bus (it costs the bus daemon a copy of every message, so
it is not for the timed figures' sake: run it apart from them)."""

import collections
import os
import subprocess
import time

from .common import BenchError, log, now, stop_process

KINDS = {'sig': 'signal', 'mc': 'call', 'mr': 'return', 'err': 'error'}


class BusMonitors:
    def __init__(self, bench):
        self.bench = bench
        self.procs = {}           # host name -> (Popen, output path)

    def start(self, hosts):
        for h in hosts:
            path = os.path.join(self.bench.tmp, 'busmon-%s.tsv' % h.name)
            f = open(path, 'wb')
            # Line-buffered: the last messages of a run are in the file when it is read.
            p = subprocess.Popen(['stdbuf', '-oL', 'dbus-monitor', '--address', h.bus.address, '--profile'],
                                 stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            f.close()
            self.procs[h.name] = (p, path)
        deadline = now() + 30
        for name, (p, path) in self.procs.items():
            # Attached once its own BecomeMonitor call has gone by (the header comes first).
            while os.path.getsize(path) == 0 or b'NameLost' not in open(path, 'rb').read():
                if p.poll() is not None or now() > deadline:
                    raise BenchError('dbus-monitor on the bus of %s did not start' % name)
                time.sleep(0.05)
        log('--count-messages: dbus-monitor on %s' % ', '.join(sorted(self.procs)))

    def stop(self):
        for p, _path in self.procs.values():
            stop_process(p, 10)

    def read(self, name):
        out = []
        with open(self.procs[name][1], errors='replace') as f:
            for line in f:
                fields = line.rstrip('\n').split('\t')
                if len(fields) < 3 or fields[0] not in KINDS:
                    continue
                member = fields[7] if fields[0] in ('sig', 'mc') and len(fields) > 7 else ''
                out.append((float(fields[1]), KINDS[fields[0]], member))
        return out

    def attribute(self, results):
        """Each run with a 'bus_window' gets 'bus_messages': {role: {"kind member": n}}."""
        self.stop()
        msgs = {name: self.read(name) for name in self.procs}
        for r in results:
            w = r.pop('bus_window', None)
            if w is None:
                continue
            t0, t1, hosts = w
            counts = {}
            for role, name in hosts.items():
                c = collections.Counter(('%s %s' % (k, m)).strip() for t, k, m in msgs.get(name, ())
                                        if t0 <= t <= t1)
                counts[role] = dict(c)
            r['bus_messages'] = counts
