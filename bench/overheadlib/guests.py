"""A guest kind (idle or dirty): the same guest on every path, its XML for
the managed paths and the console paths named by its UUID."""

import os
import uuid as uuidlib

from .common import harness

# --prealloc: libvirt's element, which migrationd and libvirt both turn into
# a preallocated RAM backend.
PREALLOC = "<allocation mode='immediate'/>"


def memory_backing(bench):
    return PREALLOC if getattr(bench.args, 'prealloc', False) else ''


class Guest:
    """A guest kind (idle or dirty): its XML on the managed path, and the
    QEMU command line the raw path uses (the daemon's own, see RawPath)."""

    def __init__(self, bench, kind, cmdline):
        self.kind = kind
        self.cmdline = cmdline
        self.uuid = str(uuidlib.uuid4())
        self.name = 'ovh-%s-%s' % (kind, self.uuid[:8])
        self.path = harness.domain_path(self.uuid)
        # The UUID in the paths: leftovers are found by it.
        self.src_serial = os.path.join(bench.tmp, 'serial-%s-src.log' % self.uuid)
        self.dst_serial = os.path.join(bench.tmp, 'serial-%s-dst.log' % self.uuid)
        self.memory_mib = bench.args.memory
        self.bench = bench

    def xml(self, serial):
        return harness.guest_xml(self.name, self.uuid, serial, memory_mib=self.memory_mib,
                                 kernel=self.bench.kernel, cmdline=self.cmdline,
                                 virt_type=self.bench.domain_type, memory_backing=memory_backing(self.bench))
