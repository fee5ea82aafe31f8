/* QEMU's monitor as a typed API: one function per QMP command the daemon
 * sends, replies parsed into C values, events as an enum. Above this layer
 * no code names a QMP command or builds its JSON.
 *
 * Every command is asynchronous in the GLib style: @callback runs once,
 * from the main context, and its finish function gives the result. A QMP
 * "error" reply or a closed monitor fails with MD_ERROR_QEMU_FAILED. */
#pragma once

#include <gio/gio.h>

#include "qmp.h"
#include "qemu-migration.h"

/* ---- events ---- */

typedef enum {
        QEMU_EVENT_OTHER,
        QEMU_EVENT_STOP,
        QEMU_EVENT_RESUME,
        QEMU_EVENT_SHUTDOWN,
        QEMU_EVENT_MIGRATION,           /* migration_status set */
        QEMU_EVENT_MIGRATION_PASS,      /* pass set */
        QEMU_EVENT_BLOCK_JOB,           /* BLOCK_JOB_READY, _COMPLETED, _CANCELLED, _ERROR (name) */
} QemuEventType;

typedef struct {
        QemuEventType type;
        const char *name;               /* QEMU's event name, for logs */
        const char *migration_status;   /* MIGRATION: "active", "completed", ... ("" when missing) */
        gint64 pass;                    /* MIGRATION_PASS: the pass number (0 when missing) */
} QemuEvent;

/* Reads a QMP event into @event (valid as long as @name and @data are). */
void qemu_event_parse(const char *name, JsonObject *data /* nullable */, QemuEvent *event);

/* ---- commands without a result ---- */

void qemu_monitor_cont_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
void qemu_monitor_stop_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
void qemu_monitor_system_powerdown_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
void qemu_monitor_migrate_cancel_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
void qemu_monitor_migrate_start_postcopy_async(QmpClient *mon, GAsyncReadyCallback callback,
                                               gpointer user_data);
/* migrate-set-parameters with max-bandwidth (0 = unlimited) or downtime-limit alone. */
void qemu_monitor_set_max_bandwidth_async(QmpClient *mon, guint64 mib_s, GAsyncReadyCallback callback,
                                          gpointer user_data);
void qemu_monitor_set_downtime_limit_async(QmpClient *mon, guint64 ms, GAsyncReadyCallback callback,
                                           gpointer user_data);
/* "stop" first when @pause_first (a non-live migration), then "migrate" to
 * @uri; the first refusal ends it, and its error names the command. */
void qemu_monitor_migrate_async(QmpClient *mon, const char *uri, gboolean pause_first,
                                GAsyncReadyCallback callback, gpointer user_data);
/* Sets the password a display ("vnc" or "spice") asks for; QEMU's command
 * line never carries it. The password is neither logged nor kept. */
void qemu_monitor_set_password_async(QmpClient *mon, const char *protocol, const char *password,
                                     GAsyncReadyCallback callback, gpointer user_data);
/* client_migrate_info: tells the display server (@protocol "spice"; QEMU
 * relocates no other) where the guest's display will be after the
 * migration, so that a connected client follows it. @tls_port 0 = none. */
void qemu_monitor_client_migrate_info_async(QmpClient *mon, const char *protocol, const char *hostname,
                                            guint16 port, guint16 tls_port, GAsyncReadyCallback callback,
                                            gpointer user_data);
/* Gratuitous ARP/RARP from every NIC, so that switches learn the guest's
 * new port after a migration (QEMU's announce-self, default timing). */
void qemu_monitor_announce_self_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
/* The finish of every command above. */
gboolean qemu_monitor_command_finish(GAsyncResult *result, GError **error);
/* For a command above whose user_data is a GTask (taken): completes it with
 * TRUE, or with the command's error. */
void qemu_monitor_complete_task(GObject *source, GAsyncResult *result, gpointer task);

/* ---- queries ---- */

/* query-migrate. */
typedef struct {
        char *status;                   /* "none", "setup", "active", "completed", ...; NULL if absent */
        char *error_desc;               /* why a migration failed, or NULL */
        JsonNode *reply;                /* the whole reply, for qemu_migration_info_stats() */
} QemuMigrationInfo;
void qemu_migration_info_free(QemuMigrationInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuMigrationInfo, qemu_migration_info_free)
void qemu_monitor_query_migrate_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
QemuMigrationInfo *qemu_monitor_query_migrate_finish(GAsyncResult *result, GError **error);
/* qemu_migration_stats() of the reply. */
GVariant *qemu_migration_info_stats(const QemuMigrationInfo *info, JobProgress *progress, gint64 now_ms,
                                    gint64 elapsed_ms);

/* query-status: whether the vCPUs run, and QEMU's run state ("paused",
 * "postmigrate", "inmigrate", ...). A reply that is no object is an error. */
typedef struct {
        gboolean running;
        char *status;                   /* "" when QEMU named none */
} QemuRunState;
void qemu_run_state_free(QemuRunState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuRunState, qemu_run_state_free)
void qemu_monitor_query_status_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
QemuRunState *qemu_monitor_query_status_finish(GAsyncResult *result, GError **error);

/* query-memory-size-summary: the guest's base memory in bytes, 0 when the
 * reply names none (or is malformed). FALSE with @error when QEMU failed. */
void qemu_monitor_query_memory_size_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
gboolean qemu_monitor_query_memory_size_finish(GAsyncResult *result, guint64 *base_bytes, GError **error);
