"""From the runs to the report: per-case statistics (the JSON's "cases"),
the printed tables, and the JSON conversion."""

import os
import platform
import sys

from .common import GOAL_RATIO, LIBVIRT_GOAL_RATIO, PHASE_METHODS, PHASES, scale
from .profiling import profile_calls
from .report_cpu import c_b_figures, print_c_b
from .stats import diff, median, ratio, summary


def runs_of(results, path, case):
    return [r for r in results if r['path'] == path and r['case'] == case]


def paired(results, case, fn, path='managed', base='raw'):
    """fn(base_run, run) for the runs of the same round of @base ((a)) and @path."""
    raw = {r['round']: r for r in runs_of(results, base, case)}
    out = []
    for m in runs_of(results, path, case):
        r = raw.get(m['round'])
        if r is not None:
            v = fn(r, m)
            if v is not None:
                out.append(v)
    return out


def build_report(bench):
    R = bench.results
    cases = []
    for c in bench.cases:
        raw = runs_of(R, 'raw', c.key)
        man = runs_of(R, 'managed', c.key)
        s = {'key': c.key, 'label': c.label, 'goal': c.goal, 'flags': c.flags(), 'multifd': c.multifd,
             'postcopy_after_s': c.postcopy_after}
        s['raw_total'] = summary([r['total_s'] for r in raw])
        s['managed_total'] = summary([r['total_s'] for r in man])
        s['managed_to_running'] = summary([r['to_destination_running_s'] for r in man])
        s['ratio'] = ratio(s['managed_total']['p50'], s['raw_total']['p50'])
        s['ratio_to_running'] = ratio(s['managed_to_running']['p50'], s['raw_total']['p50'])
        s['pass'] = None if s['ratio'] is None else s['ratio'] <= GOAL_RATIO
        # Every path against (a) raw: (b), and (c) p2p.
        s['paths'] = {}
        for path in bench.paths:
            if path.key == 'raw':
                continue
            runs = runs_of(R, path.key, c.key)
            tot = summary([r['total_s'] for r in runs])
            to_running = summary([r['to_destination_running_s'] for r in runs])
            rt = ratio(tot['p50'], s['raw_total']['p50'])
            s['paths'][path.key] = {
                'label': path.label, 'total': tot, 'to_running': to_running, 'ratio': rt,
                'ratio_to_running': ratio(to_running['p50'], s['raw_total']['p50']),
                'ratio_to_managed': ratio(tot['p50'], s['managed_total']['p50']),
                # (d) libvirt has its own goal, against ours (below).
                'pass': None if rt is None or path.key == 'libvirt' else rt <= GOAL_RATIO,
                'paired_ratios': paired(R, c.key, lambda r, m: m['total_s'] / r['total_s'], path.key),
                'downtime': {'qemu': summary([m['qemu_downtime_s'] for m in runs]),
                             'daemon': summary([m['dest_downtime_s'] for m in runs]),
                             'client': summary([m['client_pause_s'] for m in runs])},
                'transferred_mib': median([m['transferred_bytes'] / 1048576 for m in runs
                                           if m.get('transferred_bytes')]),
                'iterations': median([m['iterations'] for m in runs if m.get('iterations')]),
                'postcopy_switched': sum(1 for m in runs if m['postcopy_switched']),
                'n': len(runs),
                'verified': sum(1 for m in runs if m.get('verified', True)),
            }
        if 'libvirt' in s['paths']:
            s['libvirt'] = libvirt_figures(R, c.key, s)
        if 'p2p' in s['paths'] or any('cpu' in r for r in man):
            s['c_b'] = c_b_figures(R, c.key)
        s['paired_ratios'] = paired(R, c.key, lambda r, m: m['total_s'] / r['total_s'])
        # Phases, client-observed, and with QEMU's own work taken out.
        ph = {}
        for name in PHASES:
            ph[name] = summary([m['phases_s'][name] for m in man])
        excl = {
            'begin': ('nothing (no QEMU work in Begin3)',
                      paired(R, c.key, lambda r, m: m['phases_s']['begin'])),
            'prepare': ("raw QEMU's spawn-to-QMP-ready (Popen() to the qmp_capabilities reply) of the same round",
                        paired(R, c.key, lambda r, m: m['phases_s']['prepare'] - r['spawn_to_qmp_ready_s'])),
            'perform': ("QEMU's total-time (query-migrate) of the raw run of the same round",
                        paired(R, c.key, lambda r, m: diff(m['phases_s']['perform'], r['qemu_total_time_s']))),
            'finish': ("raw's completed-to-running (cont + query-status) of the same round",
                       paired(R, c.key, lambda r, m: m['phases_s']['finish'] - r['completed_to_running_s'])),
            'confirm': ("raw source QEMU's SIGTERM-to-exit (measured after each raw run)",
                        paired(R, c.key, lambda r, m: diff(m['phases_s']['confirm'], r.get('source_exit_s')))),
        }
        equiv = {
            'begin': None,
            'prepare': summary([r['spawn_to_incoming_s'] for r in raw]),
            'perform': summary([r['source_setup_to_completed_s'] for r in raw]),
            'finish': summary([r['completed_to_running_s'] for r in raw]),
            'confirm': summary([r.get('source_exit_s') for r in raw]),
        }
        s['phases'] = {name: {'client': ph[name], 'raw_equivalent': equiv[name],
                              'subtracted': excl[name][0], 'excl_qemu': summary(excl[name][1])}
                       for name in PHASES}
        s['client_between_calls'] = summary([m.get('client_between_calls_s') for m in man])
        s['raw_spawn_to_qmp_ready'] = summary([r['spawn_to_qmp_ready_s'] for r in raw])
        s['raw_spawn_to_greeting'] = summary([r['spawn_to_greeting_s'] for r in raw])
        s['raw_qemu_total_time'] = summary([r['qemu_total_time_s'] for r in raw])
        s['raw_source_exit'] = summary([r.get('source_exit_s') for r in raw])
        # Downtime.
        s['downtime'] = {
            'raw_qemu': summary([r['qemu_downtime_s'] for r in raw]),
            'raw_real': summary([r['real_downtime_s'] for r in raw]),
            'managed_qemu': summary([m['qemu_downtime_s'] for m in man]),
            'managed_daemon': summary([m['dest_downtime_s'] for m in man]),
            'managed_client': summary([m['client_pause_s'] for m in man]),
        }
        s['downtime']['ratio_real'] = ratio(s['downtime']['managed_daemon']['p50'], s['downtime']['raw_real']['p50'])
        s['downtime']['ratio_client'] = ratio(s['downtime']['managed_client']['p50'],
                                              s['downtime']['raw_real']['p50'])
        s['downtime']['ratio_qemu'] = ratio(s['downtime']['managed_qemu']['p50'], s['downtime']['raw_qemu']['p50'])
        s['transferred_mib'] = {'raw': median([r['transferred_bytes'] / 1048576 for r in raw
                                               if r.get('transferred_bytes')]),
                                'managed': median([m['transferred_bytes'] / 1048576 for m in man
                                                   if m.get('transferred_bytes')])}
        s['iterations'] = {'raw': median([r['iterations'] for r in raw if r.get('iterations')]),
                           'managed': median([m['iterations'] for m in man if m.get('iterations')])}
        if c.postcopy:
            s['postcopy_switched'] = {'raw': sum(1 for r in raw if r['postcopy_switched']), 'raw_n': len(raw),
                                      'managed': sum(1 for m in man if m['postcopy_switched']),
                                      'managed_n': len(man)}
        s['unverified'] = [{'path': r['path'], 'round': r['round'], 'note': r['verify_note']}
                           for r in R if r['case'] == c.key and not r.get('verified', True)]
        s['failures'] = [f for f in bench.failures if f['case'] == c.key]
        cases.append(s)
    return cases


def libvirt_figures(R, case, s):
    """Path (d): each of ours against libvirt's wall time (goal: at most
    LIBVIRT_GOAL_RATIO), by medians and paired by round."""
    lv = s['paths']['libvirt']
    out = {'goal_ratio': LIBVIRT_GOAL_RATIO, 'ours': {},
           'elapsed_libvirt': summary([m.get('libvirt_elapsed_s') for m in runs_of(R, 'libvirt', case)])}
    for key in ('managed', 'p2p'):
        total = s['managed_total'] if key == 'managed' else s['paths'].get(key, {}).get('total')
        if total is None:
            continue
        rt = ratio(total['p50'], lv['total']['p50'])
        out['ours'][key] = {
            'ratio': rt, 'pass': None if rt is None else rt <= LIBVIRT_GOAL_RATIO,
            'paired_ratios': paired(R, case, lambda d, m: m['total_s'] / d['total_s'], key, 'libvirt')}
    return out


def fms(v):
    return '-' if v is None else '%.1f' % (v * 1e3)


def fs(v):
    return '-' if v is None else '%.3f' % v


def fx(v):
    return '-' if v is None else 'x%.2f' % v


def table(out, head, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    out.write('  ' + '  '.join(h.ljust(w) for h, w in zip(head, widths)).rstrip() + '\n')
    out.write('  ' + '  '.join('-' * w for w in widths) + '\n')
    for r in rows:
        out.write('  ' + '  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + '\n')


def guest_size_line(bench):
    """QEMU's -m (the TCG pad included) and what the guest's memory check covers."""
    kib = sorted(set(bench.ram_kib.values()))
    parts = ['QEMU -m %s KiB%s' % ('/'.join(map(str, kib)) or '?',
                                   '' if bench.domain_type == 'kvm' else ' (TCG: off the 256 KiB grid)')]
    for kind, c in sorted(bench.coverage.items()):
        if c['dirty_bytes']:
            parts.append('%s guest checks %d MiB = %.1f %% of its RAM (the rest is never written: zero pages)'
                         % (kind, c['dirty_bytes'] // (1024 * 1024), 100 * c['checked_fraction']))
        else:
            parts.append('%s guest: counter only, no memory check' % kind)
    return '        ' + '; '.join(parts)


def print_report(bench, cases, elapsed, command):
    out = sys.stdout
    a = bench.args
    out.write('\nmigrationd overhead benchmark: managed migration (b)%s against raw QEMU (a)\n'
              % (' and peer-to-peer (c)' if bench.p2p is not None else ''))
    out.write('command: %s\n' % command)
    out.write('host: %s, %d CPUs, load %s before / %s after; accelerator %s; QEMU %s\n'
              % (platform.node(), os.cpu_count(), ' '.join('%.2f' % x for x in bench.load_before),
                 ' '.join('%.2f' % x for x in bench.load_after),
                 'KVM' if bench.domain_type == 'kvm' else 'TCG', bench.qemu_version))
    out.write('guest: tests/guest, %d MiB, 1 vCPU; %d runs per case and path, alternating (+%d warm-up); '
              'run took %.0f s\n' % (a.memory, a.runs, a.warmup, elapsed))
    out.write(guest_size_line(bench) + '\n\n')

    out.write('End to end, median (s).  (a) raw: spawn destination QEMU -> destination running.  '
              '(b) ours: Begin3Params call -> Confirm3Params reply.\n')
    rows = []
    for s in cases:
        goal = ('<= x%.2f' % GOAL_RATIO) if s['goal'] else '(info)'
        res = '' if s['pass'] is None else ('PASS' if s['pass'] else 'FAIL')
        if not s['goal'] and res:
            res = '(%s)' % res.lower()
        rows.append((s['label'], '%s (n=%d)' % (fs(s['raw_total']['p50']), s['raw_total']['n']),
                     '%s (n=%d)' % (fs(s['managed_total']['p50']), s['managed_total']['n']),
                     fx(s['ratio']), goal, res, fs(s['managed_to_running']['p50']), fx(s['ratio_to_running']),
                     '%s..%s' % (fx(min(s['paired_ratios'])) if s['paired_ratios'] else '-',
                                 fx(max(s['paired_ratios'])) if s['paired_ratios'] else '-')))
    table(out, ('case', '(a) raw', '(b) ours', 'b/a', 'goal', 'result', 'ours->dest runs', 'b/a',
                'paired b/a range'), rows)
    out.write('  "ours->dest runs": Begin3Params call -> the client knows the stream completed (Perform3Params reply)\n'
              '  and the guest runs at the destination (State=running signal there, or the Finish3Params reply):\n'
              '  the end point of (a). "paired b/a": ratio of the runs of one round.\n')
    if bench.p2p is not None:
        print_p2p(out, bench, cases)
    print_c_b(out, bench, cases, table, fx)
    if getattr(bench, 'libvirt', None) is not None:
        print_libvirt(out, bench, cases)
    if getattr(bench, 'no_libvirt', None):
        out.write('\n%s\n%s: %s\n%s\n' % ('*' * 72, 'NO LIBVIRT PATH', bench.no_libvirt, '*' * 72))

    out.write('\nPhase calls of (b) as the client sees them (send -> last byte of the reply), ms. '
              'p99 of %d runs is the maximum.\n' % a.runs)
    out.write('"raw step" is the same work on path (a); "excl. QEMU" = phase - QEMU\'s own share, '
              'paired by round (see the legend).\n')
    for s in cases:
        out.write('\n  %s\n' % s['label'])
        rows = []
        for name in PHASES:
            p = s['phases'][name]
            rows.append((PHASE_METHODS[name], fms(p['client']['p50']), fms(p['client']['p99']),
                         fms(p['raw_equivalent']['p50']) if p['raw_equivalent'] else '-',
                         fms(p['excl_qemu']['p50']), fms(p['excl_qemu']['p99'])))
        rows.append(('(client between calls)', fms(s['client_between_calls']['p50']),
                     fms(s['client_between_calls']['p99']), '-', '-', '-'))
        table(out, ('phase', 'p50', 'p99', 'raw step p50', 'excl. QEMU p50', 'excl. QEMU p99'), rows)
    out.write('\n  legend, what "excl. QEMU" subtracts:\n')
    for name in PHASES:
        out.write('    %-15s %s\n' % (PHASE_METHODS[name], cases[0]['phases'][name]['subtracted'] if cases else ''))
    out.write('    raw step: Prepare = spawn -> migrate-incoming reply; Perform = first source command -> '
              'MIGRATION completed;\n'
              '              Finish = completed -> query-status running; Confirm = raw source QEMU SIGTERM -> exit '
              '(outside the clock of (a)).\n')

    out.write('\nDowntime, median ms (guest paused: source stop -> destination runs)\n')
    rows = []
    for s in cases:
        d = s['downtime']
        rows.append((s['label'], fms(d['raw_qemu']['p50']), fms(d['raw_real']['p50']),
                     fms(d['managed_qemu']['p50']), fms(d['managed_daemon']['p50']),
                     fms(d['managed_client']['p50']), fx(d['ratio_real'])))
    table(out, ('case', '(a) QEMU', '(a) STOP->RESUME', '(b) source', '(b) GetJobStats(1) dest',
                '(b) client-seen', '(b) dest / (a) real'), rows)
    out.write('  (a) QEMU: query-migrate "downtime" of the source QEMU.\n'
              '  (b) source: the source\'s JobCompleted (= its GetJobStats(1)): the destination\'s figure, which\n'
              '      Finish3\'s cookie takes back to Confirm3 (QEMU\'s own ends before the destination resumes).\n'
              '  (a) STOP->RESUME: QEMU\'s event timestamps, source STOP to destination RESUME.\n'
              '  (b) GetJobStats(1) dest: the daemon\'s "downtime": source STOP (wall clock, from the cookie) to the\n'
              '      destination\'s resume as the daemon records it, at the end of Finish3.\n'
              '  (b) client-seen: PropertiesChanged State=paused (source) to State=running (destination).\n')

    out.write('\nOther figures, medians\n')
    rows = []
    for s in cases:
        pc = ''
        if 'postcopy_switched' in s:
            p = s['postcopy_switched']
            pc = '%d/%d raw, %d/%d ours' % (p['raw'], p['raw_n'], p['managed'], p['managed_n'])
        rows.append((s['label'], fms(s['raw_spawn_to_qmp_ready']['p50']), fms(s['raw_qemu_total_time']['p50']),
                     fms(s['raw_source_exit']['p50']),
                     '%s / %s' % ('-' if s['transferred_mib']['raw'] is None else '%.0f' % s['transferred_mib']['raw'],
                                  '-' if s['transferred_mib']['managed'] is None
                                  else '%.0f' % s['transferred_mib']['managed']),
                     '%s / %s' % (s['iterations']['raw'], s['iterations']['managed']), pc or '-'))
    table(out, ('case', 'QEMU spawn->QMP ms', 'QEMU total-time ms', 'QEMU exit ms', 'MiB sent a/b',
                'passes a/b', 'switched to post-copy'), rows)

    if a.profile:
        out.write('\n--profile: where the time of each phase call of (b) goes. The daemons\' debug log lines\n'
                  '(1 ms resolution) between the call\'s send and its reply, at their median offset from the\n'
                  'send over the runs (ms), "+d" = median gap to the previous line; n = runs with that line.\n')
        for s in cases:
            out.write('\n  %s\n' % s['label'])
            calls = [(path, PHASE_METHODS[name]) for name in PHASES for path in ('managed',)]
            if bench.p2p is not None:
                calls.append(('p2p', 'MigrateToURI3'))
            for path, method in calls:
                rows = profile_calls(runs_of(bench.results, path, s['key']), [method])[method]
                out.write('    %s%s (sent at 0)\n' % (method, ' (c)' if path == 'p2p' else ''))
                prev, prev_text = 0.0, 'client: %s sent' % method
                for med, n, text in rows:
                    if med - prev >= a.profile_min_ms or text.startswith('client: '):
                        out.write('      %7.1f  %+7.1f  n=%-2d %s\n%28s(after: %s)\n'
                                  % (med, med - prev, n, text[:100], '', prev_text[:90]))
                    prev, prev_text = med, text
    problems = False
    for s in cases:
        for u in s['unverified']:
            problems = True
            out.write('\nNOT VERIFIED: %s, %s round %d: %s' % (s['label'], u['path'], u['round'], u['note']))
        for f in s['failures']:
            problems = True
            out.write('\nFAILED: %s, %s round %d: %s' % (s['label'], f['path'], f['round'], f['error']))
        if 'postcopy_switched' in s and (s['postcopy_switched']['raw'] < s['postcopy_switched']['raw_n'] or
                                         s['postcopy_switched']['managed'] < s['postcopy_switched']['managed_n']):
            problems = True
            p = s['postcopy_switched']
            out.write('\nNOTE: %s: switched to post-copy in %d/%d raw and %d/%d managed runs; the others completed '
                      'in pre-copy first\n(QEMU total-time p50 %s ms): the switch must come while pre-copy still runs; '
                      'try a smaller --postcopy-after.'
                      % (s['label'], p['raw'], p['raw_n'], p['managed'], p['managed_n'],
                         fms(s['raw_qemu_total_time']['p50'])))
    if problems:
        out.write('\n')
    goals = [s for s in cases if s['goal']]
    failed = [s['label'] for s in goals if s['pass'] is False]
    out.write('\ngoal b/a <= %.2f: %s\n' % (GOAL_RATIO, 'met for every guest' if not failed
                                             else 'MISSED for ' + '; '.join(failed)))
    if bench.p2p is not None:
        failed = [s['label'] for s in goals if s['paths']['p2p']['pass'] is False]
        out.write('goal c/a <= %.2f: %s\n' % (GOAL_RATIO, 'met for every guest' if not failed
                                              else 'MISSED for ' + '; '.join(failed)))
    if getattr(bench, 'libvirt', None) is not None:
        for key, letter in (('managed', 'b'), ('p2p', 'c')):
            lv = [s for s in goals if key in s.get('libvirt', {}).get('ours', {})]
            if not lv:
                continue
            failed = [s['label'] for s in lv if s['libvirt']['ours'][key]['pass'] is False]
            out.write('goal %s/d <= %.2f: %s\n' % (letter, LIBVIRT_GOAL_RATIO, 'met for every guest' if not failed
                                                  else 'MISSED for ' + '; '.join(failed)))


def print_p2p(out, bench, cases):
    """Path (c): the end-to-end table in the style of (b)'s, its downtime and
    the relayed call's latency."""
    out.write('\nEnd to end, median (s).  (a) raw, as above.  (c) peer-to-peer: MigrateToURI3 call -> its reply '
              '(after Confirm3 at the source).\n')
    rows = []
    for s in cases:
        p = s['paths']['p2p']
        goal = ('<= x%.2f' % GOAL_RATIO) if s['goal'] else '(info)'
        res = '' if p['pass'] is None else ('PASS' if p['pass'] else 'FAIL')
        if not s['goal'] and res:
            res = '(%s)' % res.lower()
        pr = p['paired_ratios']
        rows.append((s['label'], '%s (n=%d)' % (fs(s['raw_total']['p50']), s['raw_total']['n']),
                     '%s (n=%d)' % (fs(p['total']['p50']), p['total']['n']), fx(p['ratio']), goal, res,
                     fs(p['to_running']['p50']), fx(p['ratio_to_running']),
                     '%s..%s' % (fx(min(pr)) if pr else '-', fx(max(pr)) if pr else '-'), fx(p['ratio_to_managed'])))
    table(out, ('case', '(a) raw', '(c) p2p', 'c/a', 'goal', 'result', 'p2p->dest runs', 'c/a',
                'paired c/a range', 'c/b'), rows)
    out.write('  "p2p->dest runs": MigrateToURI3 call -> the source\'s JobPhase=perform3_done signal (the stream\n'
              '  completed) and the State=running signal at the destination (at the latest JobPhase=confirm3 at the\n'
              '  source): the end point of (a). "c/b": (c) against (b), both medians of this run.\n')
    out.write('\nPath (c), other figures, medians\n')
    rows = []
    for s in cases:
        p = s['paths']['p2p']
        d = p['downtime']
        rows.append((s['label'], fms(d['qemu']['p50']), fms(d['daemon']['p50']), fms(d['client']['p50']),
                     fx(ratio(d['daemon']['p50'], s['downtime']['raw_real']['p50'])),
                     '-' if p['transferred_mib'] is None else '%.0f' % p['transferred_mib'], str(p['iterations']),
                     '%d/%d' % (p['postcopy_switched'], p['n']) if s['postcopy_after_s'] is not None else '-'))
    table(out, ('case', '(c) QEMU downtime ms', '(c) GetJobStats(1) dest ms', '(c) client-seen ms',
                '(c) dest / (a) real', 'MiB sent', 'passes', 'switched to post-copy'), rows)
    rel = bench.relay
    if rel is None:
        return
    out.write('\nRelayed call: %s on %s, through its migration-bridge (mutual TLS, as peer %s) against the same\n'
              'call on its bus; %d calls per leg in alternating blocks of %d, ms\n'
              % (rel['method'], rel['host'], rel['peer_identity'], rel['calls'], rel['block']))
    rows = []

    def fus(v):
        return '-' if v is None else '%.3f' % (v * 1e3)
    for client, c in rel['clients'].items():
        rows.append((client, fus(c['bus']['p50']), fus(c['bus']['p99']), fus(c['bridge']['p50']),
                     fus(c['bridge']['p99']), fus(c['added_p50_s']), fus(c['added_p99_s']), fx(c['ratio_p50']),
                     fx(c['ratio_p99'])))
    table(out, ('client', 'bus p50', 'bus p99', 'bridge p50', 'bridge p99', 'added p50', 'added p99',
                'ratio p50', 'ratio p99'), rows)
    ls = rel['link_setup']
    out.write('  bus: client -> dbus-daemon -> migrationd. bridge: client -TLS-> migration-bridge -> dbus-daemon ->\n'
              '  migrationd. GDBus: Gio.DBusConnection.call_sync (worker-thread hand-offs in both legs); raw: bench/scale\'s\n'
              '  raw-socket client (plain socket / Python ssl). "added" = bridge - bus.\n'
              '  link set-up (TCP connect, TLS handshake, ANONYMOUS authentication, Peer.Ping; GDBus), paid by the\n'
              '  first MigrateToURI3 to a peer (the source keeps the link, [peer] idle_timeout): p50 %s ms, max %s ms (n=%d)\n' % (fms(ls['p50']), fms(ls['max']), ls['n']))


def print_libvirt(out, bench, cases):
    """Path (d): ours against libvirt's `virsh migrate --live --p2p`."""
    out.write('\nAgainst libvirt, median (s).  (d) libvirt: spawn of `virsh migrate --live --p2p` -> its exit '
              '(after Confirm at the source).\n')
    rows = []
    for s in cases:
        if 'libvirt' not in s:
            continue
        lv = s['paths']['libvirt']
        ours = s['libvirt']['ours']
        cols = [s['label'], '%s (n=%d)' % (fs(lv['total']['p50']), lv['total']['n']),
                '%s..%s' % (fs(lv['total']['min']), fs(lv['total']['max']))]
        for key in ('managed', 'p2p'):
            o = ours.get(key)
            if o is None:
                cols += ['-', '-', '-']
                continue
            res = '' if o['pass'] is None else ('PASS' if o['pass'] else 'FAIL')
            pr = o['paired_ratios']
            cols += [fx(o['ratio']), res, '%s..%s' % (fx(min(pr)) if pr else '-', fx(max(pr)) if pr else '-')]
        cols += [fms(lv['downtime']['qemu']['p50']),
                 '%s..%s' % (fms(lv['downtime']['qemu']['min']), fms(lv['downtime']['qemu']['max'])),
                 '%d/%d' % (lv['verified'], lv['n'])]
        rows.append(cols)
    table(out, ('case', '(d) libvirt', '(d) min..max', 'b/d', 'result', 'paired b/d', 'c/d', 'result',
                'paired c/d', '(d) downtime ms', '(d) downtime min..max', '(d) verified'), rows)
    out.write('  goal b/d and c/d <= x%.2f (issue 14). "(d) downtime": libvirt\'s own "Total downtime" of the\n'
              '  completed incoming job (virsh domjobinfo --completed at the destination). "verified": runs whose\n'
              '  guest went on at the destination with its memory intact (the same check as every path).\n'
              '  Not run: post-copy (virsh switches after the first pass, not after N s).\n'
              % LIBVIRT_GOAL_RATIO)


def jsonable(v):
    return scale.jsonable(v)
