"""/proc readings of bench/scale: memory, CPU time and run-queue wait per process."""

import glob
import os
import signal


def proc_status(pid):
    """VmRSS/VmHWM/RssAnon/RssFile of a process, in KiB."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'VmSize'):
                out[key] = int(rest.split()[0])
    return out


CLK_TCK = os.sysconf('SC_CLK_TCK')


def sched_ns(pid):
    """(on-CPU ns, run-queue wait ns) so far, summed over all threads of @pid.

    From /proc/PID/task/TID/schedstat (CONFIG_SCHED_INFO). Without it the
    CPU time comes from utime+stime of /proc/PID/stat (clock ticks) and the
    wait is unknown (NaN)."""
    run = wait = 0
    found = False
    for path in glob.glob('/proc/%d/task/*/schedstat' % pid):
        try:
            with open(path) as f:
                fields = f.read().split()
            run += int(fields[0])
            wait += int(fields[1])
            found = True
        except (OSError, ValueError, IndexError):
            pass
    if found:
        return run, wait
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000000000 // CLK_TCK, float('nan')


def cpu_ns(pid):
    return sched_ns(pid)[0]


def set_pdeathsig():
    """In the child before exec: die with the benchmark, even on SIGKILL.

    Only used for dbus-daemon, which is started before this process has any
    thread (GDBus starts its worker with the first connection); migrationd
    exits by itself when its bus goes away."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass
