/* The parts of the QEMU command line built outside qemu-command.c. Not for
 * use outside qemu-command*.c and their tests. */
#pragma once

#include <glib.h>

#include "domain-def.h"
#include "qemu-command.h"

/* Appends a copy of @arg, or the formatted argument, to @argv. */
void qemu_argv_add(GPtrArray *argv, const char *arg);
G_GNUC_PRINTF(2, 3)
void qemu_argv_addf(GPtrArray *argv, const char *fmt, ...);

/* -drive and -device for each disk of @def (qemu-command-disks.c); FALSE
 * with MD_ERROR_UNSUPPORTED naming the disk and what of it QEMU cannot do. */
gboolean qemu_command_add_disks(GPtrArray *argv, const DomainDef *def, GError **error);

/* Sets MD_ERROR_UNSUPPORTED "The QEMU driver cannot start a domain with
 * @what"; returns FALSE. */
gboolean qemu_command_unsupported(GError **error, const char *what);

/* The guest RAM's backend (qemu-command-memory.c): nothing for QEMU's own;
 * a memory-backend-ram for <allocation mode='immediate'>, a
 * memory-backend-file on options->hugepage_path for <hugepages/>, under
 * the machine's own RAM id. @ram_kib is the -m size. */
gboolean qemu_command_add_memory(GPtrArray *argv, const DomainDef *def, const QemuCommandOptions *options,
                                 guint64 ram_kib, GError **error);

/* The CPU model, clock and timers, boot and reboot settings
 * (qemu-command-machine.c); FALSE with MD_ERROR_UNSUPPORTED for what QEMU
 * cannot be given (@kvm: the accelerator). */
gboolean qemu_command_add_machine_settings(GPtrArray *argv, const DomainDef *def, gboolean kvm, GError **error);
