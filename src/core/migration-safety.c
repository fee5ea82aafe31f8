#define G_LOG_DOMAIN "migrationd"

#include <glib/gi18n.h>

#include "md-error.h"
#include "migration-params.h"
#include "migration-safety.h"
#include "qemu-command.h"
#include "qmp.h"

/* QEMU 9.0 resets TCG's TLB on every dirty-bitmap sync (commit 03bfc2188f). */
#define QEMU_VERSION_TCG_DIRTY_FIXED 900

gboolean migration_live_is_safe(const Domain *d, char **ret_cause) {
        const DomainDef *live = d->live;
        guint version = d->qemu ? qmp_client_get_qemu_version(qemu_process_get_qmp(d->qemu)) : 0;

        if (!live || g_str_equal(live->virt_type, "kvm") || version >= QEMU_VERSION_TCG_DIRTY_FIXED)
                return TRUE;
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
        return FALSE;
}

gboolean migration_check_safe(const Domain *d, guint flags, GError **error) {
        g_autofree char *cause = NULL;

        if (!(flags & MIGRATE_LIVE) || (flags & (MIGRATE_UNSAFE | MIGRATE_OFFLINE)))
                return TRUE;
        if (migration_live_is_safe(d, &cause))
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_UNSAFE,
                    _("A live migration of domain '%s' could lose guest memory: %s. Migrate it "
                      "without LIVE (the guest is paused while its memory is copied, which is "
                      "exact), restart it so that it gets a safe RAM size, or pass UNSAFE to "
                      "force it"), domain_name(d), cause);
        return FALSE;
}
