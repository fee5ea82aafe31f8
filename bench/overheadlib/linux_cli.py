"""--linux-guest: its command line, exit codes (0 ok, 1 a goal missed under
--strict, 2 an error or a failed run, 77 a dependency missing, 130
interrupted) and JSON document."""

import json
import os
import platform
import signal
import sys
import time

from .common import BenchError, GLib, Interrupted, log
from .linux_bench import LinuxBench
from .linux_env import SKIP, Skip
from .linux_report import build_linux_report, print_linux_report
from .report import jsonable

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

    def on_signal(signum, frame):
        raise Interrupted('signal %d' % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    command = ' '.join([sys.argv[0]] + sys.argv[1:])
    bench = LinuxBench(args)
    start = time.monotonic()
    try:
        bench.setup()
        bench.run()
    except Skip as e:
        log('\n*** SKIP: %s ***\n' % e)
        return SKIP
    except BenchError as e:
        log('error: %s' % e)
        return 2
    except GLib.Error as e:
        log('error: D-Bus call failed: %s' % e.message)
        for h in bench.hosts:
            log('%s log tail:\n%s' % (h.name, h.log_tail()))
        return 2
    except (KeyboardInterrupt, Interrupted) as e:
        log('interrupted (%s); cleaning up' % (str(e) or 'Ctrl-C'))
        return 130
    finally:
        bench.cleanup()
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
    for target in ([open(args.json_file, 'w')] if args.json_file else []) + ([sys.stdout] if args.json else []):
        json.dump(jsonable(doc), target, indent=2, allow_nan=False)
        target.write('\n')
        if target is not sys.stdout:
            target.close()
    if not args.json:
        print_linux_report(bench, rep, elapsed, command)
    if bench.failures or any(not r.get('verified', True) for r in bench.results):
        return 2
    return 1 if (args.strict and not doc['goals_met']) else 0
