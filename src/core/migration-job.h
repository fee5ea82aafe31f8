/* A migration job: one per domain, outgoing (source) or incoming
 * (destination), moving through libvirt's v3 phases. The job owns the
 * bookkeeping every phase shares: the phase, the driving client, the
 * next-phase deadline, statistics, progress and the final result. */
#pragma once

#include <gio/gio.h>

#include "domain.h"
#include "migration-params.h"
#include "migration-phase.h"
#include "qemu-monitor.h"

typedef enum {
        JOB_RESULT_COMPLETED,
        JOB_RESULT_FAILED,
        JOB_RESULT_CANCELLED,
} JobResult;

/* What differs per direction, set by the side that starts the job
 * (migration-source.c, migration-dest.c) or by recovery, so that the job
 * calls back into neither. */
typedef struct {
        /* QEMU's MIGRATION event with a status that ends or switches the
         * stream: "completed", "failed", "cancelled", "postcopy-active",
         * "postcopy-paused". */
        void (*stream_ended)(Domain *domain, const char *status);
        /* A failure rule lets the guest run here again (source); NULL: a
         * side that never resumes (destination). */
        void (*resume)(Domain *domain);
        /* QEMU paused the stream before the switch-over (storage migration's
         * pause-before-switchover); NULL: never asked for. */
        void (*pre_switchover)(Domain *domain);
        /* QEMU reported a block job's state change (a QEMU_EVENT_BLOCK_JOB);
         * nullable. */
        void (*block_job_event)(Domain *domain);
        /* The job is ending (migration_job_end()), @completed or not: what
         * it left in QEMU or on disk goes; nullable. */
        void (*ending)(Domain *domain, gboolean completed);
} MigrationJobOps;

struct MigrationJob {
        Domain *domain;
        const MigrationJobOps *ops;
        guint64 serial;              /* unique in this daemon: which job a callback was for */
        JobType type;
        JobPhase phase;
        MigrationParams *params;
        char *owner;                 /* unique bus name of the driving client; NULL: this
                                      * daemon drives it (peer-to-peer) or nobody does */
        gboolean unattended;         /* nobody drives it: the deadline applies */
        guint phase_timer;           /* deadline for the next phase */
        gint64 start_ms;             /* monotonic */
        JobProgress progress;        /* JobProgress: model/job-progress.h */
        GVariant *stats;             /* latest a{sv}, owned */
        gint64 last_emit_ms;
        guint poll_timer;
        gboolean poll_in_flight;
        gboolean stream_failed;      /* the stream ended without success */
        gboolean aborted;            /* AbortJob asked for it */
        gboolean ending;             /* migration_job_end() runs: the calls it answers see it */
        char *error;                 /* why the stream failed */
        GTask *begin;                /* source: Begin waiting for QEMU's view of the disks */
        GTask *perform;              /* source: Perform waiting for the stream */
        GTask *finish;               /* destination: Finish waiting for the stream */
        gboolean incoming_done;      /* destination: QEMU reported completed */
        guint16 port;                /* destination: the port QEMU listens on */
        gint64 source_stop_time_ms;  /* wall clock, from the Perform cookie */
        gint64 stop_time_ms;         /* source: when our guest stopped */
        gint64 resume_time_ms;       /* destination: when the guest ran here in post-copy */
        GVariant *setup_stats;       /* QEMU's settings in effect for this job, a{sv} */
        gboolean initial_queried;    /* source: QEMU was asked for its settings before the job */
        gboolean qemu_configured;    /* capabilities were changed: reset them at the end */
        gboolean postcopy;           /* the stream switched to post-copy */
        gboolean postcopy_requested; /* source: migrate-start-postcopy was (about to be) sent */
        int protocol;                /* source: 3, or 2 under Perform2 */
        gboolean restored;           /* restored after a restart: the deadline applies */
        gboolean paused_before;      /* source: the guest was paused when the job began */
        char *paused_reason_before;  /* source: its StateReason then, restored on failure */
        char *end_when_heard;        /* restored only to end (its errmsg) once clients can
                                      * hear JobCompleted: recovery_end_restored() */
        gboolean kill_at_end;        /* ... and then kill its (incoming) QEMU */
        /* Storage migration (migration-storage.c): */
        GPtrArray *storage_created;  /* destination: image files this job created (char*), removed
                                      * unless it completes */
        GStrv storage_jobs;          /* source: the mirror jobs in QEMU, NULL when none */
        GStrv storage_nodes;         /* source: their NBD client nodes, deleted when the job fails */
        guint storage_timer;         /* source: polling the mirrors until READY */
        guint storage_gone_timer;    /* source: polling the cancelled mirrors until gone */
        gboolean storage_event;      /* source: a BLOCK_JOB_* event came while no poll was armed
                                      * (a query in flight may have answered before it) */
        guint64 disk_total, disk_processed, disk_bps;   /* source: the mirrors' progress (bytes) */
        gint64 disk_sample_ms;       /* source: when disk_processed was read */
        guint16 storage_port;        /* source: the destination's NBD server (Prepare's cookie); 0 = none */
};

/* A fresh QEMU object id for a job's TLS credentials. */

const char *migration_job_describe(const MigrationJob *job);
/* The storage copy's progress (libvirt's disk_total, disk_processed,
 * disk_remaining, disk_bps) into the job's statistics, announced as the
 * memory statistics are. */
void migration_job_set_disk_stats(MigrationJob *job, guint64 total, guint64 processed);
/* The downtime the destination measured (Finish3's cookie statistics,
 * nullable) replaces QEMU's, which ends at the source's switch-over. */
void migration_job_take_downtime(MigrationJob *job, GVariant *destination_stats);

/* The one guard of a callback that outlives the call which started it:
 * the job of @domain (nullable: it went away meanwhile) if it has one of
 * @type, else NULL. A job that is ending counts as gone: its end answers
 * the calls it holds, with its reason, and a callback that its end runs
 * must not act on it. */
MigrationJob *migration_job_of(Domain *domain, JobType type);

/* Starts a job on @domain (which must have none) and announces it. Fails
 * with MD_ERROR_JOB_ACTIVE when [migration] max_jobs jobs run already. */
MigrationJob *migration_job_start(Domain *domain, JobType type, JobPhase phase, const MigrationJobOps *ops,
                                  MigrationParams *params /* consumed */, const char *owner,
                                  GError **error);
/* The guest stays on this QEMU: settings a job may have changed go back
 * to QEMU's defaults, and the TLS object goes (if there is one). */
void migration_job_reset_qemu(Domain *domain);
/* The one place a job changes phase: the transition table
 * (migration-phase.h) decides; a refused step leaves the job as it was.
 * The new phase is journaled before this returns. */
gboolean migration_job_set_phase(MigrationJob *job, JobPhase phase, GError **error);
/* A step the daemon takes itself (not a client's call): the table must
 * allow it; a refusal is logged as the bug it is. */
void migration_job_step(MigrationJob *job, JobPhase phase);
/* (Re)arms the deadline for the next phase ([migration] phase_timeout) of
 * an unattended job (its driving client left) or of a job restored after a
 * restart; a no-op while a client or this daemon drives it. */
void migration_job_arm_deadline(MigrationJob *job);
/* The same deadline for a phase that waits on QEMU, not on the client
 * (Finish waiting for the end of the incoming stream): armed always. */
void migration_job_arm_stream_deadline(MigrationJob *job);
void migration_job_disarm_deadline(MigrationJob *job);

/* Source: poll query-migrate while the stream runs, emit statistics. */
void migration_job_start_polling(MigrationJob *job);
void migration_job_update_stats(MigrationJob *job, const QemuMigrationInfo *query_migrate);

/* Ends the job: final statistics (with success and errmsg) become the
 * domain's last job, JobCompleted is emitted, the properties reset. */
void migration_job_end(Domain *domain, JobResult result, const char *errmsg);

/* QEMU of a domain with a job has gone: pending phases fail, the job ends. */
void migration_job_on_qemu_exit(Domain *domain);
/* QMP events while a job runs (MIGRATION, MIGRATION_PASS, STOP). */
void migration_job_on_event(Domain *domain, const QemuEvent *event);

/* The driving client left the bus, or the next phase did not come in time:
 * the failure rules decide (see migration-job.c). @why is a translated
 * clause (lower case, no full stop) that the job's message sets after a
 * colon or in parentheses. */
void migration_job_abandon(Domain *domain, const char *why);

void migration_job_free(MigrationJob *job);

/* What the status file keeps of a job (its journal) for a restart. */
typedef struct {
        JobType type;                /* JOB_TYPE_NONE: the guest had no job */
        JobPhase phase;              /* _JOB_PHASE_INVALID: unreadable */
        guint flags;
        gboolean postcopy;
        gboolean postcopy_requested; /* source: migrate-start-postcopy may have been sent */
        int protocol;                /* source: 2 (Perform2) or 3; 3 when absent */
        gboolean paused_before;      /* the guest was paused before the job */
        char *owner;                 /* the driving client's unique bus name */
        char *destination_name;
        GStrv storage_created;       /* destination: image files the job created, or NULL */
        double progress;             /* JobProgress when written, 0 to 99 */
} MigrationJournal;

/* migration-journal.c */
void migration_journal_write(JsonBuilder *builder, const MigrationJob *job);
void migration_journal_read(MigrationJournal *journal, JsonObject *status);
void migration_journal_clear(MigrationJournal *journal);

/* After a restart (recovery.c): the job as @journal left it, waiting for
 * its client's next phase, with the post-copy state recovery found
 * (journal or QEMU); attached, announced and journaled, its deadline armed
 * whether or not its owner is still on the bus. */
MigrationJob *migration_job_restore(Domain *domain, const MigrationJournal *journal,
                                    const MigrationJobOps *ops, gboolean postcopy);

/* The job's statistics (a{sv}, owned) on top of @base (QEMU's, nullable):
 * migration-stats.c. */
GVariant *migration_job_stats(MigrationJob *job, GVariant *base);

/* JobProgress: the running job's, else the last job's where it ended (100
 * after a success), else 0. */
double migration_job_progress(Domain *domain);

/* GetJobStats: "none"/"unbounded" for the current job, or the last one with
 * flag 1 ("completed", "failed", "cancelled"). *ret_stats is a{sv}. */
gboolean migration_job_get_stats(Domain *domain, guint flags, const char **ret_type,
                                 GVariant **ret_stats, GError **error);
