/* The phases of a migration job and the one table of their legal
 * transitions, per direction. Pure: no I/O, no loop; the job
 * (migration-job.c) asks it before every change of phase, recovery after a
 * restart reads the journal's phase back through it. */
#pragma once

#include <glib.h>

typedef enum {
        JOB_TYPE_NONE,
        JOB_TYPE_MIGRATION_OUT,
        JOB_TYPE_MIGRATION_IN,
        _JOB_TYPE_MAX,
        _JOB_TYPE_INVALID = -1,
} JobType;

/* The order is the order of the protocol within each direction. The
 * strings are the bus property JobPhase and the journal's job_phase. */
typedef enum {
        JOB_PHASE_NONE,
        /* source */
        JOB_PHASE_BEGIN3,
        JOB_PHASE_PERFORM3,
        JOB_PHASE_PERFORM3_DONE,
        JOB_PHASE_CONFIRM3,
        JOB_PHASE_CONFIRM3_CANCELLED,
        /* destination */
        JOB_PHASE_PREPARE,
        JOB_PHASE_POSTCOPY,          /* the guest runs here, pages still come from the source */
        JOB_PHASE_FINISH3,
        JOB_PHASE_FINISH2,
        _JOB_PHASE_MAX,
        _JOB_PHASE_INVALID = -1,
} JobPhase;

const char *job_type_to_string(JobType type);
JobType job_type_from_string(const char *s);
const char *job_phase_to_string(JobPhase phase);
JobPhase job_phase_from_string(const char *s);

/* Whether @phase is a phase of a job of @type (JOB_PHASE_NONE is none's). */
gboolean job_phase_belongs_to(JobType type, JobPhase phase);

/* Whether a job of @type may go from @from to @to: a job starts from
 * JOB_PHASE_NONE into its first phase, then moves only forward along the
 * table; ending a job (to JOB_PHASE_NONE) is always allowed. Staying in
 * the same phase is no transition and is refused here. */
gboolean job_phase_transition_allowed(JobType type, JobPhase from, JobPhase to);

/* The same, with the reason as an MD_ERROR_OPERATION_INVALID: "going
 * backwards" (libvirt's words), a skipped phase, or a phase of the other
 * direction. */
gboolean job_phase_check_transition(JobType type, JobPhase from, JobPhase to, GError **error);
