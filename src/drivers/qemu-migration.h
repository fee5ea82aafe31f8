/* QEMU's side of a migration over QMP: capability/parameter arguments, a
 * command runner (sequential or pipelined), and query-migrate turned into libvirt's
 * job-statistics keys. The statistics and progress helpers are pure, so they
 * are unit-tested against recorded QEMU replies. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "job-progress.h"
#include "qmp.h"

/* libvirt's "unlimited": QEMU's max-bandwidth is bytes/s in an int64. */
#define QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB ((guint64) G_MAXINT64 / (1024 * 1024))

/* {"capabilities": [{"capability": NAME, "state": BOOL}, ...]} for
 * migrate-set-capabilities; @names and @states run in parallel, @n entries. */
JsonNode *qemu_migration_capabilities_args(const char *const *names, const gboolean *states, guint n);

/* Arguments for migrate-set-parameters; set what you need on the builder
 * with json_builder_set_member_name/add_*; these two are common: */
JsonNode *qemu_migration_speed_args(guint64 bandwidth_mib /* 0 = unlimited */);
JsonNode *qemu_migration_downtime_args(guint64 downtime_ms);

/* Runs QMP commands one after the other; stops at the first error, which is
 * the task's error and names the command. Each element: command name +
 * arguments (consumed). @client must outlive the run; to drop it early,
 * cancel first: nothing more is sent after a cancel. An empty list returns a
 * JSON null node. */
typedef struct QemuCommandList QemuCommandList;
QemuCommandList *qemu_command_list_new(void);
/* Sends every command at once instead: one wait on QEMU for the whole list
 * (QMP answers in order). The first error is still the task's error, but
 * QEMU has carried out the commands after it too: only for lists where
 * that is harmless (settings a reset undoes, a QEMU that is killed on
 * failure). */
void qemu_command_list_set_pipelined(QemuCommandList *list);
void qemu_command_list_add(QemuCommandList *list, const char *command, JsonNode *arguments /* consumed, nullable */);
/* In a pipelined list: sent only once every command before it has
 * succeeded (e.g. migrate-incoming after the TLS settings: never listen
 * without them). */
void qemu_command_list_add_after_success(QemuCommandList *list, const char *command,
                                         JsonNode *arguments /* consumed, nullable */);
/* The command added last: a refusal of QEMU's @error_class with exactly
 * @desc counts as its success (reply: JSON null), as later commands and
 * the result see it; any other refusal still ends the run. For a command
 * whose refusal is the state wanted (object-del of what may not exist). */
void qemu_command_list_ignore_refusal(QemuCommandList *list, const char *error_class, const char *desc);
void qemu_command_list_free(QemuCommandList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuCommandList, qemu_command_list_free)
/* Consumes @list. Result: the reply of the last command (JsonNode*, owned). */
void qemu_command_list_run_async(QmpClient *client, QemuCommandList *list, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
JsonNode *qemu_command_list_run_finish(GAsyncResult *result, GError **error);

/* QEMU's migration status string ("setup", "active", "completed", ...) of a
 * query-migrate reply, or NULL. */
const char *qemu_migration_status(JsonNode *query_migrate);
/* QEMU's "error-desc" of a failed migration, or NULL. */
const char *qemu_migration_error(JsonNode *query_migrate);

/* libvirt's job-statistics keys (a{sv}: time_elapsed, time_remaining,
 * downtime, setup_time, data_total/processed/remaining, memory_total/
 * processed/remaining/bps/dirty_rate/iteration/page_size/constant/normal/
 * normal_bytes/postcopy_requests, auto_converge_throttle, compression_cache/
 * bytes/pages/cache_misses/overflow, progress) plus "status" (QEMU's) from a
 * query-migrate reply; @now_ms is the caller's monotonic clock in ms, used
 * for the rate and progress; @elapsed_ms the job's own elapsed time
 * (negative: QEMU's total-time is used). The job's progress (nullable: then
 * no progress/time_remaining) takes the reply's memory counters. Keys QEMU did not send, or sent
 * malformed, are left out. Returns a floating GVariant of type a{sv}. */
GVariant *qemu_migration_stats(JsonNode *query_migrate, JobProgress *progress, gint64 now_ms,
                               gint64 elapsed_ms);
