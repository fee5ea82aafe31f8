/* Whether a live migration of a running guest can lose guest writes, and
 * the refusal (libvirt's VIR_ERR_MIGRATE_UNSAFE) when it can. */
#pragma once

#include "domain.h"

/* TRUE when a live migration of @domain's QEMU is exact; otherwise FALSE
 * with the cause in @ret_cause. KVM tracks dirty pages in the kernel; TCG
 * needs QEMU 9.0 or RAM off the 256 KiB grid (qemu_command_ram_kib()). */
gboolean migration_live_is_safe(const Domain *domain, char **ret_cause);

/* MD_ERROR_UNSAFE naming the cause and the ways out for a LIVE migration
 * (without UNSAFE) that could lose data; TRUE otherwise. */
gboolean migration_check_safe(const Domain *domain, guint flags, GError **error);
