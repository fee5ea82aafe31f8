/* Whether a live migration of a running guest can lose guest writes (to
 * its memory or its disks), and the refusal (libvirt's
 * VIR_ERR_MIGRATE_UNSAFE) when it can. */
#pragma once

#include "domain.h"
#include "migration-params.h"

/* TRUE when a live migration of @domain's QEMU with @params (may be NULL:
 * the guest alone) is exact; otherwise FALSE with the cause and the ways
 * out. KVM tracks dirty pages in the kernel; TCG before QEMU 9.0 needs RAM
 * off the 256 KiB grid (qemu_command_ram_kib()) and no XBZRLE. */
gboolean migration_live_is_safe(const Domain *domain, const MigrationParams *params, char **ret_cause,
                                char **ret_remedy);

/* MD_ERROR_UNSAFE naming the cause and the ways out for a LIVE migration
 * (without UNSAFE) that could lose data: guest memory (above), or a
 * writable disk whose cache mode is not none or directsync on storage not
 * known to be shared (libvirt's rule); TRUE otherwise. */
gboolean migration_check_safe(const Domain *domain, const MigrationParams *params, GError **error);
