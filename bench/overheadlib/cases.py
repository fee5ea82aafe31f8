"""The measured cases: a guest kind and the flags of its migration, the
same on every path so that the ratios compare like with like."""

from .common import LIVE, PARALLEL, POSTCOPY


class Case:
    """One guest and one way of migrating it, measured on every path."""

    def __init__(self, key, guest, label, multifd=0, postcopy_after=None, goal=False):
        self.key = key
        self.guest = guest              # 'idle' or 'dirty'
        self.label = label
        self.multifd = multifd          # channels, 0 = off
        self.postcopy_after = postcopy_after
        self.goal = goal                # b/a <= GOAL_RATIO is a goal (not just shown)

    @property
    def postcopy(self):
        return self.postcopy_after is not None

    def flags(self):
        f = LIVE
        if self.multifd:
            f |= PARALLEL
        if self.postcopy:
            f |= POSTCOPY
        return f


def build_cases(args):
    cases = []
    guests = args.guests
    if 'idle' in guests:
        cases.append(Case('idle', 'idle', 'idle guest (dirty=0)', goal=True))
    if 'dirty' in guests:
        cases.append(Case('dirty', 'dirty', 'guest dirtying %s' % args.dirty, goal=True))
        if args.extended:
            cases.append(Case('dirty-multifd', 'dirty', 'guest dirtying %s, multifd x%d'
                              % (args.dirty, args.multifd_channels), multifd=args.multifd_channels))
            cases.append(Case('dirty-postcopy', 'dirty', 'guest dirtying %s, post-copy after %g s'
                              % (args.dirty, args.postcopy_after), postcopy_after=args.postcopy_after))
    if args.cases:
        cases = [c for c in cases if c.key in args.cases]
    return cases
