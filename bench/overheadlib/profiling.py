"""--profile: parsing the daemons' debug log lines and lining them up, per
phase call, at their median offset from the call's send."""

import re

from .stats import median


# GLib's default log handler: "(migrationd:PID): migrationd-DEBUG: HH:MM:SS.mmm: text", and
# without "(PROGRAM:PID): " for messages ("migrationd-Message: ..."); the bridge's lines
# alike ("migration-bridge-Message: ...", "(migration-bridge:PID): migrationd-peer-DEBUG: ...").
LOG_LINE_RE = re.compile(r'^(?:\([\w-]+:\d+\): )?[\w-]+: (\d\d):(\d\d):(\d\d)\.(\d{3}): (.*)$')


def normalize(what):
    """A log line without its numbers: the same step in every run."""
    what = re.sub(r'md-\d+', 'md-N', what)
    what = re.sub(r'QEMU \d+ ', 'QEMU PID ', what)
    what = re.sub(r'\d+ bytes', 'N bytes', what)
    what = re.sub(r'QEMU \d+\.\d+\.\d+', 'QEMU VERSION', what)
    what = re.sub(r'127\.0\.0\.1:\d+', '127.0.0.1:PORT', what)
    what = re.sub(r'CN=host-[ab]', 'CN=SOURCE', what)     # path (c): the destination bridge's peer
    return what


def profile_calls(runs, methods):
    """Per call (by method name), the log lines that fell between the call's
    send and its reply, at their median offset from the send over the runs
    (ms), in that order: {method: [(median ms, n, text)]} plus the reply."""
    out = {}
    for method in methods:
        acc, order = {}, []
        for r in runs:
            events = r.get('profile') or []
            sent = next((t for t, w in events if w == 'client: %s sent' % method), None)
            reply = next((t for t, w in events if w == 'client: %s reply' % method), None)
            if sent is None or reply is None:
                continue
            seen = {}
            for t, w in events:
                if w.startswith('client: ') and w != 'client: %s reply' % method and \
                        w != 'client: MigrateStartPostCopy sent':
                    continue
                # Log lines have 1 ms resolution: allow the one in flight at the send.
                if not (sent - 1.0 <= t <= reply + 1.0):
                    continue
                key = normalize(w)
                seen[key] = seen.get(key, 0) + 1
                k = (key, seen[key])
                if k not in acc:
                    acc[k] = []
                    order.append(k)
                acc[k].append(t - sent)
        rows = [(median(acc[k]), len(acc[k]), k[0] + ('' if k[1] == 1 else ' (#%d)' % k[1])) for k in order]
        rows.sort(key=lambda x: x[0])
        out[method] = rows
    return out
