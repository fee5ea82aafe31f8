"""Path (c) against (b) run by run: the paired c/b ratios, and with --cpu the
CPU time of each process during the timed sections (cpuacct)."""

from .stats import median, summary


def by_round(results, path, case):
    return {r['round']: r for r in results if r['path'] == path and r['case'] == case}


def c_b_figures(results, case):
    """The paired c/b ratios of @case's rounds, and per process the CPU
    seconds of (b) and (c) (medians) and their paired difference."""
    man = by_round(results, 'managed', case)
    p2p = by_round(results, 'p2p', case)
    rounds = sorted(set(man) & set(p2p))
    out = {'paired_c_b': summary([p2p[k]['total_s'] / man[k]['total_s'] for k in rounds])}
    # The runs of (c) that dialed the peer (its kept link had been closed,
    # [peer] idle_timeout) against those that found it open.
    for dialed in (True, False):
        ks = [k for k in rounds if bool(p2p[k].get('link_dialed')) == dialed]
        out['paired_c_b_dialed' if dialed else 'paired_c_b_kept_link'] = summary(
            [p2p[k]['total_s'] / man[k]['total_s'] for k in ks])
    out.update(outside_stream(man, p2p, rounds))
    msgs = message_figures(man, p2p)
    if msgs:
        out['bus_messages'] = msgs
    if not any('cpu' in r for r in list(man.values()) + list(p2p.values())):
        return out
    roles = sorted({role for r in list(man.values()) + list(p2p.values()) for role in r.get('cpu', {})})
    # Everything but the QEMUs: what the paths themselves cost.
    ours = [r for r in roles if 'QEMU' not in r]
    cpu = {}
    for role in roles + ['total without QEMUs']:
        def get(r, role=role):
            c = r.get('cpu')
            if c is None:
                return None
            if role == 'total without QEMUs':
                return sum(c[x]['cpu_s'] for x in ours if x in c)
            return c[role]['cpu_s'] if role in c else None
        pairs = [(get(man[k]), get(p2p[k])) for k in rounds]
        cpu[role] = {'managed': summary([get(r) for r in man.values()]),
                     'p2p': summary([get(r) for r in p2p.values()]),
                     'paired_c_minus_b': summary([c - b for b, c in pairs if b is not None and c is not None])}
    out['cpu'] = cpu
    # Per second of the timed section: a longer run costs more, a busier one
    # more per second.
    out['cpu_per_s'] = {path: median([sum(r['cpu'][x]['cpu_s'] for x in ours if x in r['cpu']) / r['total_s']
                                       for r in runs.values() if 'cpu' in r])
                        for path, runs in (('managed', man), ('p2p', p2p))}
    return out


def outside_stream(man, p2p, rounds):
    """The clock less the stream (JobPhase perform3 -> perform3_done at the
    source): what a path adds around the same QEMU work. The stream's own
    time swings with the machine's load by a factor of 3 from one run to the
    next; what is around it does not, so c/b is also estimated as (the
    stream's median over both paths + each path's median around it)."""
    def get(r, k):
        return r.get(k)
    o = {}
    for path, runs in (('managed', man), ('p2p', p2p)):
        o[path] = summary([get(r, 'outside_stream_s') for r in runs.values()])
    o['paired_c_minus_b'] = summary([p2p[k]['outside_stream_s'] - man[k]['outside_stream_s'] for k in rounds
                                     if 'outside_stream_s' in p2p[k] and 'outside_stream_s' in man[k]])
    stream = summary([get(r, 'stream_s') for r in list(man.values()) + list(p2p.values())])
    o['stream'] = stream
    est = None
    if stream['n'] and o['managed']['n'] and o['p2p']['n']:
        est = (stream['p50'] + o['p2p']['p50']) / (stream['p50'] + o['managed']['p50'])
    o['c_b_estimate'] = est
    return {'outside_stream': o}


def message_figures(man, p2p):
    """--count-messages: per bus and message, the median count per run of
    (b) and (c), and per second of the timed section."""
    runs = {'managed': [r for r in man.values() if 'bus_messages' in r],
            'p2p': [r for r in p2p.values() if 'bus_messages' in r]}
    if not runs['managed'] and not runs['p2p']:
        return None
    keys = sorted({(role, k) for rs in runs.values() for r in rs for role, c in r['bus_messages'].items() for k in c})
    out = {}
    for role, k in keys + [(role, 'all') for role in ('source', 'destination')]:
        def n(r):
            c = r['bus_messages'].get(role, {})
            return sum(c.values()) if k == 'all' else c.get(k, 0)
        out['%s bus: %s' % (role, k)] = {
            path: {'per_run': median([n(r) for r in rs]), 'per_s': median([n(r) / r['total_s'] for r in rs])}
            for path, rs in runs.items()}
    return out


def print_c_b(out, bench, cases, table, fx):
    for s in cases:
        f = s.get('c_b')
        if not f:
            continue
        pr = f['paired_c_b']
        if pr['n']:
            out.write('\n(c) against (b), %s: paired c/b median %s over %d rounds, range %s..%s '
                      '(daemons\' [peer] idle_timeout %s)\n'
                      % (s['label'], fx(pr['p50']), pr['n'], fx(pr['min']), fx(pr['max']),
                         '%d s' % bench.args.peer_idle_timeout if bench.args.peer_idle_timeout is not None
                         else 'their default'))
            for key, what in (('paired_c_b_kept_link', 'found its kept link'),
                              ('paired_c_b_dialed', 'dialed the peer (kept link closed)')):
                v = f[key]
                if v['n']:
                    out.write('  rounds whose (c) %s: %d, paired c/b median %s, range %s..%s\n'
                              % (what, v['n'], fx(v['p50']), fx(v['min']), fx(v['max'])))
        o = f.get('outside_stream')
        if o and o['stream']['n']:
            def s3(x):
                return '-' if x is None else '%.3f' % x
            d = o['paired_c_minus_b']
            out.write('  the clock less the stream (source JobPhase perform3 -> perform3_done), median s: (b) %s '
                      '[%s..%s], (c) %s [%s..%s]; c-b paired median %s [%s..%s]\n'
                      % (s3(o['managed']['p50']), s3(o['managed']['min']), s3(o['managed']['max']),
                         s3(o['p2p']['p50']), s3(o['p2p']['min']), s3(o['p2p']['max']),
                         s3(d['p50']), s3(d['min']), s3(d['max'])))
            out.write('  the stream, both paths, median %s s [%s..%s]; c/b estimated from these medians: %s\n'
                      % (s3(o['stream']['p50']), s3(o['stream']['min']), s3(o['stream']['max']),
                         fx(o['c_b_estimate'])))
        if 'bus_messages' in f:
            out.write('  Bus messages during the timed section, median per run (per s)\n')
            rows = []
            for key, v in f['bus_messages'].items():
                rows.append((key,) + tuple('-' if v[p]['per_run'] is None else '%g (%.1f/s)'
                                           % (v[p]['per_run'], v[p]['per_s']) for p in ('managed', 'p2p')))
            table(out, ('bus: message', '(b) managed', '(c) p2p'), rows)
        if 'cpu' not in f:
            continue
        out.write('  CPU during the timed section, ms per run (median over the runs; "c-b" paired by round)\n')
        rows = []
        for role, v in f['cpu'].items():
            def ms(x):
                return '-' if x is None else '%.1f' % (x * 1e3)
            d = v['paired_c_minus_b']
            rows.append((role, ms(v['managed']['p50']), ms(v['p2p']['p50']), ms(d['p50']),
                         '%s..%s' % (ms(d['min']), ms(d['max']))))
        table(out, ('process', '(b) managed', '(c) p2p', 'c-b median', 'c-b range'), rows)
        ps = f['cpu_per_s']
        out.write('  without QEMUs, ms of CPU per s of the timed section: (b) %s, (c) %s\n'
                  % tuple('-' if ps[k] is None else '%.1f' % (ps[k] * 1e3) for k in ('managed', 'p2p')))
