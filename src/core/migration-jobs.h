/* The migration jobs of all domains of the registry, for what concerns
 * more than one: the [migration] max_jobs count, the driving client
 * leaving the bus, and the jobs restored after a restart. */
#pragma once

#include "registry.h"

guint migration_jobs_count(Registry *registry);
/* The client @name left the bus: jobs it drove are abandoned. */
void migration_jobs_client_vanished(Registry *registry, const char *name);
/* After the listener is set: asks whether the driving client of every job
 * restored from the journal is still on the bus (registry_watch_client). */
void migration_jobs_watch_clients(Registry *registry);
/* Once the bus name is ours: the jobs recovery ended end now, so that
 * clients hear their JobCompleted (migration_job_end_restored). */
void migration_jobs_end_restored(Registry *registry);
