/* The one table of a migration job's phases (see migration-phase.h). */
#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "md-error.h"
#include "migration-phase.h"

static const char *const job_type_names[_JOB_TYPE_MAX] = {
        [JOB_TYPE_NONE] = "none",
        [JOB_TYPE_MIGRATION_OUT] = "migration-out",
        [JOB_TYPE_MIGRATION_IN] = "migration-in",
};

static const char *const job_phase_names[_JOB_PHASE_MAX] = {
        [JOB_PHASE_NONE] = "none",
        [JOB_PHASE_BEGIN3] = "begin3",
        [JOB_PHASE_PERFORM3] = "perform3",
        [JOB_PHASE_PERFORM3_DONE] = "perform3_done",
        [JOB_PHASE_CONFIRM3] = "confirm3",
        [JOB_PHASE_CONFIRM3_CANCELLED] = "confirm3_cancelled",
        [JOB_PHASE_PREPARE] = "prepare",
        [JOB_PHASE_POSTCOPY] = "postcopy",
        [JOB_PHASE_FINISH3] = "finish3",
        [JOB_PHASE_FINISH2] = "finish2",
};

/* Every legal step; anything else is refused. A job starts from none;
 * ending it (to none) is allowed from anywhere and not listed. */
static const struct {
        JobType type;
        JobPhase from, to;
} transitions[] = {
        /* Source, protocol 3 (Perform2 runs the same phases in one call). */
        { JOB_TYPE_MIGRATION_OUT, JOB_PHASE_NONE, JOB_PHASE_BEGIN3 },
        { JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3, JOB_PHASE_PERFORM3 },
        /* Prepare failed on the destination: Confirm3 cancelled after Begin3 alone. */
        { JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3, JOB_PHASE_CONFIRM3_CANCELLED },
        { JOB_TYPE_MIGRATION_OUT, JOB_PHASE_PERFORM3, JOB_PHASE_PERFORM3_DONE },
        /* The stream failed (or post-copy failed): Confirm3 cancelled. */
        { JOB_TYPE_MIGRATION_OUT, JOB_PHASE_PERFORM3, JOB_PHASE_CONFIRM3_CANCELLED },
        { JOB_TYPE_MIGRATION_OUT, JOB_PHASE_PERFORM3_DONE, JOB_PHASE_CONFIRM3 },
        /* Finish3 failed on the destination. */
        { JOB_TYPE_MIGRATION_OUT, JOB_PHASE_PERFORM3_DONE, JOB_PHASE_CONFIRM3_CANCELLED },

        /* Destination. */
        { JOB_TYPE_MIGRATION_IN, JOB_PHASE_NONE, JOB_PHASE_PREPARE },
        /* At QEMU's postcopy-active: journaled before the guest runs here. */
        { JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE, JOB_PHASE_POSTCOPY },
        { JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE, JOB_PHASE_FINISH3 },
        { JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE, JOB_PHASE_FINISH2 },
        { JOB_TYPE_MIGRATION_IN, JOB_PHASE_POSTCOPY, JOB_PHASE_FINISH3 },
        { JOB_TYPE_MIGRATION_IN, JOB_PHASE_POSTCOPY, JOB_PHASE_FINISH2 },
};

const char *job_type_to_string(JobType type) {
        return (unsigned) type < _JOB_TYPE_MAX ? job_type_names[type] : "none";
}

JobType job_type_from_string(const char *s) {
        for (guint i = 0; s && i < _JOB_TYPE_MAX; i++)
                if (g_str_equal(s, job_type_names[i]))
                        return (JobType) i;
        return _JOB_TYPE_INVALID;
}

const char *job_phase_to_string(JobPhase phase) {
        return (unsigned) phase < _JOB_PHASE_MAX ? job_phase_names[phase] : "none";
}

JobPhase job_phase_from_string(const char *s) {
        for (guint i = 0; s && i < _JOB_PHASE_MAX; i++)
                if (g_str_equal(s, job_phase_names[i]))
                        return (JobPhase) i;
        return _JOB_PHASE_INVALID;
}

gboolean job_phase_belongs_to(JobType type, JobPhase phase) {
        if (phase == JOB_PHASE_NONE)
                return type == JOB_TYPE_NONE;
        for (guint i = 0; i < G_N_ELEMENTS(transitions); i++)
                if (transitions[i].type == type && (transitions[i].from == phase || transitions[i].to == phase))
                        return TRUE;
        return FALSE;
}

gboolean job_phase_transition_allowed(JobType type, JobPhase from, JobPhase to) {
        if (from == to || (unsigned) from >= _JOB_PHASE_MAX || (unsigned) to >= _JOB_PHASE_MAX)
                return FALSE;
        if (to == JOB_PHASE_NONE)
                return job_phase_belongs_to(type, from);
        for (guint i = 0; i < G_N_ELEMENTS(transitions); i++)
                if (transitions[i].type == type && transitions[i].from == from && transitions[i].to == to)
                        return TRUE;
        return FALSE;
}

gboolean job_phase_check_transition(JobType type, JobPhase from, JobPhase to, GError **error) {
        if (job_phase_transition_allowed(type, from, to))
                return TRUE;
        if (type != JOB_TYPE_MIGRATION_OUT && type != JOB_TYPE_MIGRATION_IN)
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            _("A job of type %s has no migration phases"), job_type_to_string(type));
        else if (!job_phase_belongs_to(type, to) || (from != JOB_PHASE_NONE && !job_phase_belongs_to(type, from)))
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            type == JOB_TYPE_MIGRATION_OUT
                            ? _("Phase %s does not follow %s in an outgoing migration")
                            : _("Phase %s does not follow %s in an incoming migration"),
                            job_phase_to_string(to), job_phase_to_string(from));
        else if (from == to)
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            _("The migration is in phase %s already"), job_phase_to_string(to));
        else if (from == JOB_PHASE_NONE)
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            type == JOB_TYPE_MIGRATION_OUT
                            ? _("An outgoing migration cannot start in phase %s")
                            : _("An incoming migration cannot start in phase %s"), job_phase_to_string(to));
        else if (to < from)
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            _("Migration protocol going backwards: %s after %s"), job_phase_to_string(to),
                            job_phase_to_string(from));
        else
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            _("Migration phase %s cannot follow %s (a phase would be skipped or the "
                              "job has ended that way already)"), job_phase_to_string(to),
                            job_phase_to_string(from));
        return FALSE;
}
