"""Statistics of the runs: median, nearest-rank percentiles, summaries.
None values (a figure a run did not have) are left out, not counted as 0."""

import math


def median(values):
    s = sorted(v for v in values if v is not None)
    if not s:
        return None
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


def pct(values, p):
    """Nearest-rank percentile (p99 of fewer than 100 samples is the maximum)."""
    s = sorted(v for v in values if v is not None)
    if not s:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(s)))
    return s[min(rank, len(s)) - 1]


def summary(values):
    s = [v for v in values if v is not None]
    return {'n': len(s), 'p50': median(s), 'p99': pct(s, 99), 'min': min(s) if s else None,
            'max': max(s) if s else None, 'mean': sum(s) / len(s) if s else None, 'samples': s}


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def diff(a, b):
    if a is None or b is None:
        return None
    return a - b
