/* Whether a guest's disk images are where this daemon (and the QEMU it
 * starts, which shares its unit's sandbox) may write them. */
#pragma once

#include <glib.h>

#include "domain-def.h"

/* FALSE with MD_ERROR_QEMU_FAILED (what QEMU failing to open it gave) naming the disk, its image and
 * [storage] directories when a writable disk's image is on a file system
 * that is read-only here: what the hardened unit (ProtectSystem=strict)
 * makes of every directory it does not grant. QEMU's own error ("Read-only
 * file system") would not say why. */
gboolean domain_storage_check(const DomainDef *def, GError **error);
