"""libvirt-dbus on libvirt's test driver: bench/scale's side-by-side anchor.

libvirt-dbus runs on bench/scale's private bus (as a system-bus service, its
name org.libvirt) and opens test:///default in its own process at the first
call to /org/libvirt/Test: an in-memory hypervisor with one domain ("test")
and no libvirtd. bench/scale times it with the same raw-socket client, in the
same alternating blocks, as migrationd. This module starts and stops it,
defines its domains and prints the side-by-side table; the loops are
bench/scale's.
"""

import os
import shutil
import subprocess
import time

NAME = 'org.libvirt'
CONNECT_PATH = '/org/libvirt/Test'
CONNECT_IFACE = 'org.libvirt.Connect'
DOMAIN_IFACE = 'org.libvirt.Domain'
PROPS_IFACE = 'org.freedesktop.DBus.Properties'

# The goals for migrationd against libvirt-dbus (ratio ours/theirs),
# and for GetManagedObjects with 1,001 domains (absolute).
GOAL_P50 = 0.7
GOAL_P99 = 1.0
GOAL_RSS = 0.5
GOAL_GMO_MS = 15.0


def find_binary(explicit=None):
    """Path of libvirt-dbus, or None when it is not installed."""
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which('libvirt-dbus') or next(
        (p for p in ('/usr/sbin/libvirt-dbus', '/usr/bin/libvirt-dbus') if os.access(p, os.X_OK)), None)


def package_version(package):
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', package],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def domain_xml(name):
    """The test driver's equivalent of bench/scale's definition."""
    return ("<domain type='test'><name>%s</name><memory unit='MiB'>64</memory>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>" % name)


class LibvirtDbus:
    def __init__(self, binary, bus_address, log_path):
        self.binary = binary
        self.bus_address = bus_address
        self.log_path = log_path
        self.proc = None
        self.log = None
        self.version = package_version('libvirt-dbus')
        self.libvirt_version = package_version('libvirt0')

    @property
    def pid(self):
        return self.proc.pid

    def start(self, has_owner, timeout_s=60):
        """Starts it and waits until @has_owner(NAME) holds."""
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus_address)
        for var in ('G_MESSAGES_DEBUG', 'MALLOC_PERTURB_', 'MALLOC_CHECK_', 'G_SLICE', 'G_DEBUG'):
            env.pop(var, None)
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([self.binary, '--system'], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, env=env)
        deadline = time.monotonic() + timeout_s
        while not has_owner(NAME):
            if self.proc.poll() is not None:
                raise RuntimeError('libvirt-dbus exited with status %s; see %s'
                                   % (self.proc.returncode, self.log_path))
            if time.monotonic() > deadline:
                raise RuntimeError('libvirt-dbus did not take %s within %d s' % (NAME, timeout_s))
            time.sleep(0.01)

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.log is not None and not self.log.closed:
            self.log.close()


# ---------------------------------------------------------------- the table

def _fmt_ms(v):
    return '%.3f ms' % v if v < 1 else '%.2f ms' % v


def comparison_rows(R):
    """(key, label, ours, theirs, unit, goal ratio or None, spread text) of
    the side-by-side figures in @R (bench/scale's results)."""
    rows = []
    total = '{:,}'.format(R.get('libvirt', {}).get('domains', 0))
    for n_label, suffix in (('1 domain', '1'), (total + ' domains', 'n')):
        for what, label in (('get', 'Properties.Get(Domain, Name)'), ('list', 'ListDomains(0)')):
            key = 'lv_%s_%s' % (what, suffix)
            if key not in R:
                continue
            o, t = R[key]['ours'], R[key]['base']
            for pct, goal in (('p50', GOAL_P50), ('p99', GOAL_P99)):
                spread = 'tenths %s: ours %s, libvirt-dbus %s' % (
                    pct, _range(o['tenths_%s_ms' % pct]), _range(t['tenths_%s_ms' % pct]))
                rows.append(('%s_%s' % (key, pct), '%s %s, %s' % (label, pct, n_label),
                             o['%s_ms' % pct], t['%s_ms' % pct], 'ms', goal, spread))
    if 'lv_gmo' in R:
        o, t = R['lv_gmo']['ours'], R['lv_gmo']['base']
        rows.append(('lv_gmo_p50', 'GetManagedObjects p50 vs their ListDomains, %s domains' % total,
                     o['p50_ms'], t['p50_ms'], 'ms', None,
                     'tenths p50: ours %s, libvirt-dbus %s' % (_range(o['tenths_p50_ms']),
                                                             _range(t['tenths_p50_ms']))))
    if 'lv_rss_n' in R:
        rows.append(('lv_rss_n', 'VmRSS, %s definitions' % total, R['rss_defined']['VmRSS'] / 1024.0,
                     R['lv_rss_n']['VmRSS'] / 1024.0, 'MiB', GOAL_RSS,
                     'RssAnon: ours %.1f, libvirt-dbus %.1f MiB' % (R['rss_defined']['RssAnon'] / 1024.0,
                                                                   R['lv_rss_n']['RssAnon'] / 1024.0)))
        rows.append(('lv_rss_1', 'VmRSS, 1 domain', R['rss_one']['VmRSS'] / 1024.0,
                     R['lv_rss_1']['VmRSS'] / 1024.0, 'MiB', None, ''))
    return rows


def _range(values):
    if not values:
        return '-'
    return '%.3f-%.3f' % (min(values), max(values))


def goals(R):
    """[(label, value, limit, passed)] of the comparison's goals."""
    out = []
    for key, label, ours, theirs, unit, goal, _spread in comparison_rows(R):
        if goal is not None:
            out.append((label, ours / theirs, goal, ours / theirs <= goal))
    if 'lv_gmo' in R:
        p50 = R['lv_gmo']['ours']['p50_ms']
        total = '{:,}'.format(R['libvirt']['domains'])
        out.append(('GetManagedObjects p50, %s domains (ms)' % total, p50, GOAL_GMO_MS, p50 <= GOAL_GMO_MS))
    return out


def print_table(out, R):
    lv = R.get('libvirt')
    out.write('\n')
    if not lv or not lv.get('used'):
        out.write('=' * 78 + '\n')
        out.write('NO SIDE-BY-SIDE FIGURES: libvirt-dbus was not run (%s).\n'
                  % (lv or {}).get('why', 'not installed'))
        out.write('Debian: apt-get install libvirt-dbus libvirt-daemon libvirt-clients\n')
        out.write('=' * 78 + '\n')
        return
    out.write('side by side with libvirt-dbus %s (libvirt %s, test:///default in its process), same\n'
              'raw-socket client, same private bus, alternating blocks of %d calls (order flipped every\n'
              'round); p50/p99 over all calls; spread: min-max of the p50/p99 of each tenth of the calls\n'
              % (lv['version'], lv['libvirt_version'], lv['block']))
    head = ('metric', 'migrationd', 'libvirt-dbus', 'ratio', 'goal', 'result')
    lines = []
    spreads = []
    for key, label, ours, theirs, unit, goal, spread in comparison_rows(R):
        f = _fmt_ms if unit == 'ms' else (lambda v: '%.1f MiB' % v)
        r = ours / theirs
        lines.append((label, f(ours), f(theirs), 'x%.2f' % r, '' if goal is None else '<= x%.2f' % goal,
                      '' if goal is None else ('PASS' if r <= goal else 'FAIL')))
        if spread:
            spreads.append('  %s: %s' % (label, spread))
    if 'lv_gmo' in R:
        p50 = R['lv_gmo']['ours']['p50_ms']
        lines.append(('GetManagedObjects p50, {:,} domains'.format(R['libvirt']['domains']), _fmt_ms(p50), '', '',
                      '<= %g ms' % GOAL_GMO_MS, 'PASS' if p50 <= GOAL_GMO_MS else 'FAIL'))
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    out.write('  '.join(h.ljust(w) for h, w in zip(head, widths)).rstrip() + '\n')
    out.write('  '.join('-' * w for w in widths) + '\n')
    for l in lines:
        out.write('  '.join(c.ljust(w) for c, w in zip(l, widths)).rstrip() + '\n')
    out.write('spread (min-max over the tenths of the calls, ms):\n' + '\n'.join(spreads) + '\n')
    cpu = []
    for key, label in (('lv_get_n', 'Get'), ('lv_list_n', 'ListDomains')):
        if key in R:
            cpu.append('%s: %.1f / %.1f' % (label, R[key]['ours']['daemon_cpu_us_per_call'],
                                            R[key]['base']['daemon_cpu_us_per_call']))
    if cpu:
        out.write('server CPU per call with {:,} domains, us, migrationd / libvirt-dbus: %s\n'.format(
            R['libvirt']['domains']) % '; '.join(cpu))
