/* The parts of the QEMU command line built outside qemu-command.c. Not for
 * use outside qemu-command*.c and their tests. */
#pragma once

#include <glib.h>

#include "domain-def.h"
#include "qemu-command.h"

/* -drive and -device for each disk of @def (qemu-command-disks.c); FALSE
 * with MD_ERROR_UNSUPPORTED naming the disk and what of it QEMU cannot do. */
gboolean qemu_command_add_disks(GPtrArray *argv, const DomainDef *def, GError **error);
