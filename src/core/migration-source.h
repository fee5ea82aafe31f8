/* Between the source side's files (migration-begin.c: Begin;
 * migration-source.c: Perform;
 * migration-confirm.c: Confirm and protocol 2; migration-controls.c: the
 * job controls) and what recovery needs of them. Not for the bus layer,
 * which has migration.h. */
#pragma once

#include "migration-job.h"

/* What an outgoing job does at the end of its stream and in a failure rule. */
extern const MigrationJobOps migration_source_ops;

/* Lets a guest the migration left paused run again (reason
 * migration-canceled); one the user had paused before the job stays
 * paused, with its reason of then. Also with no job (recovery). */
void migration_source_resume(Domain *domain);
