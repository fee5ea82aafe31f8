"""bench/scale's statistics: percentiles, summaries, ratios."""

import math


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float('nan')
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ns(samples):
    s = sorted(samples)
    return {
        'n': len(s),
        'p50_ms': percentile(s, 50) / 1e6,
        'p90_ms': percentile(s, 90) / 1e6,
        'p99_ms': percentile(s, 99) / 1e6,
        'min_ms': s[0] / 1e6 if s else float('nan'),
        'max_ms': s[-1] / 1e6 if s else float('nan'),
        'mean_ms': (sum(s) / len(s) / 1e6) if s else float('nan'),
    }


def ratio(ours, base):
    if base is None or ours is None or base == 0 or math.isnan(base) or math.isnan(ours):
        return None
    return ours / base


def median(values):
    s = sorted(values)
    if not s:
        return float('nan')
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
