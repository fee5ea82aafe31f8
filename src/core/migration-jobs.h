/* Migration jobs beyond their own phases: the observer a job installs on
 * its domain, and what concerns the jobs of all domains (the [migration]
 * max_jobs count, a driving client leaving the bus, the jobs restored
 * after a restart). */
#pragma once

#include "registry.h"

/* Makes @job the domain's job and installs the observer through which the
 * job hears of its domain (QMP events, QEMU's exit; domain.h). The job
 * removes it when it ends. */
void migration_job_attach(Domain *domain, MigrationJob *job);

guint migration_jobs_count(Registry *registry);
/* The client @name left the bus: jobs it drove are abandoned. */
void migration_jobs_client_vanished(Registry *registry, const char *name);
/* After the listener is set: asks whether the driving client of every job
 * restored from the journal is still on the bus (registry_watch_client). */
void migration_jobs_watch_clients(Registry *registry);
/* Once the bus name is ours: the jobs recovery ended end now, so that
 * clients hear their JobCompleted (recovery_end_restored). */
void migration_jobs_end_restored(Registry *registry);
