/* What a migration asks of QEMU before its stream starts: capabilities
 * and parameters, set on both QEMUs (before migrate / migrate-incoming, as
 * QEMU requires) and reset afterwards so that the next job on the same QEMU
 * starts clean. One table says which side sets what; the settings are a
 * plain struct in the job's units, so this layer knows nothing of a job. */
#pragma once

#include <gio/gio.h>

#include "qmp.h"

typedef enum {
        QEMU_MIGRATION_SOURCE = 1 << 0,
        QEMU_MIGRATION_DESTINATION = 1 << 1,
} QemuMigrationSide;
#define QEMU_MIGRATION_BOTH (QEMU_MIGRATION_SOURCE | QEMU_MIGRATION_DESTINATION)

typedef struct {
        /* capabilities */
        gboolean events;
        gboolean postcopy_ram;
        gboolean multifd;
        gboolean xbzrle;
        gboolean auto_converge;
        gboolean pause_before_switchover;   /* storage migration (migrate-continue after the mirrors) */
        /* parameters */
        gint64 multifd_channels;
        const char *multifd_compression;        /* "none", "zlib", "zstd" */
        gint64 cpu_throttle_initial;            /* percent */
        gint64 cpu_throttle_increment;          /* percent */
        guint64 max_bandwidth_mib;              /* MiB/s, 0 = unlimited */
        guint64 downtime_limit_ms;
        guint64 max_postcopy_bandwidth_mib;     /* MiB/s, 0 = the same as max_bandwidth */
} QemuMigrationSettings;

/* QEMU 7.2's defaults (events on, every other capability off), which the
 * reset restores. */
void qemu_migration_settings_init(QemuMigrationSettings *settings);

/* The id of QEMU's x509 credentials object for the stream: one per QEMU
 * (as libvirt), so a set-up and a reset know it without being told, and a
 * job cut short (the daemon killed) cannot leave one more behind. */
#define QEMU_MIGRATION_TLS_ID "md-migration-tls"

/* TLS for the stream: the object QEMU_MIGRATION_TLS_ID over @dir;
 * @hostname (source only, nullable) is the name the destination's
 * certificate must carry. */
typedef struct {
        const char *dir;
        const char *hostname;
} QemuMigrationTls;

/* The source: capabilities and parameters, TLS when @tls, then what QEMU
 * has in effect. The result is query-migrate-parameters read as
 * qemu_monitor_query_migrate_parameters_finish() reads it. */
void qemu_migration_setup_source_async(QmpClient *mon, const QemuMigrationSettings *settings,
                                       const QemuMigrationTls *tls /* nullable */,
                                       GAsyncReadyCallback callback, gpointer user_data);
GVariant *qemu_migration_setup_source_finish(GAsyncResult *result, GError **error);

/* The destination: capabilities and parameters when @settings, TLS when
 * @tls, then migrate-incoming @uri. */
void qemu_migration_setup_incoming_async(QmpClient *mon, const QemuMigrationSettings *settings /* nullable */,
                                         const QemuMigrationTls *tls /* nullable */, const char *uri,
                                         GAsyncReadyCallback callback, gpointer user_data);
gboolean qemu_migration_setup_incoming_finish(GAsyncResult *result, GError **error);

/* Back to QEMU's defaults, the TLS object away when there is one. */
void qemu_migration_reset_async(QmpClient *mon, GAsyncReadyCallback callback, gpointer user_data);
gboolean qemu_migration_reset_finish(GAsyncResult *result, GError **error);

/* query-migrate-capabilities: a{sb}, the capabilities of the table only
 * (NAME -> state). NULL with @error when QEMU failed. */
void qemu_monitor_query_migrate_capabilities_async(QmpClient *mon, GAsyncReadyCallback callback,
                                                   gpointer user_data);
GVariant *qemu_monitor_query_migrate_capabilities_finish(GAsyncResult *result, GError **error);

/* query-migrate-parameters: a{sv} of what QEMU reports in effect, by QEMU's
 * names: the counters ("multifd-channels", "max-bandwidth", ...: t) and
 * "multifd-compression" (s). Values QEMU sent malformed are left out. */
void qemu_monitor_query_migrate_parameters_async(QmpClient *mon, GAsyncReadyCallback callback,
                                                 gpointer user_data);
GVariant *qemu_monitor_query_migrate_parameters_finish(GAsyncResult *result, GError **error);
/* The same from a reply (for tests): never NULL, floating. */
GVariant *qemu_migration_parameters_from_reply(JsonNode *reply /* nullable */);
