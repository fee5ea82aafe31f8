"""The 16 load clients (bench/loadlib/client.py processes) and their
figures: calls per second, p50/p99/max per call type, over a time window."""

import json
import os
import subprocess
import sys

from overheadlib.common import BenchError, GLib, scale
from overheadlib.stats import pct

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'client.py')
KINDS = ('Properties.Get', 'ListDomains', 'GetJobStats')


def blob(dest, path, iface, method, sig=None, args=None):
    body = GLib.Variant(sig, args) if sig else None
    return bytes(scale.RawBus.marshal(dest, path, iface, method, body)[0]).hex()


def migrationd_calls(domain_paths):
    """Per client: Get(Domain, Name), ListDomains(0), GetJobStats(0), cycling
    over @domain_paths (the client index picks where it starts)."""
    from overheadlib.common import BUS_NAME, DOMAIN_IFACE, MANAGER_IFACE, MANAGER_PATH, PROPS_IFACE
    out = []
    for p in domain_paths:
        out.append([blob(BUS_NAME, p, PROPS_IFACE, 'Get', '(ss)', (DOMAIN_IFACE, 'Name')),
                    blob(BUS_NAME, MANAGER_PATH, MANAGER_IFACE, 'ListDomains', '(u)', (0,)),
                    blob(BUS_NAME, p, DOMAIN_IFACE, 'GetJobStats', '(u)', (0,))])
    return out


def libvirt_calls(lv, domain_path):
    """The same three calls to libvirt-dbus on its test driver; its test
    driver has no virDomainGetJobStats (nor GetJobInfo: "not supported by the
    connection driver"), so the third is Domain.GetState(0), the nearest
    per-domain call it answers."""
    return [[blob(lv.NAME, domain_path, lv.PROPS_IFACE, 'Get', '(ss)', (lv.DOMAIN_IFACE, 'Name')),
             blob(lv.NAME, lv.CONNECT_PATH, lv.CONNECT_IFACE, 'ListDomains', '(u)', (0,)),
             blob(lv.NAME, domain_path, lv.DOMAIN_IFACE, 'GetState', '(u)', (0,))]]


class Load:
    """@n client processes on the bus at @address, each making @call_sets[i %
    len] in turn (Get, ListDomains, GetJobStats, Get, ...) from go() to stop()."""

    def __init__(self, address, call_sets, n):
        self.procs = []
        for i in range(n):
            p = subprocess.Popen([sys.executable, CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True)
            self.procs.append(p)
            calls = call_sets[i % len(call_sets)]
            # Each client starts at another call type, so all three run at once.
            calls = calls[i % 3:] + calls[:i % 3]
            p.stdin.write(json.dumps({'address': address, 'calls': calls}) + '\n')
            p.stdin.flush()
        for p in self.procs:
            if p.stdout.readline().strip() != 'ready':
                raise BenchError('a load client did not start (status %s)' % p.poll())
        self.shift = [i % 3 for i in range(n)]

    def go(self):
        for p in self.procs:
            p.stdin.write('go\n')
            p.stdin.flush()

    def stop(self):
        """Stops every client; returns [(kind index, start ns, latency ns)]
        and {error name: count}."""
        for p in self.procs:
            p.stdin.write('stop\n')
            p.stdin.flush()
        calls, errors = [], {}
        for i, p in enumerate(self.procs):
            if p.stdout.readline().strip() != 'result':
                raise BenchError('a load client failed (status %s)' % p.wait())
            d = json.loads(p.stdout.readline())
            p.wait()
            for k, t, lat in zip(d['kinds'], d['starts'], d['lats']):
                if k < 0:
                    continue
                calls.append(((k + self.shift[i]) % 3, t, lat))
            for name, c in d['errors'].items():
                errors[name] = errors.get(name, 0) + c
        self.procs = []
        return calls, errors

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs = []


def summarize(calls, errors, t_from, t_to):
    """Figures of the calls that started in [t_from, t_to] (ns): calls/s, and
    per type n, p50, p99, max (ms)."""
    sel = [c for c in calls if t_from <= c[1] <= t_to]
    span = (t_to - t_from) / 1e9
    out = {'seconds': span, 'calls': len(sel), 'calls_per_s': len(sel) / span if span > 0 else 0.0,
           'errors': dict(errors), 'kinds': {}}
    every = []
    for k, name in enumerate(KINDS):
        lats = sorted(c[2] / 1e6 for c in sel if c[0] == k)
        every += lats
        if lats:
            out['kinds'][name] = {'n': len(lats), 'p50_ms': pct(lats, 50), 'p99_ms': pct(lats, 99),
                                  'max_ms': lats[-1], 'calls_per_s': len(lats) / span}
    every.sort()
    if every:
        out['all'] = {'n': len(every), 'p50_ms': pct(every, 50), 'p99_ms': pct(every, 99),
                      'max_ms': every[-1]}
    return out
