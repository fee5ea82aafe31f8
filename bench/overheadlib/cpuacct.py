"""--cpu: the CPU time each process of a run of path (b) or (c) used during
the timed section: both daemons, both bus daemons, both bridges (path (c)'s;
idle on (b)), both QEMUs and this client. On two shared cores every
millisecond of CPU one of them spends is taken from the guests' TCG threads,
so this is where the time a path adds over another goes.

Daemons, buses, bridges and the client: the sum of their threads'
/proc/PID/task/TID/schedstat (on-CPU and run-queue nanoseconds), read before
and after the clock. QEMUs: utime + stime of /proc/PID/stat (clock ticks; it
keeps the CPU of threads that ended, such as the migration thread), sampled
every SAMPLE_S by a thread, because the source QEMU exits before the clock
stops and the destination's starts during it."""

import os
import threading

TICK_S = 1.0 / os.sysconf('SC_CLK_TCK')
SAMPLE_S = 0.1


def schedstat(pid):
    """(on-CPU s, run-queue wait s) of every live thread of @pid, or None."""
    run = wait = 0
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as f:
                fields = f.read().split()
        except OSError:
            continue            # the thread ended meanwhile
        run += int(fields[0])
        wait += int(fields[1])
    return run / 1e9, wait / 1e9


def stat_cpu(pid):
    """utime + stime of @pid in seconds (threads that ended included), or None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(')') + 2:].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


class QemuSampler(threading.Thread):
    """The last CPU time seen of each QEMU of a run, by pid; @find() names
    the pids to follow (the destination's appears during the run)."""

    def __init__(self, find, started_before):
        super().__init__(daemon=True)
        self.find = find
        self.started_before = started_before   # the pid whose CPU before the clock is not counted
        self.first = {}
        self.last = {}
        self.halt = threading.Event()

    def sample(self):
        for pid in self.find():
            t = stat_cpu(pid)
            if t is not None:
                # A QEMU that started during the clock counts from its start.
                self.first.setdefault(pid, t if pid == self.started_before else 0.0)
                self.last[pid] = t

    def run(self):
        while not self.halt.wait(SAMPLE_S):
            self.sample()

    def stop(self):
        self.sample()
        self.halt.set()
        self.join()
        return {pid: self.last[pid] - self.first[pid] for pid in self.last}


class CpuMeter:
    """One run's meter: start() just before the clock, stop() just after it.
    @procs: {role: pid} of the long-lived processes; @src_qemu: the source
    QEMU's pid; @find_qemus(): the guest's QEMU pids now."""

    def __init__(self, procs, src_qemu, find_qemus):
        self.procs = {role: pid for role, pid in procs.items() if pid}
        self.src_qemu = src_qemu
        self.qemus = QemuSampler(find_qemus, src_qemu)
        self.before = {}

    def start(self):
        self.qemus.sample()
        self.qemus.start()
        self.before = {role: schedstat(pid) for role, pid in self.procs.items()}

    def stop(self):
        after = {role: schedstat(pid) for role, pid in self.procs.items()}
        qemus = self.qemus.stop()
        out = {}
        for role, b in self.before.items():
            a = after.get(role)
            if a is not None and b is not None:
                out[role] = {'cpu_s': a[0] - b[0], 'wait_s': a[1] - b[1]}
        for pid, cpu in qemus.items():
            role = 'source QEMU' if pid == self.src_qemu else 'destination QEMU'
            out[role] = {'cpu_s': cpu}
        return out
