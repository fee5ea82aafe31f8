"""Reading the Domain's signals (PropertiesChanged, JobCompleted) that the
managed paths collect during a run: state changes and job statistics."""

from .common import DOMAIN_IFACE


def job_completed(signals, path):
    """The stats of the last JobCompleted signal on @path."""
    for _t, p, iface, member, args in reversed(signals):
        if p == path and iface == DOMAIN_IFACE and member == 'JobCompleted' and args:
            return args[0]
    return None


def ms_or_none(v):
    return v / 1e3 if isinstance(v, (int, float)) else None


def first_prop(signals, path, prop, value):
    """perf_counter_ns of the first PropertiesChanged on @path setting the
    Domain property @prop to @value."""
    for t, p, iface, member, args in signals:
        if p == path and member == 'PropertiesChanged' and args and args[0] == DOMAIN_IFACE:
            if args[1].get(prop) == value:
                return t
    return None


def first_state(signals, path, state):
    return first_prop(signals, path, 'State', state)


def state_trace(signals, host, path, t0):
    """[(ms from the Begin3Params call, host, State, StateReason)] of the domain's
    PropertiesChanged signals that change its state."""
    out = []
    for t, p, _iface, member, args in signals:
        if p == path and member == 'PropertiesChanged' and args and args[0] == DOMAIN_IFACE:
            ch = args[1]
            if 'State' in ch or 'StateReason' in ch:
                out.append(((t - t0) / 1e6, host, ch.get('State'), ch.get('StateReason')))
    return out


def any_reason(signals, path, reason):
    return any(p == path and member == 'PropertiesChanged' and args and args[0] == DOMAIN_IFACE
               and args[1].get('StateReason') == reason for _t, p, _i, member, args in signals)
