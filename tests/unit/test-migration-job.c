/* The migration job over a fake monitor: the transition table is the one
 * gate of migration_job_set_phase (a refused step leaves the job as it
 * was), and the job reaches its direction only through the operations the
 * side that started it set (MigrationJobOps). */
#include <string.h>
#include <glib/gstdio.h>

#include "fake-monitor.h"
#include "md-config.h"
#include "md-error.h"
#include "migration-job.h"
#include "registry.h"
#include "test-util.h"

typedef struct {
        char *dir;
        MdConfig *config;
        Registry *registry;
        FakeMonitor *fm;
        Domain *d;
} Fixture;

/* What the job asked of its direction. */
static GPtrArray *calls;

static void record_stream_ended(Domain *d, const char *status) {
        g_ptr_array_add(calls, g_strdup_printf("stream_ended %s", status));
}

static void record_resume(Domain *d) {
        g_ptr_array_add(calls, g_strdup("resume"));
}

static const MigrationJobOps test_ops = {
        .stream_ended = record_stream_ended,
        .resume = record_resume,
};

static void fixture_set_up(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml_path = g_build_filename(g_getenv("MD_TEST_DATA_DIR"), "domains", "full.xml", NULL);
        g_autofree char *xml = NULL;
        g_autofree char *state = NULL, *run = NULL, *log = NULL;

        f->dir = g_dir_make_tmp("md-migration-job-XXXXXX", &error);
        g_assert_no_error(error);
        state = g_build_filename(f->dir, "state", NULL);
        run = g_build_filename(f->dir, "run", NULL);
        log = g_build_filename(f->dir, "log", NULL);
        f->config = md_config_load_from_data("", &error);
        g_assert_no_error(error);
        f->registry = registry_new(f->config, &(RegistryDirs) { .state_dir = state, .runtime_dir = run,
                                                                .log_dir = log }, &error);
        g_assert_no_error(error);
        g_assert_true(g_file_get_contents(xml_path, &xml, NULL, &error));
        f->d = registry_define_xml(f->registry, xml, &error);
        g_assert_no_error(error);
        f->fm = fake_monitor_new();
        domain_adopt_process(f->d, domain_def_copy(f->d->def), fake_monitor_connect(f->fm), DOMAIN_STATE_RUNNING,
                             "booted");
        calls = g_ptr_array_new_with_free_func(g_free);
}

static void fixture_tear_down(Fixture *f, gconstpointer data) {
        g_clear_pointer(&f->registry, registry_free);
        g_clear_pointer(&f->fm, fake_monitor_free);
        md_config_free(f->config);
        test_remove_tree(f->dir);
        g_free(f->dir);
        g_clear_pointer(&calls, g_ptr_array_unref);
}

static MigrationJob *start(Fixture *f, JobType type, JobPhase phase) {
        g_autoptr(GError) error = NULL;
        MigrationJob *job = migration_job_start(f->d, type, phase, &test_ops, g_new0(MigrationParams, 1), NULL,
                                                &error);

        g_assert_no_error(error);
        g_assert_true(f->d->job == job);
        return job;
}

static void assert_step_refused(MigrationJob *job, JobPhase to, const char *words) {
        g_autoptr(GError) error = NULL;
        JobPhase before = job->phase;

        g_assert_false(migration_job_set_phase(job, to, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
        if (!strstr(error->message, words))
                g_error("'%s' does not say '%s'", error->message, words);
        g_assert_cmpint(job->phase, ==, before);
}

static void assert_step(MigrationJob *job, JobPhase to) {
        g_autoptr(GError) error = NULL;

        g_assert_true(migration_job_set_phase(job, to, &error));
        g_assert_no_error(error);
        g_assert_cmpint(job->phase, ==, to);
}

/* A job cannot start in a phase the table does not start it in. */
static void test_start_refused(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;

        g_assert_null(migration_job_start(f->d, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_PERFORM3, &test_ops,
                                          g_new0(MigrationParams, 1), NULL, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
        g_assert_null(f->d->job);
}

static void test_source_gate(Fixture *f, gconstpointer data) {
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);

        assert_step_refused(job, JOB_PHASE_PERFORM3_DONE, "cannot follow");
        assert_step_refused(job, JOB_PHASE_CONFIRM3, "cannot follow");
        assert_step_refused(job, JOB_PHASE_PREPARE, "does not follow");
        assert_step_refused(job, JOB_PHASE_BEGIN3, "already");
        assert_step(job, JOB_PHASE_PERFORM3);
        assert_step_refused(job, JOB_PHASE_BEGIN3, "going backwards");
        assert_step(job, JOB_PHASE_PERFORM3_DONE);
        assert_step_refused(job, JOB_PHASE_PERFORM3, "going backwards");
        assert_step(job, JOB_PHASE_CONFIRM3);
        assert_step_refused(job, JOB_PHASE_CONFIRM3_CANCELLED, "cannot follow");
        migration_job_end(f->d, JOB_RESULT_COMPLETED, NULL);
        g_assert_null(f->d->job);
        g_assert_cmpuint(calls->len, ==, 0);
}

static void test_destination_gate(Fixture *f, gconstpointer data) {
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE);

        assert_step_refused(job, JOB_PHASE_PERFORM3, "does not follow");
        assert_step(job, JOB_PHASE_POSTCOPY);
        assert_step_refused(job, JOB_PHASE_PREPARE, "going backwards");
        assert_step(job, JOB_PHASE_FINISH3);
        assert_step_refused(job, JOB_PHASE_FINISH2, "cannot follow");
        assert_step_refused(job, JOB_PHASE_POSTCOPY, "going backwards");
        migration_job_end(f->d, JOB_RESULT_FAILED, "test");
        g_assert_null(f->d->job);
}

/* QEMU's MIGRATION events that end or switch the stream reach the
 * direction through ops->stream_ended; the others do not. */
static void test_stream_events(Fixture *f, gconstpointer data) {
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);

        assert_step(job, JOB_PHASE_PERFORM3);
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"active\"}");
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"postcopy-active\"}");
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"completed\"}");
        fake_monitor_flush(f->fm);
        g_assert_cmpuint(calls->len, ==, 2);
        g_assert_cmpstr(calls->pdata[0], ==, "stream_ended postcopy-active");
        g_assert_cmpstr(calls->pdata[1], ==, "stream_ended completed");
        migration_job_end(f->d, JOB_RESULT_FAILED, "test");
}

/* A failed stream nobody drives any more: the failure rule resumes the
 * guest through ops->resume and ends the job. */
static void test_abandon_resumes(Fixture *f, gconstpointer data) {
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);

        assert_step(job, JOB_PHASE_PERFORM3);
        job->stream_failed = TRUE;
        migration_job_abandon(f->d, "test");
        g_assert_null(f->d->job);
        g_assert_cmpuint(calls->len, ==, 1);
        g_assert_cmpstr(calls->pdata[0], ==, "resume");
        g_assert_cmpstr(f->d->last_job_type, ==, "failed");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/migration-job/start-refused", Fixture, NULL, fixture_set_up, test_start_refused,
                   fixture_tear_down);
        g_test_add("/migration-job/source-gate", Fixture, NULL, fixture_set_up, test_source_gate,
                   fixture_tear_down);
        g_test_add("/migration-job/destination-gate", Fixture, NULL, fixture_set_up, test_destination_gate,
                   fixture_tear_down);
        g_test_add("/migration-job/stream-events", Fixture, NULL, fixture_set_up, test_stream_events,
                   fixture_tear_down);
        g_test_add("/migration-job/abandon-resumes", Fixture, NULL, fixture_set_up, test_abandon_resumes,
                   fixture_tear_down);
        return g_test_run();
}
