/* What a job's flags and parameters mean to QEMU: capabilities and
 * migration parameters, set on both QEMUs before the stream starts
 * (migrate-incoming / migrate), as QEMU requires, and reset afterwards so
 * that the next job on the same QEMU starts clean. */
#pragma once

#include "migration-params.h"
#include "qemu-migration.h"

/* @source: the sending QEMU (speed, downtime and auto-converge only matter there). */
void migration_setup_add(QemuCommandList *list, const MigrationParams *params, gboolean source,
                         guint64 bandwidth_mib, guint64 downtime_ms);

/* QEMU's defaults again. */
void migration_setup_add_reset(QemuCommandList *list);

/* Statistics keys ("qemu.multifd-channels", ...) for the parameters QEMU
 * reports in effect (a query-migrate-parameters reply), so that a job's
 * settings are visible in GetJobStats. Floating a{sv}. */
GVariant *migration_setup_stats(JsonNode *query_migrate_parameters, const MigrationParams *params);

/* QEMU's settings before a job applied its own ("qemu.initial.*" keys):
 * they show that the previous job's settings were reset. Floating a{sv}. */
GVariant *migration_setup_initial_stats(JsonNode *query_migrate_capabilities, JsonNode *query_migrate_parameters);

/* TLS for the migration stream (the TLS flag): QEMU's own x509 credentials
 * from the [tls] files, linked into RUNTIME/tls under the names QEMU wants.
 * Returns the directory. */
char *migration_setup_tls_dir(const char *runtime_dir, const char *ca, const char *cert, const char *key,
                              GError **error);
/* object-add tls-creds-x509 @id (server: the destination, verifying the
 * client) and the tls-creds/tls-hostname parameters. */
void migration_setup_add_tls(QemuCommandList *list, const char *id, const char *dir, gboolean server,
                             const char *hostname);
/* Parameters back to no TLS, and the object gone. */
void migration_setup_add_tls_reset(QemuCommandList *list, const char *id);
