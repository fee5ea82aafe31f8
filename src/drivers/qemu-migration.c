#define G_LOG_DOMAIN "migrationd"

#include <math.h>

#include "qemu-migration.h"

#define MIB (G_GUINT64_CONSTANT(1024) * 1024)

/* Rate smoothing: a sample taken dt ms after the previous one weighs
 * dt / (dt + TAU), so irregular polls count by the time they cover. */
#define MIGRATION_RATE_TAU_MS 2000.0
/* Polls closer than this carry more jitter than rate: the next one spans both. */
#define MIGRATION_RATE_MIN_INTERVAL_MS 100
/* No baseline sample yet (see migration_progress_init()). */
#define MIGRATION_PROGRESS_NO_SAMPLE G_MININT64
/* JobProgress reads 100 only once QEMU says "completed"; a UI that prints
 * "%.0f" must not show 100 while the switchover is still ahead. */
#define MIGRATION_PROGRESS_RUNNING_MAX 99.0
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

/* ---- sequential command runner ---- */

typedef struct {
        char *command;
        JsonNode *arguments;
} QemuCommandEntry;

struct QemuCommandList {
        GPtrArray *entries;             /* QemuCommandEntry */
        QmpClient *client;              /* while running, not owned */
        guint next;                     /* while running: the entry in flight */
};

static void qemu_command_entry_free(QemuCommandEntry *entry) {
        g_clear_pointer(&entry->arguments, json_node_unref);
        g_free(entry->command);
        g_free(entry);
}

QemuCommandList *qemu_command_list_new(void) {
        QemuCommandList *list = g_new0(QemuCommandList, 1);

        list->entries = g_ptr_array_new_with_free_func((GDestroyNotify) qemu_command_entry_free);
        return list;
}

void qemu_command_list_add(QemuCommandList *list, const char *command, JsonNode *arguments) {
        QemuCommandEntry *entry;

        g_return_if_fail(list);
        g_return_if_fail(command);

        entry = g_new0(QemuCommandEntry, 1);
        entry->command = g_strdup(command);
        entry->arguments = arguments;
        g_ptr_array_add(list->entries, entry);
}

void qemu_command_list_free(QemuCommandList *list) {
        if (!list)
                return;
        g_ptr_array_unref(list->entries);
        g_free(list);
}

static void qemu_command_list_on_reply(GObject *source, GAsyncResult *result, gpointer user_data);

static void qemu_command_list_send_next(GTask *task) {
        QemuCommandList *list = g_task_get_task_data(task);
        QemuCommandEntry *entry = list->entries->pdata[list->next];

        g_debug("Running QMP command %u/%u of a list: %s", list->next + 1, list->entries->len,
                entry->command);
        qmp_client_execute_async(list->client, entry->command, g_steal_pointer(&entry->arguments),
                                 g_task_get_cancellable(task), qemu_command_list_on_reply,
                                 g_object_ref(task));
}

static void qemu_command_list_on_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        QemuCommandList *list = g_task_get_task_data(task);
        const char *command = ((QemuCommandEntry *) list->entries->pdata[list->next])->command;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = NULL;

        /* Does not touch the client, which may be gone by now. */
        reply = qmp_client_execute_finish(list->client, result, &error);
        if (!reply) {
                /* QEMU's refusals already name the command; transport errors
                 * ("connection closed") do not. */
                if (!qmp_client_execute_error_class(result) &&
                    !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        g_prefix_error(&error, "QMP command %s failed: ", command);
                g_debug("QMP command list stopped at %s: %s", command, error->message);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (++list->next == list->entries->len) {
                g_task_return_pointer(task, g_steal_pointer(&reply), (GDestroyNotify) json_node_unref);
                return;
        }
        /* Cancel-then-free is the safe way to drop the client mid-list: after
         * a cancel, nothing is sent to it any more. */
        if (g_task_return_error_if_cancelled(task))
                return;
        qemu_command_list_send_next(task);
}

void qemu_command_list_run_async(QmpClient *client, QemuCommandList *list, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = NULL;

        g_return_if_fail(client);
        g_return_if_fail(list);

        task = g_task_new(NULL, cancellable, callback, user_data);
        g_task_set_source_tag(task, qemu_command_list_run_async);
        list->client = client;
        list->next = 0;
        g_task_set_task_data(task, list, (GDestroyNotify) qemu_command_list_free);

        if (g_task_return_error_if_cancelled(task))
                return;
        if (list->entries->len == 0) {
                /* Nothing to run: no reply either, but not an error. */
                g_task_return_pointer(task, json_node_new(JSON_NODE_NULL), (GDestroyNotify) json_node_unref);
                return;
        }
        qemu_command_list_send_next(task);
}

JsonNode *qemu_command_list_run_finish(GAsyncResult *result, GError **error) {
        g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
        g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == qemu_command_list_run_async, NULL);

        return g_task_propagate_pointer(G_TASK(result), error);
}

/* ---- progress and statistics ----
 *
 * Model: QEMU has sent T bytes ("transferred"), at a rate B we observe
 * (smoothed bytes/s), while the running guest dirties D bytes/s
 * ("dirty-pages-rate" * "page-size", measured by QEMU over its last pass; 0
 * in the first). QEMU's "remaining" R counts only what was dirty when the
 * current pass began, so what is outstanding now adds what got dirty since:
 * D/B of the bytes this pass has sent, S. Sending that takes time during
 * which more gets dirty, and so on (a geometric series):
 *
 *         O     = min(R + S * D / B, RAM size)
 *         R_eff = O * B / (B - D)             (= R when D = 0; unknown if D >= B)
 *
 *         time_remaining = R_eff / B          (ms; 0 once completed)
 *         estimate       = 100 * T / (T + R_eff)
 *         JobProgress    = max(previous, min(estimate, 99)); 100 at completed
 *
 * T / (T + R_eff) is the share of all the bytes this migration will send
 * that it has sent. It errs on the slow side: the last pass is cut short by
 * the switchover, and zero pages in R cost almost nothing. If D >= B the
 * migration does not converge at this rate: nothing is estimated, and
 * JobProgress honestly stands still until something changes (bandwidth,
 * auto-converge, postcopy). In the first pass QEMU has measured no D yet, so
 * it counts as 0: a busy guest then sees JobProgress stall after that pass
 * rather than run backwards. */

void migration_progress_init(MigrationProgress *progress) {
        *progress = (MigrationProgress) {
                .last_time_ms = MIGRATION_PROGRESS_NO_SAMPLE,
        };
}

static void migration_progress_sample_rate(MigrationProgress *progress, guint64 transferred, gint64 now_ms) {
        double dt, sample, weight;

        /* First sample, clock gone backwards, or counters restarted: a new
         * baseline, no rate from it. */
        if (progress->last_time_ms == MIGRATION_PROGRESS_NO_SAMPLE || now_ms < progress->last_time_ms ||
            transferred < progress->last_transferred) {
                progress->last_transferred = transferred;
                progress->last_time_ms = now_ms;
                return;
        }
        /* In double: any two gint64 apart, without overflow. */
        dt = (double) now_ms - (double) progress->last_time_ms;
        if (dt < MIGRATION_RATE_MIN_INTERVAL_MS)
                return;
        sample = (double) (transferred - progress->last_transferred) * 1000.0 / dt;
        weight = dt / (dt + MIGRATION_RATE_TAU_MS);
        progress->rate_bps = progress->rate_bps > 0 ?
                progress->rate_bps + weight * (sample - progress->rate_bps) : sample;
        progress->last_transferred = transferred;
        progress->last_time_ms = now_ms;
}

/* Updates @progress from one reply; *ret_time_remaining is ms, or -1. */
static void migration_progress_update(MigrationProgress *progress, const char *status, JsonObject *ram,
                                      gint64 now_ms, gint64 *ret_time_remaining) {
        guint64 transferred, remaining, iteration, total, dirty_pages;
        guint64 page_size = MIGRATION_PAGE_SIZE_DEFAULT;
        double rate, dirty, remaining_eff, estimate, ms;

        *ret_time_remaining = -1;
        if (g_strcmp0(status, "completed") == 0) {
                progress->progress = 100;
                *ret_time_remaining = 0;
                return;
        }
        if (!reply_get_count(ram, "transferred", &transferred) ||
            !reply_get_count(ram, "remaining", &remaining))
                return;
        /* A new pass began between the previous sample and this one;
         * counting from the previous errs on the side of more bytes dirtied
         * since. Without the pass count, nothing is known dirtied since. */
        if (!reply_get_count(ram, "dirty-sync-count", &iteration))
                progress->pass_transferred = transferred;
        else if (iteration != progress->iteration) {
                progress->iteration = iteration;
                progress->pass_transferred = progress->last_time_ms != MIGRATION_PROGRESS_NO_SAMPLE ?
                        MIN(progress->last_transferred, transferred) : transferred;
        }
        migration_progress_sample_rate(progress, transferred, now_ms);

        /* A finished job has nothing left to estimate. */
        if (g_strcmp0(status, "failed") == 0 || g_strcmp0(status, "cancelled") == 0)
                return;

        rate = progress->rate_bps;
        remaining_eff = (double) remaining;
        /* Dirtying counts only while the guest runs here: in "device" and
         * "pre-switchover" it is stopped, in postcopy the destination runs it. */
        if (g_strcmp0(status, "active") == 0 && reply_get_count(ram, "dirty-pages-rate", &dirty_pages) &&
            dirty_pages > 0) {
                (void) reply_get_count(ram, "page-size", &page_size);
                dirty = (double) dirty_pages * (double) page_size;
                if (rate <= dirty)
                        return;
                remaining_eff += dirty / rate *
                        (double) (transferred - MIN(progress->pass_transferred, transferred));
                if (reply_get_count(ram, "total", &total))
                        remaining_eff = MIN(remaining_eff, (double) total);
                remaining_eff *= rate / (rate - dirty);
        }

        if ((double) transferred + remaining_eff > 0) {
                estimate = 100.0 * (double) transferred / ((double) transferred + remaining_eff);
                estimate = MIN(estimate, MIGRATION_PROGRESS_RUNNING_MAX);
                progress->progress = MAX(progress->progress, estimate);
        }
        if (rate > 0) {
                ms = remaining_eff * 1000.0 / rate;
                if (ms < (double) G_MAXINT64)
                        *ret_time_remaining = (gint64) ms;
        }
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

GVariant *qemu_migration_stats(JsonNode *query_migrate, MigrationProgress *progress, gint64 now_ms,
                               gint64 elapsed_ms) {
        g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        JsonObject *info = query_migrate_object(query_migrate);
        JsonObject *ram = reply_get_object(info, "ram");
        JsonObject *xbzrle = reply_get_object(info, "xbzrle-cache");
        const char *status = reply_get_string(info, "status");
        gboolean completed = g_strcmp0(status, "completed") == 0;
        gint64 time_remaining = -1;

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
                migration_progress_update(progress, status, ram, now_ms, &time_remaining);
                g_variant_builder_add(&builder, "{sv}", "progress", g_variant_new_double(progress->progress));
                if (time_remaining >= 0)
                        g_variant_builder_add(&builder, "{sv}", "time_remaining",
                                              g_variant_new_uint64((guint64) time_remaining));
        }
        return g_variant_builder_end(&builder);
}
