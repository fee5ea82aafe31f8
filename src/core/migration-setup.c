#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "migration-setup.h"

/* QEMU 7.2's defaults for what a job may change. */
#define DEFAULT_MULTIFD_CHANNELS 2
#define DEFAULT_THROTTLE_INITIAL 20
#define DEFAULT_THROTTLE_INCREMENT 10

static const char *const capabilities[] = { "events", "postcopy-ram", "multifd", "xbzrle", "auto-converge" };

static gboolean has_method(const MigrationParams *p, const char *method) {
        return p->compression && g_strv_contains((const char *const *) p->compression, method);
}

/* libvirt's default method is xbzrle; zlib and zstd ride on multifd. */
static gboolean wants_xbzrle(const MigrationParams *p) {
        return (p->flags & MIGRATE_COMPRESSED) && (!p->compression || has_method(p, "xbzrle"));
}

static const char *multifd_compression(const MigrationParams *p) {
        if (!(p->flags & MIGRATE_COMPRESSED))
                return "none";
        return has_method(p, "zstd") ? "zstd" : has_method(p, "zlib") ? "zlib" : "none";
}

static JsonNode *parameters(const MigrationParams *p, gboolean source, guint64 bandwidth_mib,
                            guint64 downtime_ms) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "multifd-channels");
        json_builder_add_int_value(b, p->has_parallel_connections ? p->parallel_connections
                                                                   : DEFAULT_MULTIFD_CHANNELS);
        json_builder_set_member_name(b, "multifd-compression");
        json_builder_add_string_value(b, multifd_compression(p));
        if (source) {
                json_builder_set_member_name(b, "cpu-throttle-initial");
                json_builder_add_int_value(b, p->has_auto_converge_initial ? p->auto_converge_initial
                                                                           : DEFAULT_THROTTLE_INITIAL);
                json_builder_set_member_name(b, "cpu-throttle-increment");
                json_builder_add_int_value(b, p->has_auto_converge_increment ? p->auto_converge_increment
                                                                             : DEFAULT_THROTTLE_INCREMENT);
                json_builder_set_member_name(b, "max-postcopy-bandwidth");
                json_builder_add_int_value(b, p->has_bandwidth_postcopy
                                                      ? (gint64) MIN(p->bandwidth_postcopy, (guint64) G_MAXINT64 / (1024 * 1024)) * 1024 * 1024
                                                      : 0);
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void migration_setup_add(QemuCommandList *list, const MigrationParams *p, gboolean source,
                         guint64 bandwidth_mib, guint64 downtime_ms) {
        const gboolean states[] = {
                TRUE,
                (p->flags & MIGRATE_POSTCOPY) != 0,
                (p->flags & MIGRATE_PARALLEL) != 0,
                wants_xbzrle(p),
                source && (p->flags & MIGRATE_AUTO_CONVERGE) != 0,
        };

        qemu_command_list_add(list, "migrate-set-capabilities",
                              qemu_migration_capabilities_args(capabilities, states, G_N_ELEMENTS(capabilities)));
        qemu_command_list_add(list, "migrate-set-parameters", parameters(p, source, bandwidth_mib, downtime_ms));
        if (source) {
                qemu_command_list_add(list, "migrate-set-parameters", qemu_migration_speed_args(bandwidth_mib));
                qemu_command_list_add(list, "migrate-set-parameters", qemu_migration_downtime_args(downtime_ms));
        }
}

void migration_setup_add_reset(QemuCommandList *list) {
        const gboolean states[] = { TRUE, FALSE, FALSE, FALSE, FALSE };
        g_autoptr(MigrationParams) defaults = g_new0(MigrationParams, 1);

        qemu_command_list_add(list, "migrate-set-capabilities",
                              qemu_migration_capabilities_args(capabilities, states, G_N_ELEMENTS(capabilities)));
        qemu_command_list_add(list, "migrate-set-parameters", parameters(defaults, TRUE, 0, 0));
}

GVariant *migration_setup_stats(JsonNode *reply, const MigrationParams *p) {
        static const char *const int_keys[] = {
                "multifd-channels", "cpu-throttle-initial", "cpu-throttle-increment",
                "max-bandwidth", "downtime-limit", "max-postcopy-bandwidth", "xbzrle-cache-size",
        };
        g_auto(GVariantDict) dict;
        JsonObject *o = reply && JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;

        g_variant_dict_init(&dict, NULL);
        for (guint i = 0; o && i < G_N_ELEMENTS(int_keys); i++) {
                JsonNode *n = json_object_get_member(o, int_keys[i]);
                g_autofree char *key = g_strconcat("qemu.", int_keys[i], NULL);
                if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64 &&
                    json_node_get_int(n) >= 0)
                        g_variant_dict_insert(&dict, key, "t", (guint64) json_node_get_int(n));
        }
        if (o && json_object_has_member(o, "multifd-compression"))
                g_variant_dict_insert(&dict, "qemu.multifd-compression", "s",
                                      json_object_get_string_member_with_default(o, "multifd-compression", ""));
        /* The capabilities are ours: QEMU accepted them or the job failed. */
        g_variant_dict_insert(&dict, "qemu.cap.postcopy-ram", "b", (p->flags & MIGRATE_POSTCOPY) != 0);
        g_variant_dict_insert(&dict, "qemu.cap.multifd", "b", (p->flags & MIGRATE_PARALLEL) != 0);
        g_variant_dict_insert(&dict, "qemu.cap.xbzrle", "b", wants_xbzrle(p));
        g_variant_dict_insert(&dict, "qemu.cap.auto-converge", "b", (p->flags & MIGRATE_AUTO_CONVERGE) != 0);
        return g_variant_dict_end(&dict);
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
                            "The TLS flag needs this host's [tls] ca, cert and key");
                return NULL;
        }
        if (g_mkdir_with_parents(dir, 0700) < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "Failed to create %s: %s", dir,
                            g_strerror(errno));
                return NULL;
        }
        for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *link = g_build_filename(dir, names[i], NULL);
                (void) unlink(link);
                if (symlink(targets[i], link) < 0) {
                        g_set_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "Failed to link %s: %s", link,
                                    g_strerror(errno));
                        return NULL;
                }
        }
        return g_steal_pointer(&dir);
}

void migration_setup_add_tls(QemuCommandList *list, const char *id, const char *dir, gboolean server,
                             const char *hostname) {
        g_autoptr(JsonBuilder) object = json_builder_new();
        g_autoptr(JsonBuilder) params = json_builder_new();

        json_builder_begin_object(object);
        json_builder_set_member_name(object, "qom-type");
        json_builder_add_string_value(object, "tls-creds-x509");
        json_builder_set_member_name(object, "id");
        json_builder_add_string_value(object, id);
        json_builder_set_member_name(object, "dir");
        json_builder_add_string_value(object, dir);
        json_builder_set_member_name(object, "endpoint");
        json_builder_add_string_value(object, server ? "server" : "client");
        /* The server refuses a stream from a QEMU without a certificate of our CA. */
        json_builder_set_member_name(object, "verify-peer");
        json_builder_add_boolean_value(object, TRUE);
        json_builder_end_object(object);
        qemu_command_list_add(list, "object-add", json_builder_get_root(object));

        json_builder_begin_object(params);
        json_builder_set_member_name(params, "tls-creds");
        json_builder_add_string_value(params, id);
        if (!server && hostname) {
                json_builder_set_member_name(params, "tls-hostname");
                json_builder_add_string_value(params, hostname);
        }
        json_builder_end_object(params);
        qemu_command_list_add(list, "migrate-set-parameters", json_builder_get_root(params));
}

void migration_setup_add_tls_reset(QemuCommandList *list, const char *id) {
        g_autoptr(JsonBuilder) params = json_builder_new();
        g_autoptr(JsonBuilder) del = json_builder_new();

        json_builder_begin_object(params);
        json_builder_set_member_name(params, "tls-creds");
        json_builder_add_string_value(params, "");
        json_builder_set_member_name(params, "tls-hostname");
        json_builder_add_string_value(params, "");
        json_builder_end_object(params);
        qemu_command_list_add(list, "migrate-set-parameters", json_builder_get_root(params));
        json_builder_begin_object(del);
        json_builder_set_member_name(del, "id");
        json_builder_add_string_value(del, id);
        json_builder_end_object(del);
        qemu_command_list_add(list, "object-del", json_builder_get_root(del));
}
