#define G_LOG_DOMAIN "migrationd"

#include <stddef.h>

#include "md-error.h"
#include "qemu-migration-params.h"
#include "qemu-migration.h"

#define MIB (G_GUINT64_CONSTANT(1024) * 1024)

/* QEMU 7.2's defaults for what a job may change. */
#define DEFAULT_MULTIFD_CHANNELS 2
#define DEFAULT_THROTTLE_INITIAL 20
#define DEFAULT_THROTTLE_INCREMENT 10
#define DEFAULT_DOWNTIME_MS 300

/* Which side sets what, in the order QEMU gets it. A capability of the
 * other side is still sent, switched off: the reset and the next job must
 * not inherit it. A parameter of the other side is not sent. */
static const struct {
        const char *name;
        QemuMigrationSide side;
        size_t offset;                  /* gboolean in QemuMigrationSettings */
} capabilities[] = {
        { "events", QEMU_MIGRATION_BOTH, offsetof(QemuMigrationSettings, events) },
        { "postcopy-ram", QEMU_MIGRATION_BOTH, offsetof(QemuMigrationSettings, postcopy_ram) },
        { "multifd", QEMU_MIGRATION_BOTH, offsetof(QemuMigrationSettings, multifd) },
        { "xbzrle", QEMU_MIGRATION_BOTH, offsetof(QemuMigrationSettings, xbzrle) },
        { "auto-converge", QEMU_MIGRATION_SOURCE, offsetof(QemuMigrationSettings, auto_converge) },
        /* Storage migration: the source stops before the switch-over, so that
         * the mirrors end while its disks are still active. */
        { "pause-before-switchover", QEMU_MIGRATION_SOURCE,
          offsetof(QemuMigrationSettings, pause_before_switchover) },
};

typedef enum {
        PARAM_INT,              /* gint64 as is */
        PARAM_STRING,           /* const char * */
        PARAM_BANDWIDTH,        /* guint64 MiB/s to bytes/s, 0 = unlimited */
        PARAM_MIB,              /* guint64 MiB/s to bytes/s, 0 stays 0 */
        PARAM_MS,               /* guint64 ms */
} ParamType;

static const struct {
        const char *name;
        QemuMigrationSide side;
        ParamType type;
        size_t offset;
} parameters[] = {
        { "multifd-channels", QEMU_MIGRATION_BOTH, PARAM_INT, offsetof(QemuMigrationSettings, multifd_channels) },
        { "multifd-compression", QEMU_MIGRATION_BOTH, PARAM_STRING,
          offsetof(QemuMigrationSettings, multifd_compression) },
        { "cpu-throttle-initial", QEMU_MIGRATION_SOURCE, PARAM_INT,
          offsetof(QemuMigrationSettings, cpu_throttle_initial) },
        { "cpu-throttle-increment", QEMU_MIGRATION_SOURCE, PARAM_INT,
          offsetof(QemuMigrationSettings, cpu_throttle_increment) },
        /* Speed and downtime in the same command: every QMP round trip
         * before migrate is time the caller waits (bench/overhead). */
        { "max-bandwidth", QEMU_MIGRATION_SOURCE, PARAM_BANDWIDTH,
          offsetof(QemuMigrationSettings, max_bandwidth_mib) },
        { "downtime-limit", QEMU_MIGRATION_SOURCE, PARAM_MS, offsetof(QemuMigrationSettings, downtime_limit_ms) },
        { "max-postcopy-bandwidth", QEMU_MIGRATION_SOURCE, PARAM_MIB,
          offsetof(QemuMigrationSettings, max_postcopy_bandwidth_mib) },
};

/* What query-migrate-parameters reports back, as counters. */
static const char *const reported_counters[] = {
        "multifd-channels", "cpu-throttle-initial", "cpu-throttle-increment",
        "max-bandwidth", "downtime-limit", "max-postcopy-bandwidth", "xbzrle-cache-size",
};

#define FIELD(settings, offset, type) (*(const type *) ((const char *) (settings) + (offset)))

void qemu_migration_settings_init(QemuMigrationSettings *s) {
        *s = (QemuMigrationSettings) {
                .events = TRUE,
                .multifd_channels = DEFAULT_MULTIFD_CHANNELS,
                .multifd_compression = "none",
                .cpu_throttle_initial = DEFAULT_THROTTLE_INITIAL,
                .cpu_throttle_increment = DEFAULT_THROTTLE_INCREMENT,
                .downtime_limit_ms = DEFAULT_DOWNTIME_MS,
        };
}

static JsonNode *capabilities_args(const QemuMigrationSettings *s, QemuMigrationSide side) {
        const char *names[G_N_ELEMENTS(capabilities)];
        gboolean states[G_N_ELEMENTS(capabilities)];

        for (guint i = 0; i < G_N_ELEMENTS(capabilities); i++) {
                names[i] = capabilities[i].name;
                states[i] = (capabilities[i].side & side) && FIELD(s, capabilities[i].offset, gboolean);
        }
        return qemu_migration_capabilities_args(names, states, G_N_ELEMENTS(capabilities));
}

static gint64 param_int_value(const QemuMigrationSettings *s, guint i) {
        guint64 v;

        switch (parameters[i].type) {
        case PARAM_INT:
                return FIELD(s, parameters[i].offset, gint64);
        case PARAM_BANDWIDTH:
                /* The driver's rule for libvirt's 0 and for overflow. */
                v = FIELD(s, parameters[i].offset, guint64);
                if (v == 0 || v > QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB)
                        v = QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB;
                return (gint64) (v * MIB);
        case PARAM_MIB:
                v = FIELD(s, parameters[i].offset, guint64);
                return (gint64) MIN(v, (guint64) G_MAXINT64 / MIB) * (gint64) MIB;
        case PARAM_MS:
                return (gint64) MIN(FIELD(s, parameters[i].offset, guint64), (guint64) G_MAXINT64);
        default:
                g_assert_not_reached();
        }
}

/* The side's parameters of @s (nullable: none), with TLS's own when @tls:
 * one migrate-set-parameters, one wait on QEMU. */
static JsonNode *parameters_args(const QemuMigrationSettings *s, QemuMigrationSide side,
                                 const QemuMigrationTls *tls) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        for (guint i = 0; s && i < G_N_ELEMENTS(parameters); i++) {
                if (!(parameters[i].side & side))
                        continue;
                json_builder_set_member_name(b, parameters[i].name);
                if (parameters[i].type == PARAM_STRING)
                        json_builder_add_string_value(b, FIELD(s, parameters[i].offset, const char *));
                else
                        json_builder_add_int_value(b, param_int_value(s, i));
        }
        /* Always, TLS or not (as libvirt): a job never inherits what an
         * earlier one left, should that one's reset have been refused (a
         * recovery's reset while QEMU still cancels a stream). */
        json_builder_set_member_name(b, "tls-creds");
        json_builder_add_string_value(b, tls ? QEMU_MIGRATION_TLS_ID : "");
        if (side == QEMU_MIGRATION_SOURCE) {
                json_builder_set_member_name(b, "tls-hostname");
                json_builder_add_string_value(b, tls && tls->hostname ? tls->hostname : "");
        }
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

/* object-del of the TLS object, its absence being no failure: QEMU 7.2
 * refuses that with a GenericError saying so. */
static void add_tls_object_del(QemuCommandList *list) {
        g_autoptr(JsonBuilder) del = json_builder_new();

        json_builder_begin_object(del);
        json_builder_set_member_name(del, "id");
        json_builder_add_string_value(del, QEMU_MIGRATION_TLS_ID);
        json_builder_end_object(del);
        qemu_command_list_add(list, "object-del", json_builder_get_root(del));
        qemu_command_list_ignore_refusal(list, "GenericError", "object '" QEMU_MIGRATION_TLS_ID "' not found");
}

/* object-add tls-creds-x509 (the destination is the server, verifying the
 * client); before the parameters that name it. First the object a job
 * left, should its reset never have run (a daemon killed mid-job): with
 * one id per QEMU, nothing piles up. Pipelined: should that object-del be
 * refused otherwise, the set-up fails on it, and this object-add's own
 * refusal ("duplicate") does not matter. */
static void add_tls_object(QemuCommandList *list, const QemuMigrationTls *tls, QemuMigrationSide side) {
        g_autoptr(JsonBuilder) object = json_builder_new();

        add_tls_object_del(list);
        json_builder_begin_object(object);
        json_builder_set_member_name(object, "qom-type");
        json_builder_add_string_value(object, "tls-creds-x509");
        json_builder_set_member_name(object, "id");
        json_builder_add_string_value(object, QEMU_MIGRATION_TLS_ID);
        json_builder_set_member_name(object, "dir");
        json_builder_add_string_value(object, tls->dir);
        json_builder_set_member_name(object, "endpoint");
        json_builder_add_string_value(object, side == QEMU_MIGRATION_DESTINATION ? "server" : "client");
        /* The server refuses a stream from a QEMU without a certificate of our CA. */
        json_builder_set_member_name(object, "verify-peer");
        json_builder_add_boolean_value(object, TRUE);
        json_builder_end_object(object);
        qemu_command_list_add(list, "object-add", json_builder_get_root(object));
}

/* Capabilities, the TLS object, then the parameters with TLS's joined. */
static void add_settings(QemuCommandList *list, const QemuMigrationSettings *s /* nullable */,
                         const QemuMigrationTls *tls /* nullable */, QemuMigrationSide side) {
        if (s)
                qemu_command_list_add(list, "migrate-set-capabilities", capabilities_args(s, side));
        if (tls)
                add_tls_object(list, tls, side);
        if (s || tls)
                qemu_command_list_add(list, "migrate-set-parameters", parameters_args(s, side, tls));
}

/* The lists below are pipelined: a failure is reported as before (the
 * first error), and what QEMU did after it does not matter: the source's
 * settings are reset when its job ends, the destination's QEMU is killed. */

void qemu_migration_setup_source_async(QmpClient *mon, const QemuMigrationSettings *settings,
                                       const QemuMigrationTls *tls, GAsyncReadyCallback callback,
                                       gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();

        qemu_command_list_set_pipelined(list);
        add_settings(list, settings, tls, QEMU_MIGRATION_SOURCE);
        qemu_command_list_add(list, "query-migrate-parameters", NULL);
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}

GVariant *qemu_migration_setup_source_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qemu_command_list_run_finish(result, error);

        return reply ? g_variant_ref_sink(qemu_migration_parameters_from_reply(reply)) : NULL;
}

void qemu_migration_setup_incoming_async(QmpClient *mon, const QemuMigrationSettings *settings,
                                         const QemuMigrationTls *tls, const char *uri,
                                         GAsyncReadyCallback callback, gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();
        g_autoptr(JsonBuilder) b = json_builder_new();

        qemu_command_list_set_pipelined(list);
        add_settings(list, settings, tls, QEMU_MIGRATION_DESTINATION);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "uri");
        json_builder_add_string_value(b, uri);
        json_builder_end_object(b);
        /* Never listen with settings QEMU refused, TLS's among them. */
        qemu_command_list_add_after_success(list, "migrate-incoming", json_builder_get_root(b));
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}

gboolean qemu_migration_setup_incoming_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qemu_command_list_run_finish(result, error);

        return reply != NULL;
}

/* Parameters back to the defaults and to no TLS in one command, then the
 * object. Pipelined, so each command stands on its own: QEMU refuses
 * capabilities while it still cancels a stream (a recovery's reset may
 * come then), and that must not keep the parameters and the object from
 * being reset; the first refusal is still the reset's failure. */
void qemu_migration_reset_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        QemuCommandList *list = qemu_command_list_new();
        QemuMigrationSettings defaults;

        qemu_migration_settings_init(&defaults);
        /* As a source: that side has the most to undo. TLS's parameters and
         * object always go, the object's absence being no failure: after a
         * restart recovery does not know whether the job used TLS. */
        qemu_command_list_set_pipelined(list);
        qemu_command_list_add(list, "migrate-set-capabilities", capabilities_args(&defaults, QEMU_MIGRATION_SOURCE));
        qemu_command_list_add(list, "migrate-set-parameters", parameters_args(&defaults, QEMU_MIGRATION_SOURCE, NULL));
        add_tls_object_del(list);
        qemu_command_list_run_async(mon, list, NULL, callback, user_data);
}

gboolean qemu_migration_reset_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qemu_command_list_run_finish(result, error);

        return reply != NULL;
}

/* ---- what QEMU has ---- */

void qemu_monitor_query_migrate_capabilities_async(QmpClient *mon, GAsyncReadyCallback callback,
                                                   gpointer user_data) {
        qmp_client_execute_async(mon, "query-migrate-capabilities", NULL, NULL, callback, user_data);
}

static gboolean is_table_capability(const char *name) {
        for (guint i = 0; i < G_N_ELEMENTS(capabilities); i++)
                if (g_str_equal(name, capabilities[i].name))
                        return TRUE;
        return FALSE;
}

GVariant *qemu_monitor_query_migrate_capabilities_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, error);
        JsonArray *list = reply && JSON_NODE_HOLDS_ARRAY(reply) ? json_node_get_array(reply) : NULL;
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{sb}"));

        if (!reply)
                return NULL;
        for (guint i = 0; list && i < json_array_get_length(list); i++) {
                JsonObject *o = json_array_get_object_element(list, i);
                const char *name = o ? json_object_get_string_member_with_default(o, "capability", NULL) : NULL;

                if (name && is_table_capability(name))
                        g_variant_builder_add(&b, "{sb}", name,
                                              json_object_get_boolean_member_with_default(o, "state", FALSE));
        }
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

void qemu_monitor_query_migrate_parameters_async(QmpClient *mon, GAsyncReadyCallback callback,
                                                 gpointer user_data) {
        qmp_client_execute_async(mon, "query-migrate-parameters", NULL, NULL, callback, user_data);
}

GVariant *qemu_monitor_query_migrate_parameters_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, error);

        return reply ? g_variant_ref_sink(qemu_migration_parameters_from_reply(reply)) : NULL;
}

GVariant *qemu_migration_parameters_from_reply(JsonNode *reply) {
        g_auto(GVariantDict) dict;
        JsonObject *o = reply && JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply) : NULL;

        g_variant_dict_init(&dict, NULL);
        for (guint i = 0; o && i < G_N_ELEMENTS(reported_counters); i++) {
                JsonNode *n = json_object_get_member(o, reported_counters[i]);

                if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64 &&
                    json_node_get_int(n) >= 0)
                        g_variant_dict_insert(&dict, reported_counters[i], "t", (guint64) json_node_get_int(n));
        }
        if (o && json_object_has_member(o, "multifd-compression"))
                g_variant_dict_insert(&dict, "multifd-compression", "s",
                                      json_object_get_string_member_with_default(o, "multifd-compression", ""));
        return g_variant_dict_end(&dict);
}
