#!/usr/bin/python3
"""One load client of bench/load, run as its own process (no GIL shared with
the benchmark or the other clients), on bench/scale's raw-socket client.

stdin, one JSON line: {"address": the bus address, "calls": [hex, ...]}
(calls marshalled by the parent, serial patched here). It authenticates,
says Hello, prints "ready", waits for the line "go", then makes the calls in
turn (call i % len(calls)), one at a time, until stdin has more to read
("stop"). Then it writes to stdout one line "result" and a JSON document:
per call made, [kind, start ns, latency ns] in flat arrays, and the errors
(name) met. perf_counter_ns is CLOCK_MONOTONIC, the same clock as the
parent's."""

import json
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scalelib.common import BenchError  # noqa: E402
from scalelib.rawbus import DBusCallError, RawBus  # noqa: E402


def main():
    spec = json.loads(sys.stdin.readline())
    conn = RawBus(spec['address'])
    calls = [bytearray.fromhex(h) for h in spec['calls']]
    calls = [(c, '<' if c[0] == 0x6c else '>') for c in calls]
    sys.stdout.write('ready\n')
    sys.stdout.flush()
    if sys.stdin.readline().strip() != 'go':
        return 1
    kinds, starts, lats, errors = [], [], [], {}
    ns = time.perf_counter_ns
    stdin = sys.stdin.fileno()
    n = len(calls)
    i = 0
    while True:
        # Every 8 calls: has the parent said stop?
        if i % 8 == 0 and select.select([stdin], [], [], 0)[0]:
            break
        k = i % n
        t0 = ns()
        try:
            conn.call(calls[k])
            err = None
        except DBusCallError as exc:
            err = exc.name
        except (OSError, BenchError) as exc:
            err = 'client: %s' % exc
            errors[err] = errors.get(err, 0) + 1
            break
        t1 = ns()
        kinds.append(k)
        starts.append(t0)
        lats.append(t1 - t0)
        if err is not None:
            errors[err] = errors.get(err, 0) + 1
            kinds[-1] = -1 - k      # an error: kept out of the latencies
        i += 1
    sys.stdout.write('result\n' + json.dumps({'kinds': kinds, 'starts': starts, 'lats': lats,
                                              'errors': errors}) + '\n')
    sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
