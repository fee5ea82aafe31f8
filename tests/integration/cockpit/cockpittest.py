#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the Cockpit page tests (tests/integration/cockpit).

The page from the source tree (cockpit/) served by Debian's cockpit-ws
(`cockpit-ws --no-tls --local-session=cockpit-bridge` on a loopback port)
whose bridge talks to host A's private bus (DBUS_SYSTEM_BUS_ADDRESS) and
finds the page through XDG_DATA_DIRS; headless Chromium from Debian driven
by playwright-core (browser.mjs, one JSON request a line). Hosts, bridges
and guests come from ../p2p/p2ptest.py, so a migration started in the
browser is a real peer-to-peer migration to host B.

Environment (meson sets them): MD_NODE_MODULES (where `tools/quickstart
test` installed playwright-core), MD_COCKPIT_PAGE (the page's directory:
BUILDDIR/cockpit, the page with its built po.LANG.js),
MD_TEST_ARTIFACTS (where screenshots go, next to meson's test logs);
MD_COCKPIT_WS and MD_CHROMIUM override /usr/lib/cockpit/cockpit-ws and
/usr/bin/chromium.
"""

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PARENT = os.path.dirname(HERE)
for d in (PARENT, os.path.join(PARENT, 'p2p'), os.path.join(PARENT, 'migration'), os.path.join(PARENT, 'bridge')):
    if d not in sys.path:
        sys.path.append(d)

import harness  # noqa: E402
import p2ptest  # noqa: E402
from p2ptest import P2PTestCase, DEADLINE, BOOT_DEADLINE, NOBODY, SETPRIV, wait_until, log  # noqa: E402,F401

COCKPIT_WS = os.environ.get('MD_COCKPIT_WS', '/usr/lib/cockpit/cockpit-ws')
COCKPIT_BRIDGE = shutil.which('cockpit-bridge')
CHROMIUM = os.environ.get('MD_CHROMIUM', '/usr/bin/chromium')
NODE = shutil.which('node')
NODE_MODULES = os.environ.get('MD_NODE_MODULES', '')
PAGE = os.environ.get('MD_COCKPIT_PAGE', os.path.join(os.path.dirname(os.path.dirname(PARENT)), 'cockpit'))
ARTIFACTS = os.environ.get('MD_TEST_ARTIFACTS', '')
# A browser step: Playwright's own wait (ms) for an element, then ours on top.
STEP_MS = int(30000 * harness.TIMEOUT_FACTOR)


def missing_dependency():
    """What keeps the browser tests from running here, or None."""
    for what, path in (('cockpit-ws (Debian package cockpit-ws)', COCKPIT_WS),
                       ('cockpit-bridge (Debian package cockpit-bridge)', COCKPIT_BRIDGE),
                       ('chromium (Debian package chromium)', CHROMIUM), ('node (Debian package nodejs)', NODE)):
        if not path or not os.access(path, os.X_OK):
            return '%s is missing' % what
    if not NODE_MODULES or not os.path.isdir(os.path.join(NODE_MODULES, 'playwright-core')):
        return ('playwright-core is not installed in MD_NODE_MODULES (%r): `tools/quickstart test` installs it '
                'with npm' % NODE_MODULES)
    if not os.path.isfile(os.path.join(PAGE, 'manifest.json')):
        return 'the page is not at %s' % PAGE
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    """Headless Chromium behind browser.mjs. Each method is one request;
    a failed one raises BrowserError with Playwright's message."""

    def __init__(self, workdir):
        self.log_path = os.path.join(workdir, 'browser.log')
        self._log = open(self.log_path, 'wb')
        env = dict(os.environ, MD_NODE_MODULES=NODE_MODULES, MD_CHROMIUM=CHROMIUM, HOME=workdir)
        self.proc = subprocess.Popen([NODE, os.path.join(HERE, 'browser.mjs')], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=workdir)
        self._buf = b''
        self.ready = False

    def wait_ready(self):
        """Chromium starts while the caller does other things; this waits for it."""
        if not self.ready:
            hello = self._answer(60 * harness.TIMEOUT_FACTOR, 'Chromium to start')
            log('browser: Chromium %s' % hello.get('version'))
            self.ready = True

    def _answer(self, timeout, what):
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b'\n' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError('the browser did not answer in %.0f s (%s); its log: %s'
                                   % (timeout, what, self.log()))
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise BrowserError('the browser exited (%s); its log: %s' % (what, self.log()))
                self._buf += chunk
        line, self._buf = self._buf.split(b'\n', 1)
        return json.loads(line)

    def request(self, cmd, target=None, timeout_ms=STEP_MS, **kw):
        self.wait_ready()
        req = dict(kw, cmd=cmd, timeout=timeout_ms)
        if target is not None:
            req['target'] = target
        self.proc.stdin.write((json.dumps(req) + '\n').encode())
        self.proc.stdin.flush()
        a = self._answer(timeout_ms / 1000 + 30, '%s %s' % (cmd, target))
        if not a.get('ok'):
            raise BrowserError('browser: %s of %s failed: %s' % (cmd, json.dumps(target), a.get('error')))
        return a.get('value')

    def log(self):
        self._log.flush()
        with open(self.log_path, 'rb') as f:
            return f.read().decode(errors='replace')[-4000:]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# Targets (browser.mjs): by role and accessible name.
def role(r, name=None, exact=True):
    step = {'role': r}
    if name is not None:
        step['name'] = name
        step['exact'] = exact
    return step


def row(name):
    return [{'row': name}]


def in_row(name, *steps):
    return row(name) + list(steps)


class CockpitTestCase(P2PTestCase):
    """Hosts a and b (p2ptest), cockpit-ws on host A's bus, a browser on
    the Migrations page. The session is root's (administrative access),
    or with @unprivileged uid 65534's (none: no sudo, no polkit agent)."""

    unprivileged = False

    def setUp(self):
        # Chromium starts while the hosts are made (certificates, daemons).
        browser_dir = tempfile.mkdtemp(prefix='md-browser-')
        self.addCleanup(shutil.rmtree, browser_dir, True)
        self.browser = Browser(browser_dir)
        self.addCleanup(self._close_browser)
        super().setUp()
        self.shots = ARTIFACTS or self.workdir
        os.makedirs(self.shots, exist_ok=True)
        self.ws_port = self.start_cockpit_ws(self.a)
        self.open_page()

    def start_cockpit_ws(self, host):
        """cockpit-ws on 127.0.0.1 with a local session whose bridge sees
        @host's bus as the system bus and the page from the source tree."""
        data = os.path.join(self.workdir, 'xdg', 'cockpit')
        os.makedirs(data)
        os.symlink(PAGE, os.path.join(data, 'migrationd'))
        ports = harness.PortBlock()
        self.addCleanup(ports.release)
        env = dict(os.environ)
        for k in ('DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS', 'DBUS_STARTER_BUS_TYPE'):
            env.pop(k, None)
        home = os.path.join(self.workdir, 'home')
        os.makedirs(home)
        argv = [COCKPIT_WS, '--no-tls', '--local-session=' + COCKPIT_BRIDGE,
                '--address', '127.0.0.1', '--port', str(ports.port_min)]
        if self.unprivileged:
            if os.geteuid() != 0:
                harness.skip_everything('the unprivileged session needs root to drop to uid %d' % NOBODY)
            os.chown(home, NOBODY, NOBODY)
            for d in (self.workdir, os.path.dirname(data), data):
                os.chmod(d, 0o755)
            argv = [SETPRIV, '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY, '--clear-groups'] + argv
        env.update(DBUS_SYSTEM_BUS_ADDRESS=host.bus.address,
                   XDG_DATA_DIRS='%s:/usr/local/share:/usr/share' % os.path.dirname(data),
                   XDG_CONFIG_DIRS=os.path.join(self.workdir, 'xdg-config'),
                   HOME=home)
        self.ws_log_path = os.path.join(self.workdir, 'cockpit-ws.log')
        self._ws_log = open(self.ws_log_path, 'wb')
        self.ws = subprocess.Popen(argv,
                                   stdin=subprocess.DEVNULL, stdout=self._ws_log, stderr=subprocess.STDOUT,
                                   env=env, cwd=self.workdir)
        self.addCleanup(self._stop_ws)

        def listening():
            if self.ws.poll() is not None:
                raise AssertionError('cockpit-ws exited: %s' % harness.describe_status(self.ws.returncode))
            with socket.socket() as s:
                return s.connect_ex(('127.0.0.1', ports.port_min)) == 0
        wait_until(listening, DEADLINE, 'cockpit-ws to listen on 127.0.0.1:%d' % ports.port_min)
        return ports.port_min

    def _stop_ws(self):
        harness.stop_process(self.ws)
        self._ws_log.close()
        if self._failed() or harness.VERBOSE:
            with open(self.ws_log_path, 'rb') as f:
                sys.stderr.write('----- cockpit-ws log\n%s\n' % f.read().decode(errors='replace'))

    def _close_browser(self):
        if self._failed() or harness.VERBOSE:
            sys.stderr.write('----- browser log\n%s\n' % self.browser.log())
        self.browser.close()

    # -- the page

    def open_page(self):
        url = 'http://127.0.0.1:%d/cockpit/@localhost/migrationd/index.html' % self.ws_port
        log('browser: opening %s' % url)
        self.browser.request('open', url=url)
        # The table's header is there at once; the rows once the ObjectManager answered.
        self.browser.request('wait', [role('columnheader', 'Job')])

    def screenshot(self, name, target=None):
        path = os.path.join(self.shots, '%s-%s.png' % (self.id().rsplit('.', 1)[-1], name))
        self.browser.request('screenshot', target, path=path)
        log('screenshot: %s' % path)
        return path

    def cell_text(self, guest_name, column):
        """The text of @guest_name's cell in @column (0 Name, 1 State, 2 Job)."""
        texts = self.browser.request('texts', row(guest_name) + [role('cell')])
        return texts[column].strip() if len(texts) > column else None

    def wait_cell(self, guest_name, column, expected, timeout=DEADLINE):
        wait_until(lambda: (self.cell_text(guest_name, column) or '').startswith(expected), timeout,
                   '%r in column %d of the row of %s (it says %r)' % (expected, column, guest_name,
                                                                      self.cell_text(guest_name, column)),
                   poll=0.25)

    def row_count(self, guest_name):
        return self.browser.request('count', row(guest_name))

    def migrate_dialog(self, guest_name, destination, switches=None, bandwidth=None):
        """Opens "Migrate" on @guest_name's row, fills the dialog and presses "Start migration"."""
        b = self.browser
        b.request('click', in_row(guest_name, role('button', 'Migrate')))
        b.request('wait', [role('dialog')])
        b.request('fill', [role('dialog'), role('textbox', 'Destination')], value=destination)
        for name, on in (switches or {}).items():
            b.request('check', [role('dialog'), role('switch', name)], on=on)
        if bandwidth is not None:
            b.request('fill', [role('dialog'), role('spinbutton', 'Bandwidth (MiB/s)')], value=str(bandwidth))
        b.request('click', [role('dialog'), role('button', 'Start migration')])
        b.request('wait', [role('dialog')], state='hidden')

    def progress_values(self, guest_name):
        """aria-valuenow of the progress bar in @guest_name's row, or None."""
        values = self.browser.request('attrs', in_row(guest_name, role('progressbar')), name='aria-valuenow')
        return float(values[0]) if values and values[0] is not None else None


def main():
    # Before unittest runs: inside a test, exit 77 would count as an error.
    problem = missing_dependency()
    if problem:
        harness.skip_everything('the Cockpit page tests cannot run: ' + problem)
    p2ptest.main()


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--check-registered':
        sys.exit(harness.check_registered(HERE, sys.argv[2:]))
    print(__doc__)
