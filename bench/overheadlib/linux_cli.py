"""--linux-guest: its command line, exit codes (0 ok, 1 a goal missed under
--strict, 2 an error or a failed run, 77 a dependency missing, 130
interrupted) and JSON document."""

import os
import platform
import sys
import time

from .common import log
from .linux_bench import LinuxBench
from .linux_env import SKIP, Skip
from .linux_report import build_linux_report, print_linux_report
from .runner import command_line, run_bench, write_document

SIZE_UNITS = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}


def linux_main(ap, args, qemu_version):
    size = args.disk_size.strip().upper().rstrip('IB')
    try:
        args.disk_size = int(size[:-1]) * SIZE_UNITS[size[-1]] if size[-1] in SIZE_UNITS else int(size)
    except (ValueError, IndexError):
        ap.error('--disk-size: a size such as 1G or 512M')
    if args.disk_size < (64 << 20):
        ap.error('--disk-size: at least 64M (the guest checks its first 4 MiB)')
    if args.runs == 11 and '--runs' not in ' '.join(sys.argv):
        args.runs = 5
    args.paths = [p.strip() for p in args.paths.split(',')] if isinstance(args.paths, str) else args.paths
    if args.paths == ['raw', 'managed'] and '--paths' not in ' '.join(sys.argv):
        args.paths = ['raw', 'managed', 'p2p']
    args.qemu_version = qemu_version
    command = command_line()
    bench = LinuxBench(args)
    start = time.monotonic()
    try:
        status = run_bench(bench)
    except Skip as e:
        log('\n*** SKIP: %s ***\n' % e)
        return SKIP
    if status is not None:
        return status
    elapsed = time.monotonic() - start
    rep = build_linux_report(bench)
    doc = {'benchmark': 'migrationd-overhead-linux-guest', 'version': 1, 'command': command,
           'parameters': {'runs': args.runs, 'warmup': args.warmup, 'disk_bytes': bench.disk_size,
                          'ping_interval_s': args.ping_interval, 'stats_poll_s': args.stats_poll,
                          'paths': [p.key for p in bench.paths], 'qemu': args.qemu, 'qemu_version': qemu_version,
                          'accelerator': 'kvm' if bench.domain_type == 'kvm' else 'tcg',
                          'guest': bench.stamp, 'qemu_argv': getattr(bench, 'qemu_argv', None)},
           'host': {'node': platform.node(), 'kernel': platform.release(), 'cpus': os.cpu_count(),
                    'loadavg_before': bench.load_before, 'loadavg_after': bench.load_after},
           'elapsed_s': elapsed, 'report': rep, 'runs': bench.results, 'failures': bench.failures,
           'goals_met': all(rep['goals'].values())}
    write_document(doc, args.json_file, args.json)
    if not args.json:
        print_linux_report(bench, rep, elapsed, command)
    if bench.failures or any(not r.get('verified', True) for r in bench.results):
        return 2
    return 1 if (args.strict and not doc['goals_met']) else 0
