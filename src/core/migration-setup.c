#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "migration-setup.h"

/* QEMU 7.2's defaults for what a job may change. */
#define DEFAULT_MULTIFD_CHANNELS 2
#define DEFAULT_THROTTLE_INITIAL 20
#define DEFAULT_THROTTLE_INCREMENT 10

static const char *const capabilities[] = { "events", "postcopy-ram", "multifd", "xbzrle", "auto-converge" };
static const char *const capabilities_null[] = { "events", "postcopy-ram", "multifd", "xbzrle", "auto-converge", NULL };

static const char *const *capabilities_list(void) {
        return capabilities_null;
}

static gboolean has_method(const MigrationParams *p, const char *method) {
        return p->compression && g_strv_contains((const char *const *) p->compression, method);
}

static const char *multifd_compression(const MigrationParams *p) {
        if (!(p->flags & MIGRATE_COMPRESSED))
                return "none";
        return has_method(p, "zstd") ? "zstd" : has_method(p, "zlib") ? "zlib" : "none";
}

static JsonNode *parameters(const MigrationParams *p, gboolean source, guint64 bandwidth_mib,
                            guint64 downtime_ms) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        /* The driver knows QEMU's units and limits. */
        g_autoptr(JsonNode) speed = qemu_migration_speed_args(bandwidth_mib);
        g_autoptr(JsonNode) downtime = qemu_migration_downtime_args(downtime_ms ? downtime_ms : 300);

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
                /* Speed and downtime in the same command: every QMP round trip
                 * before migrate is time the caller waits (bench/overhead). */
                json_builder_set_member_name(b, "max-bandwidth");
                json_builder_add_int_value(b, (gint64) json_node_get_int(
                        json_object_get_member(json_node_get_object(speed), "max-bandwidth")));
                json_builder_set_member_name(b, "downtime-limit");
                json_builder_add_int_value(b, (gint64) json_node_get_int(
                        json_object_get_member(json_node_get_object(downtime), "downtime-limit")));
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
                migration_params_use_xbzrle(p),
                source && (p->flags & MIGRATE_AUTO_CONVERGE) != 0,
        };

        qemu_command_list_add(list, "migrate-set-capabilities",
                              qemu_migration_capabilities_args(capabilities, states, G_N_ELEMENTS(capabilities)));
        qemu_command_list_add(list, "migrate-set-parameters", parameters(p, source, bandwidth_mib, downtime_ms));
}

void migration_setup_add_reset(QemuCommandList *list) {
        const gboolean states[] = { TRUE, FALSE, FALSE, FALSE, FALSE };
        g_autoptr(MigrationParams) defaults = g_new0(MigrationParams, 1);

        qemu_command_list_add(list, "migrate-set-capabilities",
                              qemu_migration_capabilities_args(capabilities, states, G_N_ELEMENTS(capabilities)));
        qemu_command_list_add(list, "migrate-set-parameters", parameters(defaults, TRUE, 0, 0));
}

/* What QEMU had before this job touched it: proof that the previous job's
 * settings were reset. @caps: query-migrate-capabilities; @params:
 * query-migrate-parameters. Keys "qemu.initial.cap.NAME" and
 * "qemu.initial.NAME". */
GVariant *migration_setup_initial_stats(JsonNode *caps, JsonNode *params) {
        g_auto(GVariantDict) dict;
        g_autoptr(GVariant) from_params = NULL;
        JsonArray *list = caps && JSON_NODE_HOLDS_ARRAY(caps) ? json_node_get_array(caps) : NULL;
        g_autoptr(MigrationParams) none = g_new0(MigrationParams, 1);
        GVariantIter iter;
        const char *key;
        GVariant *value;

        g_variant_dict_init(&dict, NULL);
        for (guint i = 0; list && i < json_array_get_length(list); i++) {
                JsonObject *o = json_array_get_object_element(list, i);
                const char *name = o ? json_object_get_string_member_with_default(o, "capability", NULL) : NULL;
                g_autofree char *k = NULL;

                if (!name || !g_strv_contains(capabilities_list(), name))
                        continue;
                k = g_strconcat("qemu.initial.cap.", name, NULL);
                g_variant_dict_insert(&dict, k, "b", json_object_get_boolean_member_with_default(o, "state", FALSE));
        }
        from_params = g_variant_ref_sink(migration_setup_stats(params, none));
        g_variant_iter_init(&iter, from_params);
        while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
                g_autofree char *k = NULL;
                /* Only what QEMU reported, not the capabilities we would set. */
                if (g_str_has_prefix(key, "qemu.cap."))
                        continue;
                k = g_strconcat("qemu.initial.", key + strlen("qemu."), NULL);
                g_variant_dict_insert_value(&dict, k, value);
        }
        return g_variant_dict_end(&dict);
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
        g_variant_dict_insert(&dict, "qemu.cap.xbzrle", "b", migration_params_use_xbzrle(p));
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
