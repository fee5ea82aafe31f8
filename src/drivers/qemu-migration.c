#define G_LOG_DOMAIN "migrationd"

#include <math.h>

#include "qemu-migration.h"

#define MIB (G_GUINT64_CONSTANT(1024) * 1024)

/* x86's page size, for the odd reply that gives a dirty rate without it. */
#define MIGRATION_PAGE_SIZE_DEFAULT 4096

/* ---- reading QEMU's reply ----
 * json-glib's getters g_return_if_fail() on type mismatches, and with
 * G_DEBUG=fatal-criticals that is a crash QEMU's input must not cause. */

static JsonObject *reply_get_object(JsonObject *object, const char *member) {
        JsonNode *node = object ? json_object_get_member(object, member) : NULL;

        return node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

static const char *reply_get_string(JsonObject *object, const char *member) {
        JsonNode *node = object ? json_object_get_member(object, member) : NULL;

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
                return NULL;
        return json_node_get_string(node);
}

/* A counter: a JSON integer >= 0. */
static gboolean reply_get_count(JsonObject *object, const char *member, guint64 *ret) {
        JsonNode *node = object ? json_object_get_member(object, member) : NULL;
        gint64 v;

        if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
                return FALSE;
        v = json_node_get_int(node);
        if (v < 0)
                return FALSE;
        *ret = (guint64) v;
        return TRUE;
}

/* A QAPI "number": QEMU prints whole doubles without a fraction ("mbps": 0),
 * which json-glib reads as integers. */
static gboolean reply_get_number(JsonObject *object, const char *member, double *ret) {
        JsonNode *node = object ? json_object_get_member(object, member) : NULL;
        GType type;

        if (!node || !JSON_NODE_HOLDS_VALUE(node))
                return FALSE;
        type = json_node_get_value_type(node);
        if (type == G_TYPE_INT64)
                *ret = (double) json_node_get_int(node);
        else if (type == G_TYPE_DOUBLE)
                *ret = json_node_get_double(node);
        else
                return FALSE;
        return isfinite(*ret);
}

static JsonObject *query_migrate_object(JsonNode *query_migrate) {
        return query_migrate && JSON_NODE_HOLDS_OBJECT(query_migrate) ?
                json_node_get_object(query_migrate) : NULL;
}

const char *qemu_migration_status(JsonNode *query_migrate) {
        return reply_get_string(query_migrate_object(query_migrate), "status");
}

const char *qemu_migration_error(JsonNode *query_migrate) {
        return reply_get_string(query_migrate_object(query_migrate), "error-desc");
}

/* ---- arguments ---- */

JsonNode *qemu_migration_capabilities_args(const char *const *names, const gboolean *states, guint n) {
        g_autoptr(JsonBuilder) builder = json_builder_new();

        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, "capabilities");
        json_builder_begin_array(builder);
        for (guint i = 0; i < n; i++) {
                json_builder_begin_object(builder);
                json_builder_set_member_name(builder, "capability");
                json_builder_add_string_value(builder, names[i]);
                json_builder_set_member_name(builder, "state");
                json_builder_add_boolean_value(builder, states[i]);
                json_builder_end_object(builder);
        }
        json_builder_end_array(builder);
        json_builder_end_object(builder);
        return json_builder_get_root(builder);
}

static JsonNode *migrate_parameter_args(const char *name, gint64 value) {
        g_autoptr(JsonBuilder) builder = json_builder_new();

        json_builder_begin_object(builder);
        json_builder_set_member_name(builder, name);
        json_builder_add_int_value(builder, value);
        json_builder_end_object(builder);
        return json_builder_get_root(builder);
}

JsonNode *qemu_migration_speed_args(guint64 bandwidth_mib) {
        /* libvirt's 0 means "as fast as possible"; anything above the
         * unlimited value would overflow QEMU's int64 bytes/s. */
        if (bandwidth_mib == 0 || bandwidth_mib > QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB)
                bandwidth_mib = QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB;
        return migrate_parameter_args("max-bandwidth", (gint64) (bandwidth_mib * MIB));
}

JsonNode *qemu_migration_downtime_args(guint64 downtime_ms) {
        /* No range check of our own: QEMU refuses what it cannot do with a
         * message naming its limit. Clamping only keeps the value positive. */
        return migrate_parameter_args("downtime-limit", (gint64) MIN(downtime_ms, (guint64) G_MAXINT64));
}

/* ---- command runner: one after the other, or all at once ---- */

typedef struct {
        char *command;
        JsonNode *arguments;
        gboolean waits;                 /* pipelined: sent once all before it succeeded */
        char *ignored_class;            /* a refusal of this class and desc is a success */
        char *ignored_desc;
} QemuCommandEntry;

struct QemuCommandList {
        GPtrArray *entries;             /* QemuCommandEntry */
        gboolean pipelined;             /* every command sent at once */
        QmpClient *client;              /* while running, not owned */
        guint sent;                     /* while running: the commands sent so far */
        guint replies;                  /* while running: the replies in so far */
        gboolean returned;              /* the task has its result (an error ends a pipelined run early) */
};

static void qemu_command_entry_free(QemuCommandEntry *entry) {
        g_clear_pointer(&entry->arguments, json_node_unref);
        g_free(entry->command);
        g_free(entry->ignored_class);
        g_free(entry->ignored_desc);
        g_free(entry);
}

QemuCommandList *qemu_command_list_new(void) {
        QemuCommandList *list = g_new0(QemuCommandList, 1);

        list->entries = g_ptr_array_new_with_free_func((GDestroyNotify) qemu_command_entry_free);
        return list;
}

void qemu_command_list_set_pipelined(QemuCommandList *list) {
        g_return_if_fail(list);

        list->pipelined = TRUE;
}

static void add_entry(QemuCommandList *list, const char *command, JsonNode *arguments, gboolean waits) {
        QemuCommandEntry *entry;

        g_return_if_fail(list);
        g_return_if_fail(command);

        entry = g_new0(QemuCommandEntry, 1);
        entry->command = g_strdup(command);
        entry->arguments = arguments;
        entry->waits = waits;
        g_ptr_array_add(list->entries, entry);
}

void qemu_command_list_add(QemuCommandList *list, const char *command, JsonNode *arguments) {
        add_entry(list, command, arguments, FALSE);
}

void qemu_command_list_add_after_success(QemuCommandList *list, const char *command, JsonNode *arguments) {
        add_entry(list, command, arguments, TRUE);
}

void qemu_command_list_ignore_refusal(QemuCommandList *list, const char *error_class, const char *desc) {
        QemuCommandEntry *entry;

        g_return_if_fail(list && list->entries->len > 0);
        g_return_if_fail(error_class && desc);

        entry = list->entries->pdata[list->entries->len - 1];
        g_free(entry->ignored_class);
        g_free(entry->ignored_desc);
        entry->ignored_class = g_strdup(error_class);
        entry->ignored_desc = g_strdup(desc);
}

void qemu_command_list_free(QemuCommandList *list) {
        if (!list)
                return;
        g_ptr_array_unref(list->entries);
        g_free(list);
}

/* A command in flight: its run and its place in the list. */
typedef struct {
        GTask *task;
        guint index;
} QemuCommandSent;

static void qemu_command_list_on_reply(GObject *source, GAsyncResult *result, gpointer user_data);

static void qemu_command_list_send(GTask *task, guint index) {
        QemuCommandList *list = g_task_get_task_data(task);
        QemuCommandEntry *entry = list->entries->pdata[index];
        QemuCommandSent *sent = g_new0(QemuCommandSent, 1);

        g_debug("Running QMP command %u/%u of a list%s: %s", index + 1, list->entries->len,
                list->pipelined ? " (pipelined)" : "", entry->command);
        sent->task = g_object_ref(task);
        sent->index = index;
        qmp_client_execute_async(list->client, entry->command, g_steal_pointer(&entry->arguments),
                                 g_task_get_cancellable(task), qemu_command_list_on_reply, sent);
}

/* The next batch: one command, or pipelined every command up to the next
 * one that waits for the answers before it. */
static void qemu_command_list_send_batch(GTask *task) {
        QemuCommandList *list = g_task_get_task_data(task);

        do
                qemu_command_list_send(task, list->sent++);
        while (list->pipelined && list->sent < list->entries->len &&
               !((QemuCommandEntry *) list->entries->pdata[list->sent])->waits);
}

/* QEMU refused @entry the way it may: what the command was for holds. */
static gboolean is_ignored_refusal(const QemuCommandEntry *entry, GAsyncResult *result) {
        return entry->ignored_class && g_strcmp0(qmp_client_execute_error_class(result), entry->ignored_class) == 0 &&
               g_strcmp0(qmp_client_execute_error_desc(result), entry->ignored_desc) == 0;
}

static void qemu_command_list_on_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        QemuCommandSent *sent = user_data;
        g_autoptr(GTask) task = sent->task;
        guint index = sent->index;
        QemuCommandList *list = g_task_get_task_data(task);
        QemuCommandEntry *entry = list->entries->pdata[index];
        const char *command = entry->command;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = NULL;

        g_free(sent);
        /* Does not touch the client, which may be gone by now. */
        reply = qmp_client_execute_finish(list->client, result, &error);
        list->replies++;
        /* Pipelined: an earlier command failed and ended the run; QEMU
         * carried out the later ones, whose replies are of no use now. */
        if (list->returned)
                return;
        if (!reply && is_ignored_refusal(entry, result)) {
                g_debug("QMP command list goes on after %s: %s", command, error->message);
                reply = json_node_new(JSON_NODE_NULL);
        }
        if (!reply) {
                /* QEMU's refusals already name the command; transport errors
                 * ("connection closed") do not. */
                if (!qmp_client_execute_error_class(result) &&
                    !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        g_prefix_error(&error, "QMP command %s failed: ", command);
                g_debug("QMP command list stopped at %s: %s", command, error->message);
                list->returned = TRUE;
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        /* QEMU answers in order: the last reply comes after all the others. */
        if (list->replies == list->entries->len) {
                list->returned = TRUE;
                g_task_return_pointer(task, g_steal_pointer(&reply), (GDestroyNotify) json_node_unref);
                return;
        }
        /* More answers of this batch to come. */
        if (list->replies < list->sent)
                return;
        /* Cancel-then-free is the safe way to drop the client mid-list: after
         * a cancel, nothing is sent to it any more. */
        if (g_task_return_error_if_cancelled(task)) {
                list->returned = TRUE;
                return;
        }
        qemu_command_list_send_batch(task);
}

void qemu_command_list_run_async(QmpClient *client, QemuCommandList *list, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = NULL;

        g_return_if_fail(client);
        g_return_if_fail(list);

        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, qemu_command_list_run_async);
        list->client = client;
        list->sent = 0;
        list->replies = 0;
        list->returned = FALSE;
        g_task_set_task_data(task, list, (GDestroyNotify) qemu_command_list_free);

        if (g_task_return_error_if_cancelled(task))
                return;
        if (list->entries->len == 0) {
                /* Nothing to run: no reply either, but not an error. */
                g_task_return_pointer(task, json_node_new(JSON_NODE_NULL), (GDestroyNotify) json_node_unref);
                return;
        }
        qemu_command_list_send_batch(task);
}

JsonNode *qemu_command_list_run_finish(GAsyncResult *result, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == qemu_command_list_run_async, NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- progress and statistics ---- */

static JobStream stream_of(const char *status) {
        if (g_strcmp0(status, "active") == 0)
                return JOB_STREAM_PRECOPY;
        /* The guest is stopped for the switch-over. */
        if (g_strcmp0(status, "device") == 0 || g_strcmp0(status, "pre-switchover") == 0)
                return JOB_STREAM_STOPPED;
        if (g_strcmp0(status, "postcopy-active") == 0 || g_strcmp0(status, "postcopy-recover") == 0)
                return JOB_STREAM_POSTCOPY;
        if (g_strcmp0(status, "completed") == 0)
                return JOB_STREAM_COMPLETED;
        if (g_strcmp0(status, "failed") == 0 || g_strcmp0(status, "cancelled") == 0 ||
            g_strcmp0(status, "cancelling") == 0)
                return JOB_STREAM_ENDED;
        /* "setup", "postcopy-paused", "wait-unplug", unknown: no new figure. */
        return JOB_STREAM_NONE;
}

/* The memory counters of a reply for job_progress_update_memory(). */
static gboolean memory_sample(const char *status, JsonObject *ram, JobProgressMemory *ret) {
        guint64 dirty_pages = 0, page_size = MIGRATION_PAGE_SIZE_DEFAULT;

        *ret = (JobProgressMemory) { .stream = stream_of(status) };
        if (!reply_get_count(ram, "transferred", &ret->processed) ||
            !reply_get_count(ram, "remaining", &ret->remaining))
                return FALSE;
        (void) reply_get_count(ram, "total", &ret->total);
        (void) reply_get_count(ram, "dirty-sync-count", &ret->pass);
        (void) reply_get_count(ram, "page-size", &page_size);
        if (reply_get_count(ram, "dirty-pages-rate", &dirty_pages) && page_size &&
            dirty_pages <= G_MAXUINT64 / page_size)
                ret->dirty_bps = dirty_pages * page_size;
        return TRUE;
}

static void add_count(GVariantBuilder *builder, const char *key, JsonObject *object, const char *member) {
        guint64 v;

        if (reply_get_count(object, member, &v))
                g_variant_builder_add(builder, "{sv}", key, g_variant_new_uint64(v));
}

static void add_ram_stats(GVariantBuilder *builder, JsonObject *ram) {
        double mbps;

        /* Only RAM migrates (no disk migration), so data_* is memory_*. */
        add_count(builder, "data_total", ram, "total");
        add_count(builder, "data_processed", ram, "transferred");
        add_count(builder, "data_remaining", ram, "remaining");
        add_count(builder, "memory_total", ram, "total");
        add_count(builder, "memory_processed", ram, "transferred");
        add_count(builder, "memory_remaining", ram, "remaining");
        /* QEMU's mbps is 10^6 bits/s, as libvirt converts it. */
        if (reply_get_number(ram, "mbps", &mbps) && mbps >= 0 && mbps * 125000.0 < (double) G_MAXINT64)
                g_variant_builder_add(builder, "{sv}", "memory_bps",
                                      g_variant_new_uint64((guint64) (mbps * 125000.0 + 0.5)));
        add_count(builder, "memory_dirty_rate", ram, "dirty-pages-rate");
        add_count(builder, "memory_iteration", ram, "dirty-sync-count");
        add_count(builder, "memory_page_size", ram, "page-size");
        add_count(builder, "memory_constant", ram, "duplicate");
        add_count(builder, "memory_normal", ram, "normal");
        add_count(builder, "memory_normal_bytes", ram, "normal-bytes");
        add_count(builder, "memory_postcopy_requests", ram, "postcopy-requests");
}

/* What helps a migration converge: the throttle and the XBZRLE cache. */
static void add_convergence_stats(GVariantBuilder *builder, JsonObject *info, JsonObject *xbzrle) {
        guint64 throttle;

        if (reply_get_count(info, "cpu-throttle-percentage", &throttle) && throttle <= G_MAXINT32)
                g_variant_builder_add(builder, "{sv}", "auto_converge_throttle",
                                      g_variant_new_int32((gint32) throttle));
        add_count(builder, "compression_cache", xbzrle, "cache-size");
        add_count(builder, "compression_bytes", xbzrle, "bytes");
        add_count(builder, "compression_pages", xbzrle, "pages");
        add_count(builder, "compression_cache_misses", xbzrle, "cache-miss");
        add_count(builder, "compression_overflow", xbzrle, "overflow");
}

GVariant *qemu_migration_stats(JsonNode *query_migrate, JobProgress *progress, gint64 now_ms,
                               gint64 elapsed_ms) {
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        JsonObject *info = query_migrate_object(query_migrate);
        JsonObject *ram = reply_get_object(info, "ram");
        JsonObject *xbzrle = reply_get_object(info, "xbzrle-cache");
        const char *status = reply_get_string(info, "status");
        gboolean completed = g_strcmp0(status, "completed") == 0;
        JobProgressMemory memory;

        if (status)
                g_variant_builder_add(&builder, "{sv}", "status", g_variant_new_string(status));

        /* libvirt's time_elapsed is the job's, which began before QEMU's migration did. */
        if (elapsed_ms >= 0)
                g_variant_builder_add(&builder, "{sv}", "time_elapsed",
                                      g_variant_new_uint64((guint64) elapsed_ms));
        else
                add_count(&builder, "time_elapsed", info, "total-time");
        add_count(&builder, "downtime", info, completed ? "downtime" : "expected-downtime");
        add_count(&builder, "setup_time", info, "setup-time");

        add_ram_stats(&builder, ram);
        add_convergence_stats(&builder, info, xbzrle);
        if (progress) {
                if (memory_sample(status, ram, &memory))
                        job_progress_update_memory(progress, &memory, now_ms);
                g_variant_builder_add(&builder, "{sv}", "progress", g_variant_new_double(progress->percent));
                if (progress->time_remaining_ms >= 0)
                        g_variant_builder_add(&builder, "{sv}", "time_remaining",
                                              g_variant_new_uint64((guint64) progress->time_remaining_ms));
        }
        return g_variant_builder_end(&builder);
}
