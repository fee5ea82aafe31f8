"""The command line: options, signal handling, exit codes (0 ok, 1 a goal
missed under --strict, 2 an error or a failed run, 130 interrupted) and the
JSON document."""

import argparse
import os
import platform
import subprocess
import time

from .bench import PATH_CLASSES, Bench
from .common import GOAL_RATIO, harness
from .report import build_report, print_report
from .runner import command_line, run_bench, write_document


def qemu_version(qemu):
    try:
        out = subprocess.run([qemu, '--version'], capture_output=True, text=True, timeout=30).stdout
        return out.split('\n')[0].replace('QEMU emulator version ', '')
    except (OSError, subprocess.SubprocessError):
        return '?'


def main(description):
    """The benchmark; returns the exit status. @description: the first paragraph
    of bench/overhead's docstring, the --help text."""
    ap = argparse.ArgumentParser(description=description,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build-dir', default='./build', help='meson build directory (default ./build)')
    ap.add_argument('--runs', type=int, default=11, help='runs per case and path (default 11)')
    ap.add_argument('--guests', default='idle,dirty', help='guest kinds: idle, dirty (default idle,dirty)')
    ap.add_argument('--json', action='store_true', help='print machine-readable JSON instead of the tables')
    ap.add_argument('--json-file', metavar='PATH', help='also write the JSON to PATH (with the tables on stdout)')
    ap.add_argument('--extended', dest='extended', action='store_true', default=True,
                    help='also the dirtying guest under multifd and post-copy (default: on)')
    ap.add_argument('--no-extended', dest='extended', action='store_false',
                    help='only the plain cases of --guests')
    ap.add_argument('--cases', default='',
                    help='only these cases (idle, dirty, dirty-multifd, dirty-postcopy); default: all that '
                         '--guests and --extended select')
    ap.add_argument('--paths', default='raw,managed',
                    help='paths to measure: raw, managed, p2p, libvirt (default raw,managed; p2p and libvirt '
                         'need managed; libvirt: virsh migrate --live --p2p between two libvirtd, as root)')
    ap.add_argument('--bridge', help='migration-bridge binary, path (c) (default BUILD_DIR/src/migration-bridge)')
    ap.add_argument('--relay-calls', type=int, default=500,
                    help='path (c): calls per leg of the relayed-call latency (0: not measured; default 500)')
    ap.add_argument('--relay-block', type=int, default=100,
                    help='path (c): calls per alternating block of the relayed-call latency (default 100)')
    ap.add_argument('--relay-links', type=int, default=20,
                    help='path (c): link set-ups to the bridge timed after the relayed calls (default 20)')
    ap.add_argument('--peer-idle-timeout', type=int, metavar='S', default=3600,
                    help='path (c): [peer] idle_timeout of both daemons (default 3600: every timed run of (c) '
                         'finds the link its host dialed in the warm-up, whatever the time between two runs '
                         'from the same host; the daemons\' own default is 60); 0 sets up a new link for every '
                         'migration, as before links were kept')
    ap.add_argument('--warmup', type=int, default=1, help='untimed warm-up rounds of each path (default 1)')
    ap.add_argument('--memory', type=int, default=512, help='guest RAM, MiB (default 512)')
    ap.add_argument('--prealloc', action='store_true',
                    help="guests with <memoryBacking><allocation mode='immediate'/>: RAM preallocated at "
                         "QEMU's start (the raw path reuses the daemon's command line, so it gets the same)")
    ap.add_argument('--dirty', default='64M', help='dirty= of the dirtying guest (default 64M)')
    ap.add_argument('--multifd-channels', type=int, default=4, help='multifd channels (default 4)')
    ap.add_argument('--postcopy-after', type=float, default=1.0,
                    help='seconds after the stream started to switch to post-copy (default 1)')
    ap.add_argument('--no-dirty-wait-pass', dest='dirty_wait_pass', action='store_false', default=True,
                    help='start the clock at the first counter even if the dirtying guest has not '
                         'rewritten its area once yet')
    ap.add_argument('--accel', choices=('auto', 'kvm', 'tcg'), default='auto',
                    help='auto: KVM when /dev/kvm works (MD_ACCEL=kvm|qemu forces), else TCG')
    ap.add_argument('--daemon', help='migrationd binary (default BUILD_DIR/src/migrationd)')
    ap.add_argument('--kernel', help='guest kernel (default BUILD_DIR/tests/guest/guest.elf)')
    ap.add_argument('--qemu', default=harness.QEMU_BINARY, help='QEMU binary (default %(default)s)')
    ap.add_argument('--profile', action='store_true',
                    help='run the daemons with G_MESSAGES_DEBUG=all and keep their log lines of each run '
                         '(in the JSON, "profile"); slightly perturbs what it measures')
    ap.add_argument('--profile-min-ms', type=float, default=2.0,
                    help='with --profile, list the log lines that came at least this long (median, ms) '
                         'after the previous one (default 2)')
    ap.add_argument('--cpu', action='store_true',
                    help='paths (b) and (c): the CPU time each process (daemons, buses, bridges, QEMUs, this '
                         'client) used during each timed section, from /proc (in the JSON, "cpu")')
    ap.add_argument('--count-messages', action='store_true',
                    help='paths (b) and (c): count the messages on both buses during each timed section '
                         '(dbus-monitor; perturbs the times, run it apart; in the JSON, "bus_messages")')
    ap.add_argument('--strict', action='store_true', help='exit 1 when a goal is missed')
    ap.add_argument('--tmp-dir', metavar='DIR',
                    help='where the temporary directory goes (the daemons\' state directories, whose status '
                         'files they fsync, are in it); default: the system\'s, e.g. /tmp')
    ap.add_argument('--ignore-memory-check', action='store_true',
                    help='start even when MemAvailable cannot hold every guest QEMU the run may keep at once '
                         '(--memory times paths and guest kinds, plus a destination)')
    ap.add_argument('--keep-temp', action='store_true', help='keep the temporary directory (logs, consoles)')
    ap.add_argument('--linux-guest', action='store_true',
                    help='instead of the tests/guest cases: the Linux test guest with a qcow2 disk and a virtio '
                         'NIC on a bridge, LIVE|NON_SHARED_DISK, against raw QEMU doing the same and qemu-img '
                         'convert; needs root and apt (exit 77 when it cannot run)')
    ap.add_argument('--disk-size', default='1G', help='--linux-guest: the disk, filled with data (default 1G)')
    ap.add_argument('--ping-interval', type=float, default=0.01,
                    help='--linux-guest: seconds between pings to each guest (default 0.01)')
    ap.add_argument('--stats-poll', type=float, default=0.1,
                    help='--linux-guest: GetJobStats(0) of the source every S seconds during the migration '
                         'call, to time the disk copy (default 0.1; 0: not polled)')
    args = ap.parse_args()
    if args.linux_guest:
        from .linux_cli import linux_main
        return linux_main(ap, args, qemu_version(args.qemu))
    args.guests = [g.strip() for g in args.guests.split(',') if g.strip()]
    args.paths = [p.strip() for p in args.paths.split(',') if p.strip()]
    args.cases = [c.strip() for c in args.cases.split(',') if c.strip()]
    for c in args.cases:
        if c not in ('idle', 'dirty', 'dirty-multifd', 'dirty-postcopy'):
            ap.error('unknown case %r (idle, dirty, dirty-multifd, dirty-postcopy)' % c)
    for g in args.guests:
        if g not in ('idle', 'dirty'):
            ap.error('unknown guest %r (idle, dirty)' % g)
    for p in args.paths:
        if p not in PATH_CLASSES:
            ap.error('unknown path %r (%s)' % (p, ', '.join(PATH_CLASSES)))
    if args.relay_block < 1 or args.relay_calls < 0 or args.relay_links < 1:
        ap.error('--relay-block >= 1, --relay-calls >= 0, --relay-links >= 1')
    if args.runs < 1 or args.warmup < 0 or args.memory < 64 or args.postcopy_after < 0:
        ap.error('--runs >= 1, --warmup >= 0, --memory >= 64, --postcopy-after >= 0')

    command = command_line()
    bench = Bench(args)
    if not bench.cases:
        ap.error('no case selected')
    start = time.monotonic()
    status = run_bench(bench, lambda b: setattr(b, 'qemu_version', qemu_version(b.qemu)))
    if status is not None:
        return status
    elapsed = time.monotonic() - start
    cases = build_report(bench)
    failed = [s for s in cases if s['goal'] and (s['pass'] is False or any(
        p['pass'] is False for k, p in s['paths'].items() if k != 'managed') or any(
        o['pass'] is False for o in s.get('libvirt', {}).get('ours', {}).values()))]
    doc = {
        'benchmark': 'migrationd-overhead',
        'version': 1,
        'command': command,
        'parameters': {'runs': args.runs, 'warmup': args.warmup, 'guests': args.guests,
                       'extended': args.extended, 'memory_mib': args.memory, 'dirty': args.dirty,
                       'multifd_channels': args.multifd_channels, 'postcopy_after_s': args.postcopy_after,
                       'paths': [p.key for p in bench.paths], 'daemon': os.path.abspath(bench.daemon_path),
                       'kernel': os.path.abspath(bench.kernel), 'qemu': bench.qemu,
                       'qemu_version': bench.qemu_version,
                       'accelerator': 'kvm' if bench.domain_type == 'kvm' else 'tcg',
                       'qemu_argv': getattr(bench, 'qemu_argv_example', None),
                       'qemu_ram_kib': bench.ram_kib, 'memory_check': bench.coverage,
                       'memory_budget': bench.memory_budget,
                       'deadlines_s': {'call': bench.deadlines.call_s, 'boot': bench.deadlines.boot_s,
                                       'verify': bench.deadlines.verify_s}},
        'host': {'node': platform.node(), 'kernel': platform.release(), 'cpus': os.cpu_count(),
                 'loadavg_before': bench.load_before, 'loadavg_after': bench.load_after},
        'elapsed_s': elapsed,
        'goal_ratio': GOAL_RATIO,
        'cases': cases,
        'relay_latency': bench.relay,
        'no_libvirt': bench.no_libvirt,
        'runs': bench.results,
        'failures': bench.failures,
        'goals_met': not failed,
    }
    write_document(doc, args.json_file, args.json)
    if not args.json:
        print_report(bench, cases, elapsed, command)
    if bench.failures:
        return 2
    return 1 if (failed and args.strict) else 0
