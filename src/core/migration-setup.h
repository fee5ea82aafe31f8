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
