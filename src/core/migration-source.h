/* Between the source side's files (migration-begin.c: Begin;
 * migration-source.c: Perform;
 * migration-confirm.c: Confirm and protocol 2; migration-controls.c: the
 * job controls) and what recovery needs of them. Not for the bus layer,
 * which has migration.h. */
#pragma once

#include "migration-job.h"

/* What an outgoing job does at the end of its stream and in a failure rule. */
extern const MigrationJobOps migration_source_ops;

/* Asks QEMU, once per job, for its migration settings before the job
 * changes them ("qemu.initial.*" of the statistics): from Begin3 (also
 * Perform2's), so that QEMU has answered long before Perform3, which does
 * not wait for it anyway (the replies come in order, before those of the
 * settings); Perform asks only if Begin did not. */
void migration_source_query_initial(Domain *domain);

/* Lets a guest the migration left paused run again (reason
 * migration-canceled); one the user had paused before the job stays
 * paused, with its reason of then. Also with no job (recovery). */
void migration_source_resume(Domain *domain);
