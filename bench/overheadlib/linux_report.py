"""--linux-guest: the figures of the runs (medians with their spread, the
ratios against the baselines of the same invocation) and the printed report."""

import os
import platform

from .common import GOAL_RATIO
from .stats import median, ratio

THROUGHPUT_GOAL = 0.9          # storage migration / qemu-img convert
OUTAGE_GOAL_S = 0.050          # ping outage - QEMU's downtime


def spread(values):
    s = [v for v in values if v is not None]
    return {'n': len(s), 'median': median(s), 'min': min(s) if s else None, 'max': max(s) if s else None,
            'samples': s}


def build_linux_report(bench):
    mib = bench.disk_size / float(1 << 20)
    runs = {}
    for r in bench.results:
        if r.get('verified', True):
            runs.setdefault(r['path'], []).append(r)
    out = {'paths': {}, 'goals': {}}
    raw_by_round = {r['round']: r for r in runs.get('raw', [])}
    conv_by_round = {r['round']: r for r in runs.get('convert', [])}
    conv_tp = spread([mib / r['disk_phase_s'] for r in runs.get('convert', [])])
    for key, rs in runs.items():
        p = {'total_s': spread([r['total_s'] for r in rs]),
             'disk_phase_s': spread([r.get('disk_phase_s') for r in rs]),
             'throughput_mib_s': spread([mib / r['disk_phase_s'] for r in rs if r.get('disk_phase_s')])}
        if key != 'convert':
            p['qemu_downtime_s'] = spread([r.get('qemu_downtime_s') for r in rs])
            p['outage_s'] = spread([r.get('outage_s') for r in rs])
            p['longest_gap_s'] = spread([r.get('longest_gap_s') for r in rs])
            p['outage_minus_downtime_s'] = spread([r['outage_s'] - r['qemu_downtime_s'] for r in rs
                                                   if r.get('outage_s') is not None and
                                                   r.get('qemu_downtime_s') is not None])
        if key in ('managed', 'p2p') and raw_by_round:
            p['ratio_to_raw'] = ratio(p['total_s']['median'], spread([r['total_s'] for r in runs['raw']])['median'])
            p['paired_ratio_to_raw'] = spread([r['total_s'] / raw_by_round[r['round']]['total_s'] for r in rs
                                               if r['round'] in raw_by_round])
            out['goals']['e2e %s/raw <= %.2f' % (key, GOAL_RATIO)] = (
                p['ratio_to_raw'] is not None and p['ratio_to_raw'] <= GOAL_RATIO)
        if key != 'convert' and conv_tp['median']:
            p['throughput_ratio_to_convert'] = ratio(p['throughput_mib_s']['median'], conv_tp['median'])
            p['paired_throughput_ratio'] = spread([
                conv_by_round[r['round']]['disk_phase_s'] / r['disk_phase_s'] for r in rs
                if r.get('disk_phase_s') and r['round'] in conv_by_round])
            if key in ('managed', 'p2p'):
                out['goals']['storage %s/convert >= %.1f' % (key, THROUGHPUT_GOAL)] = (
                    p['throughput_ratio_to_convert'] is not None and
                    p['throughput_ratio_to_convert'] >= THROUGHPUT_GOAL)
        if key in ('managed', 'p2p'):
            m = p['outage_minus_downtime_s']['median']
            out['goals']['outage %s - downtime <= %d ms' % (key, OUTAGE_GOAL_S * 1e3)] = (
                m is not None and m <= OUTAGE_GOAL_S)
        out['paths'][key] = p
    return out


def f(v, scale=1.0, digits=2):
    return '-' if v is None else '%.*f' % (digits, v * scale)


def rng(s, scale=1.0, digits=2):
    return '%s [%s..%s]' % (f(s['median'], scale, digits), f(s['min'], scale, digits), f(s['max'], scale, digits))


def print_linux_report(bench, rep, elapsed, command):
    a = bench.args
    w = print
    w('bench/overhead --linux-guest: %s' % command)
    w('machine: %s, %d CPUs, kernel %s; load average before %s, after %s'
      % (platform.node(), os.cpu_count(), platform.release(),
         ' '.join('%.2f' % x for x in bench.load_before or ()), ' '.join('%.2f' % x for x in bench.load_after or ())))
    accel = 'KVM' if bench.domain_type == 'kvm' else 'TCG'
    w('accelerator %s; QEMU %s; guest: %s (%s), busybox %s, 256 MiB RAM, virtio NIC on bridge %s, VNC,'
      % (accel, a.qemu_version, bench.stamp['kernel_package'], bench.stamp['kernel_version'],
         bench.stamp['busybox_version'], bench.bridge.name))
    w('  qcow2 disk of %d MiB filled with /dev/urandom data (cache=none); flags LIVE|NON_SHARED_DISK; '
      '%d rounds + %d warm-up; %.0f s in all' % (bench.disk_size >> 20, a.runs, a.warmup, elapsed))
    if accel == 'TCG':
        w('NOTE: TCG (no KVM): absolute times are not comparable with KVM figures; compare the ratios, '
          'which are measured against baselines in the same invocation.')
    w('')
    w('figures: median [min..max] over the verified runs')
    paths = [k for k in ('raw', 'managed', 'p2p', 'convert') if k in rep['paths']]
    labels = {'raw': '(a) raw QEMU', 'managed': '(b) managed', 'p2p': '(c) p2p', 'convert': 'qemu-img convert'}
    w('%-18s %4s %-24s %-22s %-24s %-20s %-20s' % ('path', 'n', 'end to end s', 'ratio to (a) paired',
                                                  'disk MiB/s', 'QEMU downtime ms', 'ping outage ms'))
    for k in paths:
        p = rep['paths'][k]
        ratio_txt = '-'
        if 'ratio_to_raw' in p:
            ratio_txt = '%s (%s..%s)' % (f(p['ratio_to_raw'], digits=3), f(p['paired_ratio_to_raw']['min'], digits=2),
                                         f(p['paired_ratio_to_raw']['max'], digits=2))
        w('%-18s %4d %-24s %-22s %-24s %-20s %-20s' % (
            labels[k], p['total_s']['n'], rng(p['total_s']), ratio_txt, rng(p['throughput_mib_s'], digits=0),
            rng(p['qemu_downtime_s'], 1e3, 0) if 'qemu_downtime_s' in p else '-',
            rng(p['outage_s'], 1e3, 0) if 'outage_s' in p else '-'))
    w('')
    if a.profile:
        ours = 'the source daemon\'s log, "QMP command blockdev-add sent" to "QMP event BLOCK_JOB_READY" (--profile)'
    else:
        ours = ('the source\'s JobPhase=perform3 signal to the first GetJobStats(0) sample (every %g s) with '
                'memory_processed > 0' % a.stats_poll)
    w('storage: throughput = disk size / disk phase; (a) blockdev-add sent to BLOCK_JOB_READY; (b), (c) %s; '
      'convert: the qemu-img process' % ours)
    for k in ('raw', 'managed', 'p2p'):
        p = rep['paths'].get(k)
        if p and 'throughput_ratio_to_convert' in p:
            w('  %-14s / convert: %s (paired %s..%s)   disk phase %s s'
              % (labels[k], f(p['throughput_ratio_to_convert'], digits=3), f(p['paired_throughput_ratio']['min']),
                 f(p['paired_throughput_ratio']['max']), rng(p['disk_phase_s'])))
    w('network: ping outage = the gap between answers of `ping -i %g` through the bridge that spans the middle of '
      'the standstill (raw: QEMU\'s STOP and RESUME time stamps; ours: State=paused at the source and '
      'State=running at the destination as the client received them)' % a.ping_interval)
    w('  %-14s %-26s %s' % ('', 'outage - QEMU downtime ms', 'longest gap of the whole move ms (TCG jitter)'))
    for k in ('raw', 'managed', 'p2p'):
        p = rep['paths'].get(k)
        if p:
            w('  %-14s %-26s %s' % (labels[k], rng(p['outage_minus_downtime_s'], 1e3, 0),
                                    rng(p['longest_gap_s'], 1e3, 0)))
    w('')
    for goal, ok in rep['goals'].items():
        w('goal %-40s %s' % (goal, 'PASS' if ok else 'FAIL'))
    for fl in bench.failures:
        w('FAILED run: %s round %d: %s' % (fl['path'], fl['round'], fl['error']))
    bad = [r for r in bench.results if not r.get('verified', True)]
    for r in bad:
        w('NOT VERIFIED: %s round %d: %s' % (r['path'], r['round'], r['verify_note']))
