/* What qemu-process.c and qemu-process-stale.c share. Not for use outside
 * these files. */
#pragma once

#include "qemu-process.h"

/* Whether one of @pid's arguments is exactly @needle (the guest's UUID:
 * how a pid is known to still be our QEMU). */
gboolean qemu_process_cmdline_mentions(pid_t pid, const char *needle);
