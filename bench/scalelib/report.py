"""bench/scale's report: the rows with their goals, the table, the JSON's helpers."""

import math
import os
import platform
import subprocess
import sys

from . import libvirt as lvlib
from .common import BUS_NAME
from .stats import median, ratio


GOALS = {
    # key: (operator, limit, unit, text)
    'rss_defined_mib': ('<', 20.0, 'MiB', 'RSS < 20 MiB'),
    'rss_restarted_mib': ('<', 20.0, 'MiB', 'RSS < 20 MiB'),
    'startup_s': ('<', 0.5, 's', 'start < 0.5 s'),
    'gmo_p50_ms': ('<', 50.0, 'ms', 'GetManagedObjects < 50 ms'),
    'gmo_p99_ms': ('<', 50.0, 'ms', 'GetManagedObjects < 50 ms'),
    'prop_get_p99_ms': ('<', 5.0, 'ms', 'p99 < 5 ms'),
    'lookup_p99_ms': ('<', 5.0, 'ms', 'p99 < 5 ms'),
}


def build_report(args, R, elapsed):
    mib = lambda kib: kib / 1024.0  # noqa: E731
    rows = []

    def row(key, label, value, unit, base=None, base_label='', note=''):
        goal = GOALS.get(key)
        passed = None
        if goal is not None and value is not None:
            op, limit = goal[0], goal[1]
            passed = value < limit if op == '<' else value > limit
        rows.append({
            'key': key, 'label': label, 'value': value, 'unit': unit,
            'baseline': base, 'baseline_label': base_label, 'ratio': ratio(value, base),
            'goal': ('%s %g %s' % (goal[0], goal[1], goal[2])) if goal else None,
            'pass': passed, 'note': note,
        })

    n = args.domains
    row('define_total_s', 'DefineXML x %d, total' % n, R['define']['total_s'], 's')
    row('define_p50_ms', 'DefineXML p50', R['define']['p50_ms'], 'ms')
    row('define_p99_ms', 'DefineXML p99', R['define']['p99_ms'], 'ms')
    row('rss_defined_mib', 'RSS after defining 1 + %d' % n, mib(R['rss_defined']['VmRSS']), 'MiB',
        mib(R['rss_empty']['VmRSS']), 'same daemon, 0 domains')
    row('rss_restarted_mib', 'RSS after restart, 1 + %d loaded' % n, mib(R['rss_restarted']['VmRSS']),
        'MiB', mib(R['rss_empty']['VmRSS']), 'same daemon, 0 domains')
    row('rss_end_mib', 'RSS at the end of the run', mib(R['rss_end']['VmRSS']), 'MiB',
        mib(R['rss_empty']['VmRSS']), 'same daemon, 0 domains')
    row('rss_anon_restarted_mib', 'RssAnon after restart', mib(R['rss_restarted']['RssAnon']), 'MiB',
        mib(R['rss_empty']['RssAnon']), '0 domains')
    per_domain = (R['rss_restarted']['VmRSS'] - R['rss_empty']['VmRSS']) * 1024.0 / (n + 1)
    row('rss_per_domain_kib', 'RSS per loaded domain', per_domain / 1024.0, 'KiB')
    full, empty = R['startup_full'], R['startup_empty']
    row('startup_s', 'start-up, %d defs (median of %d)' % (n, len(full['runs_s'])),
        median(full['runs_s']), 's', median(empty['runs_s']), 'start-up, 0 defs')
    row('startup_max_s', 'start-up, %d defs (worst)' % n, max(full['runs_s']), 's',
        max(empty['runs_s']) if empty['runs_s'] else None, 'start-up, 0 defs')
    row('startup_cpu_s', 'start-up: migrationd CPU, %d defs' % n, median(full['cpu_at_ready_s']), 's',
        median(empty['cpu_at_ready_s']), '0 defs')
    row('startup_bus_cpu_s', 'start-up: dbus-daemon CPU, %d defs' % n, median(full['bus_cpu_s']), 's',
        median(empty['bus_cpu_s']), '0 defs')
    g = R['gmo']
    row('gmo_p50_ms', 'GetManagedObjects p50 (%d calls)' % g['ours']['n'], g['ours']['p50_ms'], 'ms',
        g['base']['p50_ms'], 'ListNames p50')
    row('gmo_p99_ms', 'GetManagedObjects p99 (= max)' if g['ours']['n'] < 100
        else 'GetManagedObjects p99', g['ours']['p99_ms'], 'ms', g['base']['p99_ms'], 'ListNames p99')
    row('gmo_reply_kib', 'GetManagedObjects reply size', R['gmo_reply_bytes'] / 1024.0, 'KiB',
        R['list_names_reply_bytes'] / 1024.0, 'ListNames reply')
    row('gmo_daemon_cpu_ms', 'GetManagedObjects daemon CPU/call', g['ours']['daemon_cpu_us_per_call'] / 1e3,
        'ms')
    for key, label, base_label in (('prop_get', 'Properties.Get(State)', 'GetNameOwner'),
                                   ('lookup', 'LookupByName', 'GetNameOwner'),
                                   ('ping', 'Peer.Ping on migrationd', 'GetNameOwner')):
        r = R[key]
        row(key + '_p50_ms', '%s p50' % label, r['ours']['p50_ms'], 'ms', r['base']['p50_ms'],
            base_label + ' p50')
        row(key + '_p99_ms', '%s p99' % label, r['ours']['p99_ms'], 'ms', r['base']['p99_ms'],
            base_label + ' p99')
        row(key + '_daemon_cpu_us', '%s daemon CPU/call' % label, r['ours']['daemon_cpu_us_per_call'],
            'us')
    return rows


def fmt(v, unit):
    if v is None:
        return '-'
    if isinstance(v, float) and math.isnan(v):
        return 'n/a'
    if unit == 'ms' and v < 1:
        return '%.3f %s' % (v, unit)
    if unit == 's' and v < 1:
        return '%.1f ms' % (v * 1e3)
    return '%.2f %s' % (v, unit) if v < 100 else '%.0f %s' % (v, unit)


def print_table(args, R, rows, elapsed, command):
    out = sys.stdout
    n = args.domains
    out.write('\nmigrationd scale benchmark: %d domains, %d calls per latency loop\n' % (n, args.calls))
    out.write('command: %s\n' % command)
    load = lambda key: ' '.join('%.2f' % x for x in R[key])  # noqa: E731
    out.write('machine: %s, %d CPUs, %s; load %s before, %s after; %s; run took %.1f s\n\n'
              % (platform.node(), os.cpu_count(), 'KVM' if os.access('/dev/kvm', os.R_OK | os.W_OK) else 'no KVM',
                 load('loadavg_before'), load('loadavg_after'), R['qemu_version'], elapsed))
    head = ('metric', 'ours', 'baseline', 'ratio', 'goal', 'result')
    lines = []
    for r in rows:
        base = fmt(r['baseline'], r['unit'])
        if r['baseline'] is not None:
            base += ' (%s)' % r['baseline_label']
        result = '' if r['pass'] is None else ('PASS' if r['pass'] else 'FAIL')
        lines.append((r['label'], fmt(r['value'], r['unit']), base,
                      '' if r['ratio'] is None else 'x%.2f' % r['ratio'], r['goal'] or '', result))
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    out.write('  '.join(h.ljust(w) for h, w in zip(head, widths)).rstrip() + '\n')
    out.write('  '.join('-' * w for w in widths) + '\n')
    for l in lines:
        out.write('  '.join(c.ljust(w) for c, w in zip(l, widths)).rstrip() + '\n')

    out.write('\nstart-up runs (s), %d defs: %s\n' % (n, ' '.join('%.3f' % x for x in R['startup_full']['runs_s'])))
    out.write('start-up runs (s), 0 defs:  %s\n' % ' '.join('%.3f' % x for x in R['startup_empty']['runs_s']))
    out.write('start-up: Popen() (fork+exec) -> NameOwnerChanged(%s gets an owner) handled by the client;\n'
              '          the first start, on an empty state directory, took %.3f s\n'
              % (BUS_NAME, R['startup_first_empty_s']))
    out.write('\nper call, us (from /proc/PID/task/*/schedstat): on-CPU time, and run-queue wait (runnable\n'
              'but not running: time lost to other load on the machine); ours / baseline\n')
    out.write('  %-18s %-20s %-24s %-24s %s\n' % ('', 'migrationd cpu/wait', 'dbus-daemon cpu',
                                                 'client cpu', 'wait dbus-daemon+client'))
    for key, label in (('prop_get', 'Properties.Get'), ('lookup', 'LookupByName'),
                       ('ping', 'Peer.Ping'), ('gmo', 'GetManagedObjects')):
        o, b = R[key]['ours'], R[key]['base']
        out.write('  %-18s %8.1f / %-9.1f %9.1f / %-12.1f %9.1f / %-12.1f %9.1f / %.1f\n'
                  % (label, o['daemon_cpu_us_per_call'], o['daemon_wait_us_per_call'],
                     o['bus_cpu_us_per_call'], b['bus_cpu_us_per_call'],
                     o['client_cpu_us_per_call'], b['client_cpu_us_per_call'],
                     o['bus_wait_us_per_call'] + o['client_wait_us_per_call'],
                     b['bus_wait_us_per_call'] + b['client_wait_us_per_call']))
    out.write('  throughput, calls/s: %s\n' % '; '.join(
        '%s %.0f / %.0f' % (label, R[key]['ours']['calls_per_s'], R[key]['base']['calls_per_s'])
        for key, label in (('prop_get', 'Properties.Get'), ('lookup', 'LookupByName'),
                           ('ping', 'Peer.Ping'), ('gmo', 'GetManagedObjects'))))
    out.write('\nclient: the timed loops use a raw-socket client (bytes marshalled beforehand, replies\n'
              'read to their last byte, never parsed); its timing loop costs %.2f us/call without I/O (p50),\n'
              'its CPU per call is in the table above. Not in any figure: a GDBus client would spend\n'
              '%.1f ms parsing one GetManagedObjects reply and Python %.1f ms more unpacking it.\n'
              % (R['client_loop_overhead']['p50_ms'] * 1e3, R['gmo_client_gdbus_parse_ms'],
                 R['gmo_client_unpack_ms']))
    out.write('Baselines are round trips to the bus driver (one hop); calls to migrationd take two hops\n'
              '(client -> dbus-daemon -> migrationd and back), so even a daemon that cost nothing shows\n'
              'a ratio above 1: compare with the Peer.Ping row, answered inside sd-bus.\n')
    base_p99 = max(R[k]['base']['p99_ms'] for k in ('prop_get', 'lookup', 'ping'))
    if base_p99 > 1.0:
        out.write('\nNOTE: the baselines themselves have a p99 up to %.2f ms (a quiet machine gives ~0.1 ms):\n'
                  'the machine is busy (load average %s), and tail latencies here measure its scheduling as\n'
                  'much as the daemon; judge p99 by the ratio and by the run-queue wait above.\n'
                  % (base_p99, ' '.join('%.2f' % x for x in os.getloadavg())))
    lvlib.print_table(out, R)
    failed = [r['label'] for r in rows if r['pass'] is False]
    failed += [g[0] for g in lvlib.goals(R) if not g[3]]
    out.write('\ngoals: %s\n' % ('all met' if not failed else 'MISSED: ' + '; '.join(failed)))


def qemu_version(qemu):
    """First line of `qemu --version`, e.g. 'QEMU emulator version 7.2.22 (Debian ...)'."""
    try:
        out = subprocess.run([qemu, '--version'], capture_output=True, text=True, timeout=30).stdout
        return out.splitlines()[0].strip() if out.strip() else 'QEMU: no version'
    except (OSError, subprocess.SubprocessError):
        return 'QEMU not found (%s)' % qemu


def jsonable(v):
    """NaN/inf become null: strict JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v
