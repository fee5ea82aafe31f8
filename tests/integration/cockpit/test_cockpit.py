#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page "Migrations" in a real browser against real daemons:
the live table, a peer-to-peer migration started from the dialog, Abort,
and a refused peer. See cockpittest.py for the set-up."""

import os

import cockpittest
from cockpittest import CockpitTestCase, role, in_row, wait_until, log, DEADLINE
from p2ptest import MIGRATION_DEADLINE, harness, snapshot_before, assert_moved, assert_monotonic
import migtest


class PageGuest:
    """A running guest on @host whose console path is a symbolic link: the
    source QEMU writes through it to hop 0's log; repointed before a
    migration, the destination's QEMU (started by the daemons from the same
    XML, as the page passes no destination XML) writes to hop 1's. Two
    "hosts" on one machine thus keep two consoles, and the harness' proof of
    a live migration (the counter goes on) applies."""

    def __init__(self, tc, host, profile):
        self.g = migtest.MigGuest(tc, host, profile=profile, start=False)
        self.link = self.g.serial.path
        self.hops = [self._hop(0)]
        os.symlink(self.hops[0], self.link)
        self.g.serials = [harness.SerialLog(self.hops[0])]
        migtest.dcall(host, self.g.path, 'Start', 'u', (0,))
        self.g.serial.wait_counter(1, harness.BOOT_DEADLINE)

    def _hop(self, n):
        path = '%s-hop%d.log' % (self.link[:-len('.log')], n)
        open(path, 'w').close()
        return path

    def next_hop(self):
        """Repoints the link to a new log; returns its SerialLog."""
        path = self._hop(len(self.hops))
        self.hops.append(path)
        tmp = self.link + '.new'
        os.symlink(path, tmp)
        os.replace(tmp, self.link)
        return harness.SerialLog(path)


class Page(CockpitTestCase):

    def chart_samples(self, name):
        """How many statistics the chart in @name's row has drawn (0: none, or no chart)."""
        values = self.browser.request('attrs', in_row(name, role('img')), name='data-samples')
        return int(values[0] or 0) if values else 0

    def uri(self, host):
        return 'migration+tls://127.0.0.1:%d' % host.bridge_port

    def test_table_live(self):
        """The table lists a running guest of host A; a domain defined on
        the bus appears without a reload, and goes when undefined."""
        a = self.a
        pg = PageGuest(self, a, 'light')
        self.wait_cell(pg.g.name, 1, 'Running')
        self.assertTrue(self.cell_text(pg.g.name, 2).startswith('No job'))
        self.assertEqual(self.browser.request('count', in_row(pg.g.name, role('button', 'Migrate'))), 1)

        other = self.make_guest(a, define=True, start=False)
        self.wait_cell(other.name, 1, 'Shut off')
        self.assertEqual(self.browser.request('count', in_row(other.name, role('button', 'Migrate'))), 0,
                         'a shut-off domain offers Migrate')
        other.dom.call('Undefine', 'u', (0,))
        wait_until(lambda: self.row_count(other.name) == 0, DEADLINE, 'the undefined domain\'s row to go')
        self.assertEqual(self.row_count(pg.g.name), 1)
        self.screenshot('table')
        pg.g.destroy()

    def test_migrate(self):
        """"Migrate" to B over the peer-to-peer bridge with "Remove from this
        host": the progress bar advances (never backwards), the chart is
        drawn, the result line says "Migrated to", the row goes, and the
        guest runs on B with its counter going on."""
        a, b = self.a, self.b
        self.bridge(b)
        pg = PageGuest(self, a, 'light')
        g = pg.g
        self.wait_cell(g.name, 1, 'Running')
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        dst_serial = pg.next_hop()

        # Under a limit the guest converges with (8 MiB dirty in a 4 s
        # downtime at 4 MiB/s), so that the stream outlasts several updates
        # of JobProgress: unlimited, a fast machine moved it before the page
        # saw one (CI: "the progress bar never advanced: [0.0]").
        migtest.dcall(a, g.path, 'MigrateSetMaxDowntime', 'tu', (4000, 0))
        self.migrate_dialog(g.name, self.uri(b), switches={'Remove from this host': True}, bandwidth=4)
        seen = []
        shot = {}

        def progressing():
            v = self.progress_values(g.name)
            if v is not None and (not seen or seen[-1] != v):
                seen.append(v)
            # The running migration, once the chart has a line to show.
            # The running migration: as soon as the chart has a point, again at 3 points.
            if v is not None and len(shot) < 2:
                n = self.chart_samples(g.name)
                if n >= (3 if shot else 1):
                    shot[n] = self.screenshot('running', [role('main')])
            return self.browser.request('count', [{'text': '^Migrated to ', 'regex': True}]) > 0 or \
                self.browser.request('count', [role('listitem')]) > 0
        wait_until(progressing, MIGRATION_DEADLINE, 'the migration to end on the page', poll=0.1)
        line = self.browser.request('text', [role('listitem')])
        log('result on the page: %r; progress seen: %r' % (line, seen))
        self.assertRegex(line, r'(?m)^Migrated to 127\.0\.0\.1 in [0-9.]+ s( \(downtime \d+ ms\))?$')
        self.assertTrue(seen, 'no progress bar was seen during the migration')
        assert_monotonic(self, seen, 'the progress bar')
        self.assertGreater(len(seen), 1, 'the progress bar never advanced: %r' % seen)
        self.assertTrue(shot, 'the running migration was never on screen with its chart')
        self.screenshot('result')
        # The chart of the whole job stays with the result when the page saw
        # more than one sample (a quiet machine can move this guest in one).
        if self.browser.request('count', [role('listitem'), role('img')]) > 0:
            self.screenshot('chart', [role('listitem'), role('img')])
        else:
            log('the job ended after one sample: no chart with the result (the running one is in test_migrate-running.png)')

        wait_until(lambda: self.row_count(g.name) == 0, DEADLINE, 'the row of the migrated guest to go')
        g.serials.append(dst_serial)
        g.host = b
        assert_moved(self, g, src_serial, dst_serial, src_pid, boot)
        dom = g.dom(b)
        self.assertEqual((dom.prop('State'), dom.prop('JobType')), ('running', 'none'))
        self.assertNotIn(g.path, a.list_domains(0), 'Remove from this host left the definition on A')
        g.destroy()

    def test_postcopy(self):
        """A post-copy migration at 1 MiB/s (which would not converge):
        "Switch to post-copy" appears once the stream runs, the migration
        ends as "Migrated to", the guest runs on B with its counter going on
        and A keeps a shut-off definition."""
        a, b = self.a, self.b
        self.bridge(b)
        pg = PageGuest(self, a, 'light')
        g = pg.g
        self.wait_cell(g.name, 1, 'Running')
        boot, src_pid = snapshot_before(g)
        src_serial = g.serial
        dst_serial = pg.next_hop()

        self.migrate_dialog(g.name, self.uri(b), switches={'Post-copy': True, 'Encrypt the stream': False},
                            bandwidth=1)
        switch = in_row(g.name, role('button', 'Switch to post-copy'))
        wait_until(lambda: self.browser.request('attrs', switch, name='disabled') == [None], MIGRATION_DEADLINE,
                   '"Switch to post-copy" to be enabled', poll=0.25)
        self.browser.request('click', switch)
        wait_until(lambda: self.browser.request('count', [role('listitem')]) > 0, MIGRATION_DEADLINE,
                   'the post-copy migration to end on the page', poll=0.25)
        line = self.browser.request('text', [role('listitem')])
        log('result on the page: %r' % line)
        self.assertRegex(line, r'(?m)^Migrated to 127\.0\.0\.1 in ')
        self.wait_cell(g.name, 1, 'Shut off')
        g.serials.append(dst_serial)
        g.host = b
        assert_moved(self, g, src_serial, dst_serial, src_pid, boot)
        self.assertEqual(g.dom(b).prop('State'), 'running')
        g.destroy()

    def test_abort(self):
        """A slow migration (8 MiB/s) aborted with "Abort": the row is back to
        running on A without a job, the page shows the error's message, B has
        nothing."""
        a, b = self.a, self.b
        self.bridge(b)
        pg = PageGuest(self, a, 'slow')
        g = pg.g
        self.wait_cell(g.name, 1, 'Running')
        boot, src_pid = snapshot_before(g)
        pg.next_hop()

        self.migrate_dialog(g.name, self.uri(b), switches={'Encrypt the stream': False}, bandwidth=8)

        def streaming():
            v = self.progress_values(g.name)
            return v is not None and v > 0 and g.path in b.list_domains(0)
        wait_until(streaming, MIGRATION_DEADLINE, 'the stream to run, seen on the page', poll=0.25)
        self.screenshot('streaming')
        self.browser.request('click', in_row(g.name, role('button', 'Abort')))

        self.wait_cell(g.name, 2, 'No job', MIGRATION_DEADLINE)
        self.wait_cell(g.name, 1, 'Running')
        line = self.browser.request('text', [role('listitem')])
        log('result on the page: %r' % line)
        self.assertIn('org.example.Migration1.Error.MigrationAborted', line)
        self.assertNotIn('Migrated to', line)
        self.assertEqual(self.browser.request('count', in_row(g.name, role('progressbar'))), 0)
        self.assertStaysHere(g, a, src_pid, ' after Abort on the page')
        wait_until(lambda: g.path not in b.list_domains(0), DEADLINE, 'b to throw the incoming guest away')
        self.assertNothingThere(g, b, ' after Abort on the page')
        g.destroy()

    def test_refused_peer(self):
        """B's bridge allows only CN=host-b: the page shows PeerRejected's
        message and name; the guest runs on at A."""
        a, b = self.a, self.b
        self.bridge(b, self.write_bridge_config(b, allowed_peers='CN=host-b'))
        pg = PageGuest(self, a, 'light')
        g = pg.g
        self.wait_cell(g.name, 1, 'Running')
        boot, src_pid = snapshot_before(g)

        self.migrate_dialog(g.name, '127.0.0.1:%d' % b.bridge_port)
        wait_until(lambda: self.browser.request('count', [role('listitem')]) > 0, MIGRATION_DEADLINE,
                   'the error on the page')
        line = self.browser.request('text', [role('listitem')])
        log('result on the page: %r' % line)
        self.assertIn('org.example.Migration1.Error.PeerRejected', line)
        self.assertIn('127.0.0.1', line)
        self.assertNotIn('Migrated to', line)
        self.screenshot('refused')
        self.wait_cell(g.name, 2, 'No job')
        self.assertStaysHere(g, a, src_pid, ' after the refused migration')
        self.assertNothingThere(g, b, ' after the refused migration')
        g.destroy()

    def test_german(self):
        """With Cockpit's language cookie CockpitLang=de-de the page is German:
        its heading, the table, the Migrate button and the dialog's title
        and buttons come from po.de.js (built from po/de.po); without the
        translation they stay English and this fails."""
        pg = PageGuest(self, self.a, 'light')
        self.wait_cell(pg.g.name, 1, 'Running')
        b = self.browser
        b.request('cookie', name='CockpitLang', value='de-de', url='http://127.0.0.1:%d/' % self.ws_port)
        b.request('reload')
        b.request('wait', [role('columnheader', 'Auftrag')])
        self.assertEqual(b.request('lang'), 'de')
        self.assertEqual(b.request('count', [role('heading', 'Migrationen')]), 1)
        self.wait_cell(pg.g.name, 1, 'Läuft')
        self.assertTrue(self.cell_text(pg.g.name, 2).startswith('Kein Auftrag'), self.cell_text(pg.g.name, 2))
        self.assertEqual(b.request('count', in_row(pg.g.name, role('button', 'Migrate'))), 0,
                         'an English Migrate button on the German page')
        b.request('click', in_row(pg.g.name, role('button', 'Migrieren')))
        b.request('wait', [role('dialog')])
        self.assertEqual(b.request('text', [role('dialog'), role('heading')]), '%s migrieren' % pg.g.name)
        for r, name in (('textbox', 'Ziel'), ('switch', 'Datenstrom verschlüsseln'),
                        ('spinbutton', 'Bandbreite (MiB/s)'), ('button', 'Migration starten')):
            self.assertEqual(b.request('count', [role('dialog'), role(r, name)]), 1, '%s %r' % (r, name))
        self.assertEqual(b.request('attr', [role('dialog'), role('spinbutton')], name='placeholder'), 'unbegrenzt')
        self.screenshot('german-dialog')
        b.request('click', [role('dialog'), role('button', 'Abbrechen')])
        b.request('wait', [role('dialog')], state='hidden')
        pg.g.destroy()


class ReadOnly(CockpitTestCase):

    unprivileged = True

    def test_read_only(self):
        """A session without administrative access sees the table, says so,
        and offers Migrate disabled, with the reason."""
        pg = PageGuest(self, self.a, 'light')
        self.wait_cell(pg.g.name, 1, 'Running')
        note = self.browser.request('text', [role('note')])
        self.assertIn('limited access', note)
        migrate = in_row(pg.g.name, role('button', 'Migrate'))
        wait_until(lambda: not self.browser.request('enabled', migrate), DEADLINE, 'Migrate to be disabled')
        reason = self.browser.request('attr', migrate, name='aria-description')
        self.assertIn('administrative access', reason or '')
        self.screenshot('read-only')
        pg.g.destroy()


if __name__ == '__main__':
    cockpittest.main()
