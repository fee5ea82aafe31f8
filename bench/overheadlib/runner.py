"""What both command lines (cli.py, linux_cli.py) do around a bench: signals,
set-up and run with their exit codes (2 an error, 130 interrupted), the
clean-up, and the JSON document's output."""

import json
import signal
import sys

from .common import BenchError, GLib, Interrupted, log
from .report import jsonable


def _on_signal(signum, frame):
    raise Interrupted('signal %d' % signum)


def run_bench(bench, setup_done=None):
    """bench.setup(), @setup_done(bench) if given, bench.run(), always
    bench.cleanup(). Returns None when the run went through, else the exit
    status. Exceptions other than these (e.g. a Skip) propagate, after the
    clean-up."""
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        bench.setup()
        if setup_done:
            setup_done(bench)
        bench.run()
    except BenchError as exc:
        log('error: %s' % exc)
        return 2
    except GLib.Error as exc:
        log('error: D-Bus call failed: %s' % exc.message)
        for h in bench.hosts:
            log('%s log tail:\n%s' % (h.name, h.log_tail()))
        return 2
    except (KeyboardInterrupt, Interrupted) as exc:
        log('interrupted (%s); cleaning up' % (str(exc) or 'Ctrl-C'))
        return 130
    finally:
        bench.cleanup()
    return None


def write_document(doc, json_file, to_stdout):
    """The JSON document to @json_file (if any) and to stdout when @to_stdout."""
    if json_file:
        with open(json_file, 'w') as f:
            json.dump(jsonable(doc), f, indent=2, allow_nan=False)
            f.write('\n')
    if to_stdout:
        json.dump(jsonable(doc), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write('\n')


def command_line():
    return ' '.join([sys.argv[0]] + sys.argv[1:])
