/* What a job's flags and parameters mean to QEMU (the settings the driver
 * sets on both QEMUs before the stream starts and resets afterwards), the
 * statistics keys that show them, and the TLS directory QEMU reads. */
#pragma once

#include "migration-params.h"
#include "qemu-migration-params.h"

/* The settings for @params; @bandwidth_mib (0 = unlimited) and
 * @downtime_ms (0 = QEMU's default) only matter on the source, as do
 * auto-converge and the throttle (the driver's table knows the sides). */
void migration_setup_settings(QemuMigrationSettings *settings, const MigrationParams *params,
                              guint64 bandwidth_mib, guint64 downtime_ms);

/* Statistics keys ("qemu.multifd-channels", ...) for the parameters QEMU
 * reports in effect (as qemu_monitor_query_migrate_parameters_finish()
 * reads them; nullable), so that a job's settings are visible in
 * GetJobStats. Floating a{sv}. */
GVariant *migration_setup_stats(GVariant *parameters, const MigrationParams *params);

/* QEMU's settings before a job applied its own ("qemu.initial.*" keys):
 * they show that the previous job's settings were reset. @caps: a{sb},
 * @parameters: a{sv}, both nullable. Floating a{sv}. */
GVariant *migration_setup_initial_stats(GVariant *caps, GVariant *parameters);

/* Every key of @stats (a{sv}, floating) into *@into (a{sv}, owned,
 * nullable), replacing what is there: what QEMU had before the job and what
 * it has now come in separately. */
void migration_setup_merge_stats(GVariant **into, GVariant *stats);

/* TLS for the migration stream (the TLS flag): QEMU's own x509 credentials
 * from the [tls] files, linked into RUNTIME/tls under the names QEMU wants.
 * Returns the directory. */
char *migration_setup_tls_dir(const char *runtime_dir, const char *ca, const char *cert, const char *key,
                              GError **error);
