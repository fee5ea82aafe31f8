/* Domain definition -> QEMU argv. Pure: no I/O, so it is unit-tested. */
#pragma once

#include <glib.h>

#include "domain-def.h"

typedef struct {
        const char *binary;     /* def->emulator wins when set */
        gboolean kvm;           /* -accel kvm, else tcg */
        int monitor_fd;         /* listening QMP socket, inherited by QEMU */
        const char *incoming;   /* NULL, or "defer" for a migration target */
        guint64 ram_kib;        /* 0: qemu_command_ram_kib() of the definition; else exactly this
                                 * (a migration target matches its source) */
        const int *net_fds;     /* per def->nets entry: the fd number QEMU inherits its tap as,
                                 * -1 for type 'user' */
        guint n_net_fds;
        const char *hugepage_path;  /* <hugepages/>: the hugetlbfs mount QEMU puts the guest's RAM
                                     * on (mem-path); NULL refuses such a definition */
} QemuCommandOptions;

/* The argv (NULL-terminated), or NULL with MD_ERROR_UNSUPPORTED naming what
 * of @def the driver cannot turn into a QEMU command line. */
GStrv qemu_command_build(const DomainDef *def, const QemuCommandOptions *options, GError **error);

/* Guest RAM in KiB as QEMU is given it. Under TCG, QEMU before 9.0 loses
 * guest writes during live migration when the RAM block's length is a
 * multiple of 256 KiB (64 pages: the dirty-bitmap fast path clears bits
 * without resetting TCG's TLB; fixed upstream by 03bfc2188f). An extra
 * 8 KiB (QEMU's -m granule) keeps the block off that grid, so QEMU takes
 * the path that resets the TLB. Computed from the definition alone, so
 * both hosts of a migration give QEMU the same size. */
#define QEMU_TCG_RAM_PAD_KIB 8
guint64 qemu_command_ram_kib(guint64 memory_kib, gboolean kvm);

/* The peripherals' arguments (qemu-command-peripherals.c): NICs, displays,
 * video, channels, USB tablet, RNG. Used by qemu_command_build(). */
gboolean qemu_command_add_peripherals(GPtrArray *argv, const DomainDef *def, const QemuCommandOptions *options,
                                      GError **error);

/* Whether @def's RAM goes on a hugetlbfs: <hugepages/>, unless its <page>
 * is the base page size, which libvirt backs with ordinary memory. */
gboolean qemu_command_uses_hugepages(const DomainDef *def);
