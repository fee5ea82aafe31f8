/* What concerns the jobs of all domains: a driving client leaving the
 * bus, the jobs restored after a restart. (The [migration] max_jobs count
 * and the observer a job installs on its domain are the job's own,
 * migration-job.c.) */
#pragma once

#include "registry.h"

/* The client @name left the bus: jobs it drove are abandoned. */
void migration_jobs_client_vanished(Registry *registry, const char *name);
/* After the listener is set: asks whether the driving client of every job
 * restored from the journal is still on the bus (registry_watch_client). */
void migration_jobs_watch_clients(Registry *registry);
/* Once the bus name is ours: the jobs recovery ended end now, so that
 * clients hear their JobCompleted (recovery_end_restored). */
void migration_jobs_end_restored(Registry *registry);
