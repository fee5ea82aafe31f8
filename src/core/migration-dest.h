/* Between the destination side's files (migration-dest.c: Prepare;
 * migration-finish.c: Finish) and what recovery needs of them. Not for
 * the bus layer, which has migration.h. */
#pragma once

#include "migration-job.h"

/* What an incoming job does when its stream ends or switches to post-copy. */
extern const MigrationJobOps migration_dest_ops;
