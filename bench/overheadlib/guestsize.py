"""What the guest's size (--memory) asks of the machine and of the checks:
enough free RAM for every QEMU the run keeps, the TCG RAM pad on the
daemon's command line, and how much of the RAM the guest's own memory check
covers."""

import re

from .common import BenchError

MIB = 1024 * 1024
GRID_KIB = 256            # QEMU's dirty-bitmap word (64 pages): the TCG pad keeps RAM off it
RESERVE_MIB = 1024        # left to everything else on the machine
HEADER_RE = re.compile(r'^guest: dirty=(\d+) requested=(\d+) mem_upper=(\d+)', re.M)


def mem_available_mib():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) // 1024
    return None


def peak_guest_mib(bench):
    """The most guest RAM the run can hold at once: each path that keeps
    its own guests (raw; managed and p2p share theirs; libvirt) keeps one
    QEMU per guest kind between its runs, and a run adds a destination.
    Every one may hold its whole RAM: under TCG a destination QEMU 7.2 had
    faulted in all of it (RSS = guest RAM, in transparent huge pages) even
    for an idle guest."""
    keepers = {'managed' if p.key == 'p2p' else p.key for p in bench.paths}
    return bench.args.memory * (len(keepers) * len(bench.guests) + 1)


def check_memory(bench):
    """Refuses to start when MemAvailable cannot hold the run's peak, before
    the machine (shared with others) starts swapping or killing."""
    need = peak_guest_mib(bench)
    have = mem_available_mib()
    bench.memory_budget = {'peak_guest_mib': need, 'mem_available_mib': have, 'reserve_mib': RESERVE_MIB}
    if have is None or getattr(bench.args, 'ignore_memory_check', False) or need + RESERVE_MIB <= have:
        return
    raise BenchError('%d MiB guests: the run may hold %d MiB of guest RAM at once (%d QEMUs), but only '
                     '%d MiB are available (%d MiB kept for the rest of the machine); measure fewer guest '
                     'kinds per invocation (--guests idle, then --guests dirty) or fewer paths, or pass '
                     '--ignore-memory-check' % (bench.args.memory, need, need // bench.args.memory, have,
                                                RESERVE_MIB))


def qemu_ram_kib(argv):
    """The RAM of a QEMU command line (migrationd writes `-m size=Nk`), KiB."""
    for opt, val in zip(argv, argv[1:]):
        if opt == '-m':
            m = re.fullmatch(r'(?:size=)?(\d+)([kmg]?)', val.split(',')[0].lower())
            if m:
                return int(m.group(1)) * {'': 1024, 'k': 1, 'm': 1024, 'g': 1024 * 1024}[m.group(2)]
    raise BenchError('no -m size in the daemon\'s QEMU command line %r' % (argv,))


def check_ram_pad(bench, templates):
    """The daemon's QEMU of each guest has at least --memory, and under TCG
    its RAM off the 256 KiB grid (QEMU before 9.0 loses guest writes during
    migration on it; bench/tcg-ram-pad). The raw path reuses this command
    line, so it is checked for both. Returns {kind: KiB}."""
    out = {}
    for kind, argv in templates.items():
        kib = qemu_ram_kib(argv)
        if kib < bench.args.memory * 1024:
            raise BenchError('the %s guest\'s QEMU has %d KiB, less than --memory %d MiB' % (kind, kib,
                                                                                            bench.args.memory))
        if bench.domain_type != 'kvm' and kib % GRID_KIB == 0:
            raise BenchError('the %s guest\'s QEMU runs under TCG with %d KiB of RAM, on the %d KiB grid: '
                             'a live migration can lose guest writes (README, "TCG and live migration")'
                             % (kind, kib, GRID_KIB))
        out[kind] = kib
    return out


def memory_check_coverage(bench, guest, console_path):
    """What the guest's memory check covers, from its console's first line:
    the dirtying guest rewrites and checks `dirty` bytes from 2 MiB on and
    never touches the rest of its RAM (zero pages: sent as such, not
    checked); a dirty area the guest had to clamp is an error."""
    with open(console_path, 'rb') as f:
        text = f.read(4096).decode('ascii', errors='replace')
    m = HEADER_RE.search(text)
    if m is None:
        raise BenchError('no `guest: dirty=` header in %s' % console_path)
    dirty, requested = int(m.group(1)), int(m.group(2))
    if 'WARNING dirty=' in text or dirty < requested:
        raise BenchError('the %s guest clamped its dirty area to %d of %d bytes: --dirty does not fit in '
                         '--memory %d MiB' % (guest.kind, dirty, requested, bench.args.memory))
    return {'dirty_bytes': dirty, 'checked_fraction': dirty / (bench.args.memory * MIB)}
