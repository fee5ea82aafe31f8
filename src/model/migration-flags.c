/* Migration flags: one table (name, implemented, why refused) and the rules
 * between flags, checked as migration-params.h documents. Implementing a
 * flag later means flipping its `implemented`. */
#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "md-error.h"
#include "migration-flags.h"

typedef struct {
        guint bit;
        const char *name;
        gboolean implemented;
        const char *unsupported;        /* why it stays refused, a whole sentence; NULL: not implemented yet */
} FlagInfo;

static const FlagInfo flag_table[] = {
        { MIGRATE_LIVE, "LIVE", TRUE, NULL },
        { MIGRATE_PEER2PEER, "PEER2PEER", TRUE, NULL },
        { MIGRATE_TUNNELLED, "TUNNELLED", FALSE,
          N_("Migration flag TUNNELLED is not supported: QEMU has no tunnelled mode over migrationd's bridge; leave it out and the stream goes straight from QEMU to QEMU") },
        { MIGRATE_PERSIST_DEST, "PERSIST_DEST", TRUE, NULL },
        { MIGRATE_UNDEFINE_SOURCE, "UNDEFINE_SOURCE", TRUE, NULL },
        { MIGRATE_PAUSED, "PAUSED", TRUE, NULL },
        { MIGRATE_NON_SHARED_DISK, "NON_SHARED_DISK", TRUE, NULL },
        { MIGRATE_NON_SHARED_INC, "NON_SHARED_INC", TRUE, NULL },
        { MIGRATE_CHANGE_PROTECTION, "CHANGE_PROTECTION", TRUE, NULL },
        { MIGRATE_UNSAFE, "UNSAFE", TRUE, NULL },
        { MIGRATE_OFFLINE, "OFFLINE", TRUE, NULL },
        { MIGRATE_COMPRESSED, "COMPRESSED", TRUE, NULL },
        { MIGRATE_ABORT_ON_ERROR, "ABORT_ON_ERROR", FALSE, NULL },
        { MIGRATE_AUTO_CONVERGE, "AUTO_CONVERGE", TRUE, NULL },
        { MIGRATE_RDMA_PIN_ALL, "RDMA_PIN_ALL", FALSE,
          N_("Migration flag RDMA_PIN_ALL is not supported: migrationd migrates over TCP only, never RDMA") },
        { MIGRATE_POSTCOPY, "POSTCOPY", TRUE, NULL },
        { MIGRATE_TLS, "TLS", TRUE, NULL },
        { MIGRATE_PARALLEL, "PARALLEL", TRUE, NULL },
        { MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES, "NON_SHARED_SYNCHRONOUS_WRITES", FALSE,
          N_("Migration flag NON_SHARED_SYNCHRONOUS_WRITES is not supported: copying non-shared storage is not implemented; keep the disk images on storage both hosts share") },
        { MIGRATE_POSTCOPY_RESUME, "POSTCOPY_RESUME", FALSE, NULL },
        { MIGRATE_ZEROCOPY, "ZEROCOPY", FALSE,
          N_("Migration flag ZEROCOPY is not supported: migrationd does not let QEMU lock guest memory for zero-copy sending") },
};
/* One entry per bit, in bit order: flag_table[i].bit == 1 << i. */
G_STATIC_ASSERT(G_N_ELEMENTS(flag_table) == 21 && _MIGRATE_FLAGS_ALL == (1 << 21) - 1);

typedef enum {
        FLAG_RULE_REQUIRES,     /* @flag needs at least one of @others */
        FLAG_RULE_EXCLUDES,     /* @flag cannot go with any of @others */
} FlagRuleKind;

typedef struct {
        guint flag;
        FlagRuleKind kind;
        guint others;
        const char *message;
} FlagRule;

/* libvirt's documented exclusions (virDomainMigrateFlags, virDomainMigrate3)
 * plus the ones its QEMU driver enforces. */
static const FlagRule flag_rules[] = {
        { MIGRATE_OFFLINE, FLAG_RULE_REQUIRES, MIGRATE_PERSIST_DEST,
          N_("Migration flag OFFLINE requires PERSIST_DEST: an offline migration only moves the definition, which must then persist on the destination") },
        { MIGRATE_OFFLINE, FLAG_RULE_EXCLUDES, MIGRATE_LIVE,
          N_("Migration flags OFFLINE and LIVE exclude each other: an offline migration moves no running guest") },
        { MIGRATE_OFFLINE, FLAG_RULE_EXCLUDES, MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC,
          N_("Migration flag OFFLINE cannot be combined with NON_SHARED_DISK or NON_SHARED_INC: an offline migration copies no non-shared storage") },
        { MIGRATE_NON_SHARED_DISK, FLAG_RULE_EXCLUDES, MIGRATE_NON_SHARED_INC,
          N_("Migration flags NON_SHARED_DISK and NON_SHARED_INC exclude each other: copy either whole disks or only their top images") },
        { MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES, FLAG_RULE_REQUIRES, MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC,
          N_("Migration flag NON_SHARED_SYNCHRONOUS_WRITES requires NON_SHARED_DISK or NON_SHARED_INC: it only applies while non-shared storage is copied") },
        { MIGRATE_TUNNELLED, FLAG_RULE_REQUIRES, MIGRATE_PEER2PEER,
          N_("Migration flag TUNNELLED requires PEER2PEER: the stream is tunnelled through the connection between the two daemons") },
        { MIGRATE_TUNNELLED, FLAG_RULE_EXCLUDES, MIGRATE_POSTCOPY,
          N_("Migration flags TUNNELLED and POSTCOPY exclude each other: post-copy needs a direct connection between the QEMU processes") },
        { MIGRATE_TUNNELLED, FLAG_RULE_EXCLUDES, MIGRATE_PARALLEL,
          N_("Migration flags TUNNELLED and PARALLEL exclude each other: a tunnel carries a single connection") },
        { MIGRATE_ZEROCOPY, FLAG_RULE_REQUIRES, MIGRATE_PARALLEL,
          N_("Migration flag ZEROCOPY requires PARALLEL: QEMU sends zero-copy only over parallel (multifd) connections") },
        { MIGRATE_POSTCOPY, FLAG_RULE_EXCLUDES, MIGRATE_PARALLEL,
          N_("Migration flags POSTCOPY and PARALLEL exclude each other: QEMU 7.2 cannot switch a multifd migration to post-copy") },
        { MIGRATE_POSTCOPY_RESUME, FLAG_RULE_REQUIRES, MIGRATE_POSTCOPY,
          N_("Migration flag POSTCOPY_RESUME requires POSTCOPY: only a post-copy migration can be resumed") },
};

const char *migration_flag_name(guint flag) {
        if (flag == 0 || (flag & (flag - 1)) != 0 || (flag & ~(guint) _MIGRATE_FLAGS_ALL))
                return NULL;
        return flag_table[g_bit_nth_lsf(flag, -1)].name;
}

char *migration_flag_names(guint flags) {
        g_autoptr(GString) s = g_string_new(NULL);

        for (guint i = 0; i < G_N_ELEMENTS(flag_table); i++)
                if (flags & flag_table[i].bit)
                        g_string_append_printf(s, "%s%s", s->len > 0 ? " or " : "", flag_table[i].name);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

gboolean migration_flags_check_known(guint flags, GError **error) {
        guint unknown = flags & ~(guint) _MIGRATE_FLAGS_ALL;

        if (unknown != 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Unknown migration flags 0x%x: the highest known flag is ZEROCOPY (0x%x)"),
                            unknown, (guint) MIGRATE_ZEROCOPY);
                return FALSE;
        }
        return TRUE;
}

gboolean migration_flags_check_combinations(guint flags, GError **error) {
        for (guint i = 0; i < G_N_ELEMENTS(flag_rules); i++) {
                const FlagRule *rule = &flag_rules[i];
                gboolean bad;

                if (!(flags & rule->flag))
                        continue;
                bad = rule->kind == FLAG_RULE_REQUIRES ? !(flags & rule->others) : !!(flags & rule->others);
                if (bad) {
                        g_set_error_literal(error, MD_ERROR, MD_ERROR_INVALID_ARGS, _(rule->message));
                        return FALSE;
                }
        }
        return TRUE;
}

/* Flags refused for a reason go first (see migration-flags.h). */
gboolean migration_flags_check_implemented(guint flags, GError **error) {
        for (guint i = 0; i < G_N_ELEMENTS(flag_table); i++) {
                const FlagInfo *f = &flag_table[i];

                if ((flags & f->bit) && !f->implemented && f->unsupported) {
                        g_set_error_literal(error, MD_ERROR, MD_ERROR_UNSUPPORTED, _(f->unsupported));
                        return FALSE;
                }
        }
        for (guint i = 0; i < G_N_ELEMENTS(flag_table); i++) {
                const FlagInfo *f = &flag_table[i];

                if ((flags & f->bit) && !f->implemented) {
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("Migration flag %s is not supported yet; leave it out"), f->name);
                        return FALSE;
                }
        }
        return TRUE;
}

gboolean migration_flags_check(guint flags, GError **error) {
        return migration_flags_check_known(flags, error) &&
               migration_flags_check_combinations(flags, error) &&
               migration_flags_check_implemented(flags, error);
}
