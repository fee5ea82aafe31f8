/* Shared by the files of storage migration (migration-storage*.c) only. */
#pragma once

#include "migration-job.h"

/* The delay of the next poll of the mirrors: @ms, or none after a
 * BLOCK_JOB_* event the last query may not reflect. */
guint migration_storage_poll_delay(MigrationJob *job, guint ms);
