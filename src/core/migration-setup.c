#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "i18n.h"
#include "md-error.h"
#include "migration-setup.h"

static gboolean has_method(const MigrationParams *p, const char *method) {
        return p->compression && g_strv_contains((const char *const *) p->compression, method);
}

static const char *multifd_compression(const MigrationParams *p) {
        if (!(p->flags & MIGRATE_COMPRESSED))
                return "none";
        return has_method(p, "zstd") ? "zstd" : has_method(p, "zlib") ? "zlib" : "none";
}

void migration_setup_settings(QemuMigrationSettings *s, const MigrationParams *p, guint64 bandwidth_mib,
                              guint64 downtime_ms) {
        qemu_migration_settings_init(s);
        s->postcopy_ram = (p->flags & MIGRATE_POSTCOPY) != 0;
        s->multifd = (p->flags & MIGRATE_PARALLEL) != 0;
        s->xbzrle = migration_params_use_xbzrle(p);
        s->auto_converge = (p->flags & MIGRATE_AUTO_CONVERGE) != 0;
        s->pause_before_switchover = (p->flags & (MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC)) != 0;
        if (p->has_parallel_connections)
                s->multifd_channels = p->parallel_connections;
        s->multifd_compression = multifd_compression(p);
        if (p->has_auto_converge_initial)
                s->cpu_throttle_initial = p->auto_converge_initial;
        if (p->has_auto_converge_increment)
                s->cpu_throttle_increment = p->auto_converge_increment;
        s->max_bandwidth_mib = bandwidth_mib;
        if (downtime_ms)
                s->downtime_limit_ms = downtime_ms;
        if (p->has_bandwidth_postcopy)
                s->max_postcopy_bandwidth_mib = p->bandwidth_postcopy;
}

/* Every key of @values (a{?v} or a{sb}) under @prefix into @dict. */
static void insert_prefixed(GVariantDict *dict, const char *prefix, GVariant *values) {
        GVariantIter iter;
        const char *key;
        GVariant *value;

        if (!values)
                return;
        g_variant_iter_init(&iter, values);
        if (g_variant_is_of_type(values, G_VARIANT_TYPE("a{sb}"))) {
                gboolean state;
                while (g_variant_iter_next(&iter, "{&sb}", &key, &state)) {
                        g_autofree char *k = g_strconcat(prefix, key, NULL);
                        g_variant_dict_insert(dict, k, "b", state);
                }
                return;
        }
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
                g_autofree char *k = g_strconcat(prefix, key, NULL);
                g_variant_dict_insert_value(dict, k, value);
        }
}

GVariant *migration_setup_initial_stats(GVariant *caps, GVariant *params) {
        g_auto(GVariantDict) dict;

        g_variant_dict_init(&dict, NULL);
        insert_prefixed(&dict, "qemu.initial.cap.", caps);
        /* Only what QEMU reported, not the capabilities we would set. */
        insert_prefixed(&dict, "qemu.initial.", params);
        return g_variant_dict_end(&dict);
}

GVariant *migration_setup_stats(GVariant *params, const MigrationParams *p) {
        g_auto(GVariantDict) dict;

        g_variant_dict_init(&dict, NULL);
        insert_prefixed(&dict, "qemu.", params);
        /* The capabilities are ours: QEMU accepted them or the job failed. */
        g_variant_dict_insert(&dict, "qemu.cap.postcopy-ram", "b", (p->flags & MIGRATE_POSTCOPY) != 0);
        g_variant_dict_insert(&dict, "qemu.cap.multifd", "b", (p->flags & MIGRATE_PARALLEL) != 0);
        g_variant_dict_insert(&dict, "qemu.cap.xbzrle", "b", migration_params_use_xbzrle(p));
        g_variant_dict_insert(&dict, "qemu.cap.auto-converge", "b", (p->flags & MIGRATE_AUTO_CONVERGE) != 0);
        return g_variant_dict_end(&dict);
}

void migration_setup_merge_stats(GVariant **into, GVariant *stats) {
        g_autoptr(GVariant) add = g_variant_ref_sink(stats);
        g_auto(GVariantDict) dict;
        GVariantIter iter;
        const char *key;
        GVariant *value;

        /* Read *into now: G_VARIANT_DICT_INIT would read it only at first
         * use, after it is freed below when @stats is empty. */
        g_variant_dict_init(&dict, *into);
        g_variant_iter_init(&iter, add);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
                g_variant_dict_insert_value(&dict, key, value);
        g_clear_pointer(into, g_variant_unref);
        *into = g_variant_ref_sink(g_variant_dict_end(&dict));
}

/* QEMU's x509 credentials want one directory with fixed file names; the
 * same identity serves both ends, as for the bridge. */
char *migration_setup_tls_dir(const char *runtime_dir, const char *ca, const char *cert, const char *key,
                              GError **error) {
        static const char *const names[] = {
                "ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem", "client-key.pem",
        };
        const char *targets[] = { ca, cert, key, cert, key };
        g_autofree char *dir = g_build_filename(runtime_dir, "tls", NULL);

        if (!ca || !cert || !key) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("The TLS flag needs this host's [tls] ca, cert and key"));
                return NULL;
        }
        /* errno is saved first: _() may change it. */
        if (g_mkdir_with_parents(dir, 0700) < 0) {
                int saved = errno;
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Failed to create directory %s: %s"), dir,
                            g_strerror(saved));
                return NULL;
        }
        for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *link = g_build_filename(dir, names[i], NULL);
                (void) unlink(link);
                if (symlink(targets[i], link) < 0) {
                        int saved = errno;
                        g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, _("Failed to link %s: %s"), link,
                                    g_strerror(saved));
                        return NULL;
                }
        }
        return g_steal_pointer(&dir);
}
