#define G_LOG_DOMAIN "migrationd"

#include <glib/gi18n.h>

#include "md-error.h"
#include "migration-params.h"
#include "migration-safety.h"
#include "qemu-command.h"
#include "qmp.h"

/* QEMU 9.0 resets TCG's TLB on every dirty-bitmap sync (commit 03bfc2188f). */
#define QEMU_VERSION_TCG_DIRTY_FIXED 900

/* The QEMU version when @d runs under TCG on a QEMU whose dirty tracking can
 * miss guest writes (before 9.0); 0 when it is exact (KVM, QEMU 9.0 or later). */
static guint tcg_dirty_tracking_flawed(const Domain *d) {
        guint version = d->qemu ? qemu_process_get_qemu_version(d->qemu) : 0;

        if (!d->live || g_str_equal(d->live->virt_type, "kvm") || version >= QEMU_VERSION_TCG_DIRTY_FIXED)
                return 0;
        return MAX(version, 1u);
}

gboolean migration_live_is_safe(const Domain *d, const MigrationParams *p, char **ret_cause,
                                char **ret_remedy) {
        guint version = tcg_dirty_tracking_flawed(d);

        if (version == 0)
                return TRUE;
        /* XBZRLE keeps a cache of sent pages and sends deltas against it; a
         * write the bitmap missed is never resent, whatever the RAM size
         * (features/compression-xbzrle lost a write about 1 run in 10 with
         * the pad in place). */
        if (p && migration_params_use_xbzrle(p)) {
                *ret_cause = g_strdup_printf(_("it runs under TCG on QEMU %u.%u, where XBZRLE "
                                               "compression (COMPRESSED without a method, or with "
                                               "xbzrle) loses guest writes during a live migration"),
                                             version / 100, version % 100);
                *ret_remedy = g_strdup(_("Migrate it without COMPRESSED, with compression zstd or "
                                         "zlib and PARALLEL, or without LIVE (the guest is paused "
                                         "while its memory is copied, which is exact), or pass "
                                         "UNSAFE to force it"));
                return FALSE;
        }
        if (d->ram_kib % 256 != 0)
                return TRUE;
        if (d->ram_kib == 0)
                *ret_cause = g_strdup_printf(_("it runs under TCG on QEMU %u.%u, which has not yet "
                                               "said how much RAM the guest has"),
                                             version / 100, version % 100);
        else
                *ret_cause = g_strdup_printf(_("it runs under TCG on QEMU %u.%u with %llu KiB of "
                                               "RAM, a multiple of 256 KiB, where QEMU before 9.0 "
                                               "loses guest writes during a live migration"),
                                             version / 100, version % 100, (unsigned long long) d->ram_kib);
        *ret_remedy = g_strdup(_("Migrate it without LIVE (the guest is paused while its memory is "
                                 "copied, which is exact), restart it so that it gets a safe RAM "
                                 "size, or pass UNSAFE to force it"));
        return FALSE;
}

gboolean migration_check_safe(const Domain *d, const MigrationParams *p, GError **error) {
        g_autofree char *cause = NULL;
        g_autofree char *remedy = NULL;

        if (!(p->flags & MIGRATE_LIVE) || (p->flags & (MIGRATE_UNSAFE | MIGRATE_OFFLINE)))
                return TRUE;
        if (migration_live_is_safe(d, p, &cause, &remedy))
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_UNSAFE,
                    _("A live migration of domain '%s' could lose guest memory: %s. %s"),
                    domain_name(d), cause, remedy);
        return FALSE;
}
