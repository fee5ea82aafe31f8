/* The recovery rules of docs/recovery.md: what becomes of a guest that was
 * in a migration job when the daemon stopped. recovery-load.c finds the
 * guests and calls these; they are testable over the fake monitor alone. */
#pragma once

#include "domain.h"
#include "migration-job.h"

/* After a daemon restart: the guest (found again, its state from QEMU)
 * was in @journal's job. One rule per (direction, phase, post-copy), as
 * docs/recovery.md tabulates: the job is restored to wait for the client's
 * next phase, or ended, the guest kept, resumed or killed. @qemu_status is
 * query-status' "status", @migration_status query-migrate's "status"
 * (NULL: QEMU did not say). */
void recovery_recover_domain(Domain *domain, const MigrationJournal *journal, const char *qemu_status,
                             const char *migration_status);

/* Ends a job that recovery decided to end: restored meanwhile so that its
 * JobCompleted goes out once the bus name is ours, not into the void while
 * the daemon starts. A no-op for other jobs. */
void recovery_end_restored(Domain *domain);
