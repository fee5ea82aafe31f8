#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fault matrix of a managed migration: five phases x five faults.

Built on ../harness.py and ../migration/migtest.py: two hosts, each its own
bus and migrationd, a 64 MiB counting guest (tests/guest) defined and
running on the source, and a client (this test, or for "client vanishes" a
process of its own, client.py) that calls the five v3 phases in their
...Params form with LIVE | PERSIST_DEST | UNDEFINE_SOURCE, as
`virsh migrate --live --persistent --undefinesource` does.

Where each fault hits:

  begin    after Begin3Params returned, before Prepare3Params is called
           (the source's job is in phase begin3; the destination has nothing);
  prepare  after Prepare3Params returned, before Perform3Params is called
           (source begin3; destination prepare, its QEMU waits with -incoming);
  perform  during the stream: Perform3Params is under way with a 1 MiB/s
           bandwidth, which the guest's dirty rate keeps from converging, and
           the fault comes once JobStatsUpdated reported memory sent
           (memory_processed > 0) while Perform3 has not replied;
  finish   after Finish3Params returned and the guest's counter showed on
           the destination's console, before Confirm3Params is called (the
           guest runs on the destination, whose job has ended; the source QEMU
           is paused, its job in phase perform3_done);
  confirm  after Confirm3Params returned and the guest's counter showed on
           the destination's console (both jobs have ended; the source QEMU
           is gone and its definition undefined).

The faults:

  kill-source-qemu           kill -9 of the guest's QEMU on the source (none
                             is left after Confirm: then nothing to kill);
  kill-destination-qemu      kill -9 of the guest's QEMU on the destination
                             (none exists before Prepare: nothing to kill);
  restart-source-daemon      kill -9 of the source's migrationd, then start
                             it again (its QEMUs outlive it);
  restart-destination-daemon the same on the destination;
  client-vanishes            the driving client is a process of its own
                             connected to both buses; kill -9 of it closes
                             both connections. Nobody finishes the protocol:
                             the test watches both daemons apply their rules.

One cell ends with an operator's step: when the client vanishes after
Finish3, only it knew that Finish3 succeeded; the source keeps its copy
paused and ends its job "outcome unknown" (libvirt's rule), which the case
asserts exactly before it destroys that copy as the operator would and then
checks the whole invariant (resolve_unknown_outcome).

After every other fault the client finishes the protocol as libvirt's
managed client does (virDomainMigrateVersion3Full): the next phases in order;
a failed Prepare is followed by Confirm(cancelled); a failed Perform by
Finish(cancelled) and Confirm(cancelled); a failed Finish (or one that
returned no domain) by Confirm(cancelled); after Finish, Confirm. Errors of
those calls are recorded, not asserted: a client cannot do better than the
rules, and the invariant is what counts.

The invariant every case asserts once things have settled (waited for as a
condition, then checked once more after the guest's counter moved on):

  - the guest runs on exactly one host (State running there, its counter
    going on in that host's serial log, same boot, no MEMORY CORRUPT) or,
    where the fault killed its only QEMU, is shut off on a host that holds
    its definition;
  - no stray QEMU: exactly the one QEMU of the host that runs the guest
    exists (found by UUID in /proc/*/cmdline, assigned to a host by its
    serial log path), none when the guest is shut off;
  - no lost definition: a host holds the guest's persistent definition
    (name, UUID, memory, kernel and command line as defined), and the host
    that runs the guest holds it;
  - no job left: JobType none and GetJobStats type none on both hosts;
  - memory intact: the guest's own check (no MEMORY CORRUPT), one boot, the
    counter continuous, and when the guest moved, the destination's counter
    goes on from the source's last (the guest never went back in time; a
    guest back on the source never ran on the destination); a guest that
    runs on the destination passes harness.check_arrival (it checked its
    whole dirty area there, the counter exactly one on);
  - JobCompleted said what happened: exactly one per job on the host that
    had it (whichever daemon instance ended it), success on the destination
    exactly when the guest ran there, success on the source only if the
    guest ran on the destination, and an errmsg whenever success is false.

Every case logs a line `OUTCOME <case>: ...` (where the guest ended, what the
client saw) for the table in docs/recovery.md.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
PARENT = os.path.dirname(HERE)
sys.path.insert(0, PARENT)
# Appended: the migration directory's test_*.py must not shadow ours.
sys.path.append(os.path.join(PARENT, 'migration'))

import harness  # noqa: E402
import migtest  # noqa: E402
from harness import (DEADLINE, BOOT_DEADLINE, TIMEOUT_FACTOR, ERROR_PREFIX, SerialLog,  # noqa: E402
                     wait_until, pid_alive, proc_cmdline, find_qemu_pids, dbus_error_name,
                     dbus_error_message, log)
from migtest import (LIVE, PERSIST_DEST, UNDEFINE_SOURCE, MIGRATION_DEADLINE, MigrationTestCase,  # noqa: E402
                     MigGuest, Managed, members, recorder, snapshot_before, job_types_seen)

GLib = harness.GLib

PHASES = ('begin', 'prepare', 'perform', 'finish', 'confirm')
FAULTS = ('kill-source-qemu', 'kill-destination-qemu', 'restart-source-daemon',
          'restart-destination-daemon', 'client-vanishes')

FLAGS = LIVE | PERSIST_DEST | UNDEFINE_SOURCE
# The stream under Perform faults: the guest rewrites its whole dirty area
# as fast as it can, so at 1 MiB/s it never converges (the area never fits
# in bandwidth x downtime) and the fault lands mid-stream.
SLOW_MIB_S = 1
# Upper bounds for the daemons' rules to settle; they act in well under a
# second on an idle machine.
SETTLE_DEADLINE = 60.0 * TIMEOUT_FACTOR
CLIENT = os.path.join(HERE, 'client.py')
INACTIVE_XML = 2   # libvirt's VIR_DOMAIN_XML_INACTIVE


def error_text(e):
    name = dbus_error_name(e)
    return '%s: %s' % (name.rsplit('.', 1)[-1] if name else 'error', dbus_error_message(e))


class VanishingClient:
    """client.py in a process of its own, driving the phases up to @last."""

    def __init__(self, tc, m, last):
        self.tc = tc
        self.events = []
        self._buf = b''
        self._stderr = open(os.path.join(tc.workdir, 'client.stderr'), 'wb')
        self.proc = subprocess.Popen(
            [sys.executable, CLIENT, m.src.bus.address, m.dst.bus.address, m.path, m.guest.name,
             str(m.flags), str(m.bandwidth or 0), last],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            close_fds=True, preexec_fn=harness._set_pdeathsig)
        self.proc.stdin.write(m.dest_xml.encode())
        self.proc.stdin.close()
        os.set_blocking(self.proc.stdout.fileno(), False)
        tc.addCleanup(self.close)

    def _read(self):
        with contextlib.suppress(BlockingIOError):
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            self._buf += chunk
        while b'\n' in self._buf:
            line, self._buf = self._buf.split(b'\n', 1)
            self.events.append(json.loads(line))

    def event(self, phase):
        self._read()
        for e in self.events:
            if e['phase'] == phase:
                return e
        return None

    def wait_phase(self, phase):
        """Waits until the client reports @phase; fails if the phase failed."""
        def reported():
            e = self.event(phase)
            if e is None and self.proc.poll() is not None:
                self._read()
                raise AssertionError('the client process exited (%s) before %s: %r' % (
                    harness.describe_status(self.proc.returncode), phase, self.events))
            return e
        e = wait_until(reported, MIGRATION_DEADLINE, 'the client to report %s' % phase)
        self.tc.assertNotIn('error', e, 'the client\'s %s failed before the fault' % phase)
        return e

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self._stderr.close()


class FaultMatrixCase(MigrationTestCase):
    """One case of the matrix per test method: self.run_case(phase, fault)."""

    def run_case(self, phase, fault):
        assert phase in PHASES and fault in FAULTS
        self.case = 'faults/%s-%s' % (phase, fault)
        self.client_saw = []
        g = self.g = MigGuest(self, self.src, profile='normal')
        self.boot, self.src_pid = snapshot_before(g)
        self.src_serial = g.serial
        self.dst_serial = SerialLog(g.next_serial_path())
        m = self.m = Managed(self, g, self.src, self.dst, flags=FLAGS,
                             dest_xml=g.xml(serial_path=self.dst_serial.path),
                             bandwidth=SLOW_MIB_S if phase == 'perform' else None)
        self.srec = recorder(self.src, g.path)
        self.addCleanup(self.srec.close)
        self.drec = recorder(self.dst, g.path)
        self.addCleanup(self.drec.close)
        self.prepared = False

        if fault == 'client-vanishes':
            client = VanishingClient(self, m, phase)
            self.reach_fault_point(phase, client)
            t0 = time.monotonic()
            client.kill()
            log('%s: the client (pid %d) was killed after %r' % (self.case, client.proc.pid, client.events))
            self.client_saw.append('client killed after %s' % ', '.join(
                e['phase'] + (' (%s)' % e['error'] if 'error' in e else '') for e in client.events))
        else:
            self.reach_fault_point(phase, None)
            t0 = time.monotonic()
            self.inject(fault)
            self.finish_protocol(phase)
        log('%s: the client after the fault: %s' % (self.case, '; '.join(self.client_saw) or '-'))
        if (phase, fault) == ('finish', 'client-vanishes'):
            self.resolve_unknown_outcome()
        outcome = self.settle()
        log('OUTCOME %s: the guest %s (settled %.1f s after the fault); client: %s' % (
            self.case, outcome, time.monotonic() - t0, '; '.join(self.client_saw) or '-'))
        self.clean_up_guest(outcome)

    def resolve_unknown_outcome(self):
        """After Finish3 succeeded only the vanished client knew it: the
        source cannot tell a guest running on the destination from a Finish
        that failed, so it keeps its copy paused, never running, and ends
        the job "outcome unknown" (libvirt's rule; docs/recovery.md). That
        safe state is asserted exactly; then the operator's step that
        JobCompleted asks for (here: the guest runs on the destination, so
        destroy the paused copy), after which the whole invariant holds."""
        src_dom = self.g.dom(self.src)
        dst_dom = self.g.dom(self.dst)
        wait_until(lambda: members(self.srec.signals, 'JobCompleted'), SETTLE_DEADLINE,
                   'the source to end its job (JobCompleted)')
        self.assertEqual(src_dom.prop('JobType'), 'none')
        done = [sg.args[0] for sg in members(self.srec.signals, 'JobCompleted')]
        self.assertEqual(len(done), 1, 'JobCompleted on the source: %r' % done)
        self.assertFalse(done[0]['success'])
        self.assertIn('outcome unknown', done[0]['errmsg'].lower())
        self.assertEqual(src_dom.prop('State'), 'paused', 'the source copy runs: split brain')
        self.assertEqual((dst_dom.prop('State'), dst_dom.prop('JobType')), ('running', 'none'))
        self.dst_serial.wait_advance(3, BOOT_DEADLINE)
        self.assertEqual(src_dom.prop('State'), 'paused')
        log('%s: outcome unknown at the source, the guest runs on the destination: the operator '
            'destroys the paused source copy' % self.case)
        src_dom.call('Destroy', 'u', (0,))
        wait_until(lambda: not pid_alive(self.src_pid), SETTLE_DEADLINE, 'the source QEMU to exit')

    # -- up to the fault

    def reach_fault_point(self, phase, client):
        """Runs the phases up to @phase (through @client when given, else
        on the test's own connections) and returns once the fault point is
        reached (see the module's documentation)."""
        m, g = self.m, self.g
        self.perform_pending = None
        for step in PHASES[:PHASES.index(phase) + 1]:
            if client is not None:
                client.wait_phase('perform-started' if step == 'perform' else step)
            elif step == 'begin':
                m.begin()
            elif step == 'prepare':
                m.prepare()
            elif step == 'perform':
                self.perform_pending = m.perform_start()
            elif step == 'finish':
                m.perform_wait()
                path, _ = m.finish()
                self.assertEqual(path, g.path)
            elif step == 'confirm':
                m.confirm()
            if step == 'prepare':
                self.prepared = True
                self.dst_pid = g.qemu_pid_with(self.dst_serial.path)
                self.assertIsNotNone(self.dst_pid, 'Prepare3 started no incoming QEMU')
        if phase == 'perform':
            if client is not None:
                self.wait_mid_stream(lambda: client.event('perform'))
            else:
                self.wait_mid_stream(lambda: self.perform_pending.done and (
                    self.perform_pending.error and error_text(self.perform_pending.error) or 'success'))
        if phase in ('finish', 'confirm'):
            # The guest runs on the destination: its console says so before
            # the fault (a QEMU killed at once would leave no trace of it).
            self.dst_serial.wait_counter(1, BOOT_DEADLINE)
        if phase == 'confirm':
            # UNDEFINE_SOURCE: Confirm3 took the source's domain away.
            self.assertNotIn(g.path, self.src.list_domains(0), 'the source domain after Confirm3')
            return
        expect = {'begin': 'begin3', 'prepare': 'begin3', 'perform': 'perform3', 'finish': 'perform3_done'}
        self.assertEqual(g.dom(self.src).prop('JobPhase'), expect[phase], 'the source job at the fault point')

    def wait_mid_stream(self, perform_replied):
        """Waits until the stream runs with memory sent; @perform_replied
        returns what Perform3 replied, or None while it has not."""
        def streaming():
            if perform_replied():
                return True
            stats = members(self.srec.signals, 'JobStatsUpdated')
            return len(stats) >= 2 and stats[-1].args[0].get('memory_processed', 0) > 0
        wait_until(streaming, MIGRATION_DEADLINE, 'JobStatsUpdated with memory sent during Perform3')
        self.assertFalse(perform_replied(), 'Perform3 replied before the fault (at %d MiB/s): %r' % (
            SLOW_MIB_S, perform_replied()))
        src_dom = self.g.dom(self.src)
        self.assertEqual((src_dom.prop('JobPhase'), src_dom.prop('State')), ('perform3', 'running'))
        stats = members(self.srec.signals, 'JobStatsUpdated')[-1].args[0]
        log('%s: fault mid-stream: %d of %d bytes of memory sent, progress %.1f' % (
            self.case, stats.get('memory_processed', 0), stats.get('memory_total', 0), stats.get('progress', 0)))

    # -- the fault

    def inject(self, fault):
        g = self.g
        if fault in ('kill-source-qemu', 'kill-destination-qemu'):
            serial = self.src_serial if fault == 'kill-source-qemu' else self.dst_serial
            pid = g.qemu_pid_with(serial.path)
            if pid is None:
                log('%s: no %s QEMU at this point: nothing to kill' % (self.case, fault.split('-')[1]))
                self.client_saw.append('no %s QEMU to kill' % fault.split('-')[1])
                return
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), DEADLINE, 'the killed QEMU (pid %d) to be gone' % pid)
            log('%s: killed QEMU pid %d' % (self.case, pid))
            return
        host = self.src if fault == 'restart-source-daemon' else self.dst
        host.kill()
        host.start()
        log('%s: %s migrationd killed and started again' % (self.case, host.name))

    # -- after the fault: the client goes on (libvirt's virDomainMigrateVersion3Full)

    def client_call(self, what, fn):
        try:
            result = fn()
        except GLib.Error as e:
            self.client_saw.append('%s failed (%s)' % (what, error_text(e)))
            return False, None
        self.client_saw.append('%s ok' % what)
        return True, result

    def finish_protocol(self, reached):
        m = self.m
        cancel_finish = lambda: m.finish(cancelled=True)        # noqa: E731
        cancel_confirm = lambda: m.confirm(cancelled=True)      # noqa: E731
        if reached == 'confirm':
            return
        if reached == 'begin':
            ok, _ = self.client_call('Prepare3', m.prepare)
            self.prepared = ok
            if not ok:
                self.client_call('Confirm3(cancelled)', cancel_confirm)
                return
        if reached != 'finish':
            if self.perform_pending is None:
                m.perform_start()
            ok, _ = self.client_call('Perform3', m.perform_wait)
            if not ok:
                self.client_call('Finish3(cancelled)', cancel_finish)
                self.client_call('Confirm3(cancelled)', cancel_confirm)
                return
            ok, result = self.client_call('Finish3', m.finish)
            if not ok or result[0] == '/':
                self.client_call('Confirm3(cancelled)', cancel_confirm)
                return
        self.client_call('Confirm3', m.confirm)

    # -- the invariant

    def observe_host(self, role, host, v):
        """The guest's domain on @host as its daemon reports it (None: no
        such domain)."""
        if not host.running():
            v.append('the %s migrationd is not running (%s)' % (
                role, harness.describe_status(host.proc.poll() if host.proc else None)))
            return None
        try:
            dom = host.lookup_uuid(self.g.uuid)
            props = dom.props()
            props['jobstats'] = dom.call('GetJobStats', 'u', (0,), 'sa{sv}')[0]
            props['definition'] = dom.xml(INACTIVE_XML) if props['Persistent'] else None
        except GLib.Error as e:
            if dbus_error_name(e) == ERROR_PREFIX + 'NoSuchDomain':
                return None
            v.append('the %s does not answer about the guest: %s' % (role, error_text(e)))
            return None
        return props

    def definition_violation(self, role, xml):
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as e:
            return 'the definition on the %s is not XML: %s' % (role, e)
        want = ET.fromstring(self.g.xml())
        fields = ('name', 'uuid', 'vcpu', 'os/kernel', 'os/cmdline')
        got = {f: (root.findtext(f) or '').strip() for f in fields}
        exp = {f: (want.findtext(f) or '').strip() for f in fields}
        mem = root.find('memory')
        kib = int(mem.text) * {'KiB': 1, 'k': 1, 'MiB': 1024, 'M': 1024, 'GiB': 1 << 20}.get(
            mem.get('unit', 'KiB'), 0) if mem is not None else None
        got['memory KiB'], exp['memory KiB'] = kib, 64 * 1024
        if got != exp:
            return 'the definition on the %s changed: %r, defined %r' % (role, got, exp)
        return None

    def memory_violations(self, home):
        """The guest's own check and the counter's story in both serial logs."""
        v = []
        entries = {}
        for role, serial in (('source', self.src_serial), ('destination', self.dst_serial)):
            try:
                entries[role] = serial.entries()
                serial.assert_continuous()
            except AssertionError as e:
                v.append(str(e))
                entries[role] = []
            boots = {b for _, b in entries[role]}
            if boots - {self.boot}:
                v.append('the %s serial log shows another boot of the guest: %r (first boot %s)' % (
                    role, sorted(boots), self.boot))
        if 'guest: dirty=' in self.dst_serial.text():
            v.append('the guest booted afresh on the destination')
        src, dst = entries['source'], entries['destination']
        if dst:
            last = src[-1][0] if src else 0
            first = dst[0][0]
            # The line in flight at the switch-over may be split between the logs.
            if not last < first <= last + 2:
                v.append('the destination counter does not go on from the source\'s: source ended at %d, '
                         'destination started at %d' % (last, first))
            if home == 'source':
                v.append('the guest ran on the destination (counter %d..%d) and runs on the source again: '
                         'its memory went back in time' % (first, dst[-1][0]))
        elif home == 'destination':
            v.append('the destination runs the guest but its serial log shows no counter')
        return v

    def job_completed_violations(self, role, rec, job_existed, ran_on_destination):
        v = []
        done = [s.args[0] for s in members(rec.signals, 'JobCompleted')]
        if not job_existed:
            if done:
                v.append('JobCompleted on the %s, which had no job: %r' % (role, done))
            return v
        if len(done) != 1:
            v.append('%d JobCompleted on the %s for its one job (the daemon that ended it, the first '
                     'instance or a restarted one, must say so once): %r' % (len(done), role, done))
        for stats in done:
            success, errmsg = stats.get('success'), stats.get('errmsg', '')
            if role == 'destination' and success != ran_on_destination:
                v.append('JobCompleted on the destination says success=%r, but the guest %s there (%r)' % (
                    success, 'ran' if ran_on_destination else 'never ran', errmsg))
            if role == 'source' and success and not ran_on_destination:
                v.append('JobCompleted on the source says success, but the guest never ran on the destination')
            if not success and not errmsg:
                v.append('JobCompleted on the %s says failure without an errmsg: %r' % (role, stats))
        return v

    def check_invariant(self):
        """(outcome, violations): outcome is 'runs on the source', 'runs on
        the destination' or 'is shut off'."""
        v = []
        hosts = {'source': self.observe_host('source', self.src, v),
                 'destination': self.observe_host('destination', self.dst, v)}
        for role, d in hosts.items():
            if d and (d['JobType'] != 'none' or d['jobstats'] != 'none'):
                v.append('the %s still has a job: JobType %s, JobPhase %s, GetJobStats %s' % (
                    role, d['JobType'], d['JobPhase'], d['jobstats']))

        qemus = {}
        for pid in find_qemu_pids(self.g.uuid):
            cmd = ' '.join(proc_cmdline(pid) or [])
            qemus[pid] = ('source' if self.src_serial.path in cmd else
                          'destination' if self.dst_serial.path in cmd else 'unknown host')
        running = [r for r, d in hosts.items() if d and d['State'] == 'running']
        home = running[0] if len(running) == 1 else None
        if len(running) > 1:
            v.append('split brain: the guest runs on both hosts')
        for role, d in hosts.items():
            if d and d['State'] != 'shutoff' and role != home:
                v.append('the guest is %s (%s) on the %s%s' % (
                    d['State'], d['StateReason'], role, '' if home else ' and runs nowhere'))
        for pid, role in sorted(qemus.items()):
            if role != home:
                v.append('stray QEMU pid %d on the %s: %s' % (
                    pid, role, ' '.join(proc_cmdline(pid) or [])[:160]))
        if home and list(qemus.values()).count(home) != 1:
            v.append('the %s runs the guest with %d QEMU processes' % (home, list(qemus.values()).count(home)))

        defined = {r: d['definition'] for r, d in hosts.items() if d and d['Persistent']}
        if not defined:
            v.append('no host holds the guest\'s definition: it is lost')
        if home and home not in defined:
            v.append('the %s runs the guest without holding its definition' % home)
        if not running and not any(d and d['State'] == 'shutoff' and d['Persistent'] for d in hosts.values()):
            v.append('the guest runs nowhere and no host holds it shut off')
        for role, xml in defined.items():
            bad = self.definition_violation(role, xml)
            if bad:
                v.append(bad)

        v += self.memory_violations(home)
        ran_on_destination = any(SerialLog.COUNTER.match(line) for line in self.dst_serial.lines())
        v += self.job_completed_violations('source', self.srec, True, ran_on_destination)
        dst_job = self.prepared or 'migration-in' in job_types_seen(self.drec.signals)
        v += self.job_completed_violations('destination', self.drec, dst_job, ran_on_destination)
        outcome = ('runs on the %s' % home) if home else 'is shut off' if not running else 'runs twice'
        return outcome, v

    def settle(self):
        """Waits until the invariant holds (the daemons' rules act
        asynchronously), then lets the guest's counter move on and checks
        once more, so that a rule acting late cannot hide."""
        last = {}

        def holds():
            last['outcome'], last['violations'] = self.check_invariant()
            return not last['violations']
        try:
            wait_until(holds, SETTLE_DEADLINE, 'the invariant', poll=0.5)
        except harness.WaitTimeout:
            self.fail('%s: the invariant does not hold %.0f s after the fault (the guest %s):\n  - %s' % (
                self.case, SETTLE_DEADLINE, last['outcome'], '\n  - '.join(last['violations'])))
        outcome = last['outcome']
        if outcome == 'runs on the destination':
            # The project's proof of an arrival: the guest checked its whole
            # dirty area on the destination, the counter exactly one on.
            try:
                harness.check_arrival(self.src_serial, self.dst_serial, source_pids=[self.src_pid])
            except harness.ArrivalFailed as e:
                self.fail('%s: the guest did not arrive whole: %s' % (self.case, e))
        if outcome.startswith('runs on the '):
            serial = self.src_serial if outcome.endswith('source') else self.dst_serial
            serial.wait_advance(5, BOOT_DEADLINE)
        outcome2, violations = self.check_invariant()
        self.assertFalse(violations, '%s: the invariant held (the guest %s), then broke:\n  - %s' % (
            self.case, outcome, '\n  - '.join(violations)))
        self.assertEqual(outcome2, outcome)
        return outcome

    def clean_up_guest(self, outcome):
        if outcome.startswith('runs on the '):
            self.g.host = self.src if outcome.endswith('source') else self.dst
            self.g.destroy()


def main():
    migtest.announce_accel()
    harness.main()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    print(__doc__)
