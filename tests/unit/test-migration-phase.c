/* The transition table of a migration job: every legal step, each
 * direction's illegal ones (backwards, skipped, the other direction's
 * phases), and the names the journal and the bus use. */
#include <string.h>

#include "md-error.h"
#include "migration-phase.h"

#define OUT JOB_TYPE_MIGRATION_OUT
#define IN JOB_TYPE_MIGRATION_IN

typedef struct {
        JobType type;
        JobPhase from, to;
} Step;

/* Written out here, not taken from the table: this is the protocol as
 * docs/recovery.md describes it. */
static const Step legal[] = {
        { OUT, JOB_PHASE_NONE, JOB_PHASE_BEGIN3 },
        { OUT, JOB_PHASE_BEGIN3, JOB_PHASE_PERFORM3 },
        { OUT, JOB_PHASE_BEGIN3, JOB_PHASE_CONFIRM3_CANCELLED },
        { OUT, JOB_PHASE_PERFORM3, JOB_PHASE_PERFORM3_DONE },
        { OUT, JOB_PHASE_PERFORM3, JOB_PHASE_CONFIRM3_CANCELLED },
        { OUT, JOB_PHASE_PERFORM3_DONE, JOB_PHASE_CONFIRM3 },
        { OUT, JOB_PHASE_PERFORM3_DONE, JOB_PHASE_CONFIRM3_CANCELLED },
        { IN, JOB_PHASE_NONE, JOB_PHASE_PREPARE },
        { IN, JOB_PHASE_PREPARE, JOB_PHASE_POSTCOPY },
        { IN, JOB_PHASE_PREPARE, JOB_PHASE_FINISH3 },
        { IN, JOB_PHASE_PREPARE, JOB_PHASE_FINISH2 },
        { IN, JOB_PHASE_POSTCOPY, JOB_PHASE_FINISH3 },
        { IN, JOB_PHASE_POSTCOPY, JOB_PHASE_FINISH2 },
};

static gboolean is_listed(JobType type, JobPhase from, JobPhase to) {
        for (guint i = 0; i < G_N_ELEMENTS(legal); i++)
                if (legal[i].type == type && legal[i].from == from && legal[i].to == to)
                        return TRUE;
        return FALSE;
}

static void test_legal(void) {
        for (guint i = 0; i < G_N_ELEMENTS(legal); i++) {
                g_autoptr(GError) error = NULL;
                const Step *s = &legal[i];

                if (!job_phase_check_transition(s->type, s->from, s->to, &error))
                        g_error("%s: %s -> %s refused: %s", job_type_to_string(s->type),
                                job_phase_to_string(s->from), job_phase_to_string(s->to), error->message);
                g_assert_true(job_phase_transition_allowed(s->type, s->from, s->to));
        }
}

/* Every pair the list above does not name is refused, with a reason:
 * the table allows nothing more than the protocol. Ending (to none) is
 * allowed from each phase of the direction. */
static void test_everything_else_refused(void) {
        const JobType types[] = { OUT, IN };

        for (guint t = 0; t < G_N_ELEMENTS(types); t++)
                for (int from = 0; from < _JOB_PHASE_MAX; from++)
                        for (int to = 0; to < _JOB_PHASE_MAX; to++) {
                                g_autoptr(GError) error = NULL;
                                gboolean expected = is_listed(types[t], from, to) ||
                                                    (to == JOB_PHASE_NONE && from != JOB_PHASE_NONE &&
                                                     job_phase_belongs_to(types[t], from));
                                gboolean ok = job_phase_check_transition(types[t], from, to, &error);

                                if (ok != expected)
                                        g_error("%s: %s -> %s %s", job_type_to_string(types[t]),
                                                job_phase_to_string(from), job_phase_to_string(to),
                                                ok ? "allowed" : "refused");
                                if (!ok) {
                                        g_assert_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
                                        g_assert_true(strstr(error->message, job_phase_to_string(to)));
                                }
                        }
}

static void assert_refused(JobType type, JobPhase from, JobPhase to, const char *words) {
        g_autoptr(GError) error = NULL;

        g_assert_false(job_phase_check_transition(type, from, to, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
        if (!strstr(error->message, words))
                g_error("%s -> %s: '%s' does not say '%s'", job_phase_to_string(from), job_phase_to_string(to),
                        error->message, words);
}

static void test_illegal_reasons(void) {
        /* libvirt's "migration protocol going backwards" */
        assert_refused(OUT, JOB_PHASE_PERFORM3_DONE, JOB_PHASE_PERFORM3, "going backwards");
        assert_refused(OUT, JOB_PHASE_PERFORM3, JOB_PHASE_BEGIN3, "going backwards");
        assert_refused(OUT, JOB_PHASE_CONFIRM3_CANCELLED, JOB_PHASE_CONFIRM3, "going backwards");
        assert_refused(IN, JOB_PHASE_FINISH3, JOB_PHASE_PREPARE, "going backwards");
        assert_refused(IN, JOB_PHASE_FINISH3, JOB_PHASE_POSTCOPY, "going backwards");
        /* skipped phases: Confirm3 of a success without a completed stream */
        assert_refused(OUT, JOB_PHASE_BEGIN3, JOB_PHASE_CONFIRM3, "cannot follow");
        assert_refused(OUT, JOB_PHASE_PERFORM3, JOB_PHASE_CONFIRM3, "cannot follow");
        assert_refused(OUT, JOB_PHASE_BEGIN3, JOB_PHASE_PERFORM3_DONE, "cannot follow");
        assert_refused(OUT, JOB_PHASE_CONFIRM3, JOB_PHASE_CONFIRM3_CANCELLED, "cannot follow");
        assert_refused(IN, JOB_PHASE_FINISH3, JOB_PHASE_FINISH2, "cannot follow");
        /* a job starts only in its first phase */
        assert_refused(OUT, JOB_PHASE_NONE, JOB_PHASE_PERFORM3, "cannot start");
        assert_refused(IN, JOB_PHASE_NONE, JOB_PHASE_FINISH3, "cannot start");
        /* the other direction's phases */
        assert_refused(OUT, JOB_PHASE_BEGIN3, JOB_PHASE_PREPARE, "does not follow");
        assert_refused(IN, JOB_PHASE_PREPARE, JOB_PHASE_PERFORM3, "does not follow");
        assert_refused(OUT, JOB_PHASE_NONE, JOB_PHASE_PREPARE, "does not follow");
        /* no change is no transition */
        assert_refused(OUT, JOB_PHASE_PERFORM3, JOB_PHASE_PERFORM3, "already");
        /* a type without phases */
        assert_refused(JOB_TYPE_NONE, JOB_PHASE_NONE, JOB_PHASE_BEGIN3, "no migration phases");
        /* out of range */
        g_assert_false(job_phase_transition_allowed(OUT, _JOB_PHASE_INVALID, JOB_PHASE_BEGIN3));
        g_assert_false(job_phase_transition_allowed(OUT, JOB_PHASE_BEGIN3, _JOB_PHASE_MAX));
}

static void test_end(void) {
        /* A job may end in any of its phases, never "end" before it started. */
        g_assert_true(job_phase_transition_allowed(OUT, JOB_PHASE_BEGIN3, JOB_PHASE_NONE));
        g_assert_true(job_phase_transition_allowed(OUT, JOB_PHASE_PERFORM3_DONE, JOB_PHASE_NONE));
        g_assert_true(job_phase_transition_allowed(IN, JOB_PHASE_POSTCOPY, JOB_PHASE_NONE));
        g_assert_false(job_phase_transition_allowed(OUT, JOB_PHASE_NONE, JOB_PHASE_NONE));
        g_assert_false(job_phase_transition_allowed(IN, JOB_PHASE_PERFORM3, JOB_PHASE_NONE));
}

static void test_names(void) {
        /* The bus's JobPhase values and the journal's, both ways. */
        const char *const names[] = { "none", "begin3", "perform3", "perform3_done", "confirm3",
                                      "confirm3_cancelled", "prepare", "postcopy", "finish3", "finish2" };

        g_assert_cmpint(G_N_ELEMENTS(names), ==, _JOB_PHASE_MAX);
        for (int i = 0; i < _JOB_PHASE_MAX; i++) {
                g_assert_cmpstr(job_phase_to_string(i), ==, names[i]);
                g_assert_cmpint(job_phase_from_string(names[i]), ==, i);
        }
        g_assert_cmpint(job_phase_from_string("perform2x"), ==, _JOB_PHASE_INVALID);
        g_assert_cmpint(job_phase_from_string(NULL), ==, _JOB_PHASE_INVALID);
        g_assert_cmpstr(job_phase_to_string(_JOB_PHASE_INVALID), ==, "none");
        g_assert_cmpint(job_type_from_string("migration-out"), ==, OUT);
        g_assert_cmpint(job_type_from_string("migration-in"), ==, IN);
        g_assert_cmpint(job_type_from_string("none"), ==, JOB_TYPE_NONE);
        g_assert_cmpint(job_type_from_string("backup"), ==, _JOB_TYPE_INVALID);
        g_assert_cmpstr(job_type_to_string(IN), ==, "migration-in");
}

static void test_belongs_to(void) {
        g_assert_true(job_phase_belongs_to(OUT, JOB_PHASE_PERFORM3_DONE));
        g_assert_true(job_phase_belongs_to(IN, JOB_PHASE_POSTCOPY));
        g_assert_true(job_phase_belongs_to(IN, JOB_PHASE_FINISH2));
        g_assert_false(job_phase_belongs_to(OUT, JOB_PHASE_PREPARE));
        g_assert_false(job_phase_belongs_to(IN, JOB_PHASE_CONFIRM3));
        g_assert_true(job_phase_belongs_to(JOB_TYPE_NONE, JOB_PHASE_NONE));
        g_assert_false(job_phase_belongs_to(OUT, JOB_PHASE_NONE));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/migration-phase/legal", test_legal);
        g_test_add_func("/migration-phase/everything-else-refused", test_everything_else_refused);
        g_test_add_func("/migration-phase/illegal-reasons", test_illegal_reasons);
        g_test_add_func("/migration-phase/end", test_end);
        g_test_add_func("/migration-phase/names", test_names);
        g_test_add_func("/migration-phase/belongs-to", test_belongs_to);
        return g_test_run();
}
