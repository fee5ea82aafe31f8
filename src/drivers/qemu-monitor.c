#define G_LOG_DOMAIN "migrationd"

#include "md-error.h"
#include "qemu-monitor.h"

/* ---- events ---- */

void qemu_event_parse(const char *name, JsonObject *data, QemuEvent *event) {
        static const struct {
                const char *name;
                QemuEventType type;
        } events[] = {
                { "STOP", QEMU_EVENT_STOP },
                { "RESUME", QEMU_EVENT_RESUME },
                { "SHUTDOWN", QEMU_EVENT_SHUTDOWN },
                { "MIGRATION", QEMU_EVENT_MIGRATION },
                { "MIGRATION_PASS", QEMU_EVENT_MIGRATION_PASS },
                { "BLOCK_JOB_READY", QEMU_EVENT_BLOCK_JOB },
                { "BLOCK_JOB_COMPLETED", QEMU_EVENT_BLOCK_JOB },
                { "BLOCK_JOB_CANCELLED", QEMU_EVENT_BLOCK_JOB },
                { "BLOCK_JOB_ERROR", QEMU_EVENT_BLOCK_JOB },
        };

        *event = (QemuEvent) { .type = QEMU_EVENT_OTHER, .name = name, .migration_status = "" };
        for (guint i = 0; i < G_N_ELEMENTS(events); i++)
                if (g_str_equal(name, events[i].name))
                        event->type = events[i].type;
        if (event->type == QEMU_EVENT_MIGRATION && data)
                event->migration_status = json_object_get_string_member_with_default(data, "status", "");
        else if (event->type == QEMU_EVENT_MIGRATION_PASS && data)
                event->pass = json_object_get_int_member_with_default(data, "pass", 0);
}

/* ---- commands without a result ---- */

static JsonNode *one_member_args(const char *name, const char *string, gint64 number) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        json_builder_set_member_name(b, name);
        if (string)
                json_builder_add_string_value(b, string);
        else
                json_builder_add_int_value(b, number);
        json_builder_end_object(b);
        return json_builder_get_root(b);
}

void qemu_monitor_cont_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "cont", NULL, NULL, callback, user_data);
}

void qemu_monitor_stop_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "stop", NULL, NULL, callback, user_data);
}

void qemu_monitor_system_powerdown_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "system_powerdown", NULL, NULL, callback, user_data);
}

void qemu_monitor_migrate_cancel_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "migrate_cancel", NULL, NULL, callback, user_data);
}

void qemu_monitor_migrate_start_postcopy_async(QmpClient *mon, GAsyncReadyCallback callback,
                                               gpointer user_data) {
        qmp_client_execute_async(mon, "migrate-start-postcopy", NULL, NULL, callback, user_data);
}

void qemu_monitor_set_max_bandwidth_async(QmpClient *mon, guint64 mib_s, GAsyncReadyCallback callback,
                                          gpointer user_data) {
        qmp_client_execute_async(mon, "migrate-set-parameters", qemu_migration_speed_args(mib_s), NULL,
                                 callback, user_data);
}

void qemu_monitor_set_downtime_limit_async(QmpClient *mon, guint64 ms, GAsyncReadyCallback callback,
                                           gpointer user_data) {
        qmp_client_execute_async(mon, "migrate-set-parameters", qemu_migration_downtime_args(ms), NULL,
                                 callback, user_data);
}

void qemu_monitor_migrate_async(QmpClient *mon, const char *uri, gboolean pause_first,
                                GAsyncReadyCallback callback, gpointer user_data) {
        QemuCommandList *commands = qemu_command_list_new();

        if (pause_first)
                qemu_command_list_add(commands, "stop", NULL);
        qemu_command_list_add(commands, "migrate", one_member_args("uri", uri, 0));
        qemu_command_list_run_async(mon, commands, NULL, callback, user_data);
}

void qemu_monitor_set_password_async(QmpClient *mon, const char *protocol, const char *password,
                                     GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "protocol");
        json_builder_add_string_value(b, protocol);
        json_builder_set_member_name(b, "password");
        json_builder_add_string_value(b, password);
        json_builder_end_object(b);
        qmp_client_execute_async(mon, "set_password", json_builder_get_root(b), NULL, callback, user_data);
}

void qemu_monitor_client_migrate_info_async(QmpClient *mon, const char *protocol, const char *hostname,
                                            guint16 port, guint16 tls_port, GAsyncReadyCallback callback,
                                            gpointer user_data) {
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "protocol");
        json_builder_add_string_value(b, protocol);
        json_builder_set_member_name(b, "hostname");
        json_builder_add_string_value(b, hostname);
        if (port > 0) {
                json_builder_set_member_name(b, "port");
                json_builder_add_int_value(b, port);
        }
        if (tls_port > 0) {
                json_builder_set_member_name(b, "tls-port");
                json_builder_add_int_value(b, tls_port);
        }
        json_builder_end_object(b);
        qmp_client_execute_async(mon, "client_migrate_info", json_builder_get_root(b), NULL, callback, user_data);
}

void qemu_monitor_announce_self_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        /* All four are required; these are QEMU's defaults of the migration
         * parameters announce-* (5 rounds, from 50 ms apart, +100 ms each, at most 550 ms). */
        static const struct { const char *name; gint64 value; } params[] = {
                { "initial", 50 }, { "max", 550 }, { "rounds", 5 }, { "step", 100 },
        };
        g_autoptr(JsonBuilder) b = json_builder_new();

        json_builder_begin_object(b);
        for (size_t i = 0; i < G_N_ELEMENTS(params); i++) {
                json_builder_set_member_name(b, params[i].name);
                json_builder_add_int_value(b, params[i].value);
        }
        json_builder_end_object(b);
        qmp_client_execute_async(mon, "announce-self", json_builder_get_root(b), NULL, callback, user_data);
}

/* Both the QMP client and the command list complete a GTask with the reply. */
gboolean qemu_monitor_command_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = g_task_propagate_pointer(G_TASK(result), error);

        return reply != NULL;
}

void qemu_monitor_complete_task(GObject *source, GAsyncResult *result, gpointer task) {
        GError *error = NULL;

        if (qemu_monitor_command_finish(result, &error))
                g_task_return_boolean(task, TRUE);
        else
                g_task_return_error(task, error);
        g_object_unref(task);
}

/* ---- query-migrate ---- */

void qemu_migration_info_free(QemuMigrationInfo *info) {
        if (!info)
                return;
        g_free(info->status);
        g_free(info->error_desc);
        g_clear_pointer(&info->reply, json_node_unref);
        g_free(info);
}

void qemu_monitor_query_migrate_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "query-migrate", NULL, NULL, callback, user_data);
}

QemuMigrationInfo *qemu_monitor_query_migrate_finish(GAsyncResult *result, GError **error) {
        JsonNode *reply = qmp_client_execute_finish(NULL, result, error);
        QemuMigrationInfo *info;

        if (!reply)
                return NULL;
        info = g_new0(QemuMigrationInfo, 1);
        info->status = g_strdup(qemu_migration_status(reply));
        info->error_desc = g_strdup(qemu_migration_error(reply));
        info->reply = reply;
        return info;
}

GVariant *qemu_migration_info_stats(const QemuMigrationInfo *info, JobProgress *progress, gint64 now_ms,
                                    gint64 elapsed_ms) {
        return qemu_migration_stats(info->reply, progress, now_ms, elapsed_ms);
}

/* ---- query-status ---- */

void qemu_run_state_free(QemuRunState *state) {
        if (!state)
                return;
        g_free(state->status);
        g_free(state);
}

void qemu_monitor_query_status_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "query-status", NULL, NULL, callback, user_data);
}

QemuRunState *qemu_monitor_query_status_finish(GAsyncResult *result, GError **error) {
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, error);
        QemuRunState *state;
        JsonObject *o;

        if (!reply)
                return NULL;
        if (!JSON_NODE_HOLDS_OBJECT(reply)) {
                g_set_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED, "bad query-status reply");
                return NULL;
        }
        o = json_node_get_object(reply);
        state = g_new0(QemuRunState, 1);
        state->running = json_object_get_boolean_member_with_default(o, "running", FALSE);
        state->status = g_strdup(json_object_get_string_member_with_default(o, "status", ""));
        return state;
}

/* ---- query-memory-size-summary ---- */

void qemu_monitor_query_memory_size_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data) {
        qmp_client_execute_async(mon, "query-memory-size-summary", NULL, NULL, callback, user_data);
}

gboolean qemu_monitor_query_memory_size_finish(GAsyncResult *result, guint64 *base_bytes, GError **error) {
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, error);
        JsonNode *base;

        *base_bytes = 0;
        if (!reply)
                return FALSE;
        if (!JSON_NODE_HOLDS_OBJECT(reply))
                return TRUE;
        base = json_object_get_member(json_node_get_object(reply), "base-memory");
        if (base && JSON_NODE_HOLDS_VALUE(base) && json_node_get_value_type(base) == G_TYPE_INT64 &&
            json_node_get_int(base) > 0)
                *base_bytes = (guint64) json_node_get_int(base);
        return TRUE;
}
