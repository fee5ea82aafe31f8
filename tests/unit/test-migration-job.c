/* The migration job over a fake monitor: the transition table is the one
 * gate of migration_job_set_phase (a refused step leaves the job as it
 * was), and the job reaches its direction only through the operations the
 * side that started it set (MigrationJobOps). JobProgress over QEMU's
 * replies: what every change notification (PropertiesChanged) carries. */
#include <string.h>
#include <glib/gstdio.h>

#include "fake-monitor.h"
#include "md-config.h"
#include "md-error.h"
#include "migration-job.h"
#include "qemu-process.h"
#include "registry.h"
#include "test-util.h"

typedef struct {
        char *dir;
        MdConfig *config;
        Registry *registry;
        FakeMonitor *fm;
        Domain *d;
        GArray *progress;       /* double: JobProgress at every change notified */
        GPtrArray *completed;   /* GVariant a{sv}: every JobCompleted */
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

/* As the bus layer: a change notified is read through the property's getter. */
static void on_domain_changed(Domain *d, const char *const *properties, gpointer user_data) {
        Fixture *f = user_data;

        if (g_strv_contains(properties, "JobProgress")) {
                double percent = migration_job_progress(d);

                g_array_append_val(f->progress, percent);
        }
}

static void on_job_completed(Domain *d, GVariant *stats, gpointer user_data) {
        Fixture *f = user_data;

        g_ptr_array_add(f->completed, g_variant_ref(stats));
}

static const RegistryListener listener = {
        .domain_changed = on_domain_changed,
        .job_completed = on_job_completed,
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
        f->progress = g_array_new(FALSE, FALSE, sizeof(double));
        f->completed = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        registry_set_listener(f->registry, &listener, f);
}

static void fixture_tear_down(Fixture *f, gconstpointer data) {
        g_clear_pointer(&f->registry, registry_free);
        g_clear_pointer(&f->fm, fake_monitor_free);
        md_config_free(f->config);
        test_remove_tree(f->dir);
        g_free(f->dir);
        g_clear_pointer(&calls, g_ptr_array_unref);
        g_array_unref(f->progress);
        g_ptr_array_unref(f->completed);
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

/* [migration] max_jobs counts every job of the host, outgoing and incoming:
 * the next one is refused with JobActive naming the setting, and leaves no
 * job behind. */
static void test_max_jobs(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        Domain *other;

        f->config->max_jobs = 1;
        other = registry_define_xml(f->registry,
                                    "<domain type='qemu'><name>second</name><memory unit='MiB'>64</memory>"
                                    "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>", &error);
        g_assert_no_error(error);
        start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);
        g_assert_null(migration_job_start(other, JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE, &test_ops,
                                          g_new0(MigrationParams, 1), NULL, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_JOB_ACTIVE);
        if (!strstr(error->message, "[migration] max_jobs=1"))
                g_error("'%s' does not name [migration] max_jobs", error->message);
        g_assert_null(other->job);
        migration_job_end(f->d, JOB_RESULT_FAILED, "test");
        g_clear_error(&error);
        /* Once the first has ended, the slot is free again. */
        g_assert_nonnull(migration_job_start(other, JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE, &test_ops,
                                             g_new0(MigrationParams, 1), NULL, &error));
        g_assert_no_error(error);
        migration_job_end(other, JOB_RESULT_FAILED, "test");
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

/* ---- JobProgress ---- */

typedef struct {
        gboolean done;
        QemuMigrationInfo *info;
} Query;

static void on_queried(GObject *source, GAsyncResult *result, gpointer user_data) {
        Query *q = user_data;
        g_autoptr(GError) error = NULL;

        q->info = qemu_monitor_query_migrate_finish(result, &error);
        g_assert_no_error(error);
        q->done = TRUE;
}

/* One poll of the job's statistics, QEMU answering @reply. */
static void poll_stats(Fixture *f, const char *reply) {
        Query q = { 0 };

        fake_monitor_expect(f->fm, "query-migrate", reply);
        qemu_monitor_query_migrate_async(qemu_process_get_qmp(f->d->qemu), on_queried, &q);
        while (!q.done)
                g_main_context_iteration(NULL, TRUE);
        migration_job_update_stats(f->d->job, q.info);
        qemu_migration_info_free(q.info);
}

static char *active_reply(const char *status, guint64 pass, guint64 transferred, guint64 remaining,
                          guint64 dirty_pages) {
        return g_strdup_printf("{\"status\": \"%s\", \"ram\": {\"total\": 2147483648, \"transferred\": %"
                               G_GUINT64_FORMAT ", \"remaining\": %" G_GUINT64_FORMAT ", \"dirty-sync-count\": %"
                               G_GUINT64_FORMAT ", \"dirty-pages-rate\": %" G_GUINT64_FORMAT
                               ", \"page-size\": 4096}}", status, transferred, remaining, pass, dirty_pages);
}

/* The notified values never go down while the job runs, and stay below 100. */
static void assert_progress_monotonic(Fixture *f) {
        for (guint i = 1; i < f->progress->len; i++)
                g_assert_cmpfloat(g_array_index(f->progress, double, i), >=,
                                  g_array_index(f->progress, double, i - 1));
        for (guint i = 0; i < f->progress->len; i++)
                g_assert_cmpfloat(g_array_index(f->progress, double, i), <, 100);
}

static double last_notified(Fixture *f) {
        g_assert_cmpuint(f->progress->len, >, 0);
        return g_array_index(f->progress, double, f->progress->len - 1);
}

/* A 2 GiB guest, 200 MiB of it used: the first pass (zero pages race by),
 * a second pass whose dirtying gives no estimate yet (no rate: the polls
 * come faster than a rate can be measured), the switch-over, QEMU's
 * "completed", then the job's success: 100, and it stays 100 after the job
 * (property and JobCompleted) until the next job starts from 0. */
static void test_progress_success(Fixture *f, gconstpointer data) {
        const guint64 mib = 1024 * 1024;
        const struct {
                const char *status;
                guint64 pass, transferred, remaining, dirty_pages;
        } replies[] = {
                { "active", 1, 50 * mib, 2048 * mib - 50 * mib, 0 },
                { "active", 1, 150 * mib, 2048 * mib - 150 * mib, 0 },
                { "active", 1, 201 * mib, 0, 0 },
                { "active", 2, 230 * mib, 40 * mib, 2560 },
                { "active", 2, 240 * mib, 30 * mib, 2560 },
                { "device", 3, 270 * mib, 1 * mib, 0 },
                { "completed", 3, 271 * mib, 0, 0 },
        };
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);
        double percent = 0, progress;

        g_assert_cmpfloat(last_notified(f), ==, 0);
        assert_step(job, JOB_PHASE_PERFORM3);
        poll_stats(f, "{\"status\": \"setup\"}");
        g_assert_cmpfloat(migration_job_progress(f->d), ==, 0);
        for (guint i = 0; i < G_N_ELEMENTS(replies); i++) {
                g_autofree char *reply = active_reply(replies[i].status, replies[i].pass, replies[i].transferred,
                                                      replies[i].remaining, replies[i].dirty_pages);

                poll_stats(f, reply);
                g_assert_cmpfloat(migration_job_progress(f->d), >=, percent);
                percent = migration_job_progress(f->d);
                /* The stats carry the same figure. */
                g_assert_true(g_variant_lookup(job->stats, "progress", "d", &progress));
                g_assert_cmpfloat(progress, ==, percent);
                g_test_message("%s pass %" G_GUINT64_FORMAT ": %.1f %%", replies[i].status, replies[i].pass,
                               percent);
                if (i == 1)
                        g_assert_cmpfloat(percent, <, 10);      /* 150 of ~270 MiB, not 7 % of 2 GiB */
                if (i == 2)
                        g_assert_cmpfloat(percent, <=, 80);     /* the dirty rate not measured yet */
        }
        g_assert_cmpfloat(percent, ==, 99);
        assert_progress_monotonic(f);
        g_assert_cmpfloat(last_notified(f), ==, 99);
        assert_step(job, JOB_PHASE_PERFORM3_DONE);
        assert_step(job, JOB_PHASE_CONFIRM3);
        migration_job_end(f->d, JOB_RESULT_COMPLETED, NULL);
        g_assert_null(f->d->job);
        g_assert_cmpfloat(last_notified(f), ==, 100);
        g_assert_cmpfloat(migration_job_progress(f->d), ==, 100);
        g_assert_cmpuint(f->completed->len, ==, 1);
        g_assert_true(g_variant_lookup(f->completed->pdata[0], "progress", "d", &progress));
        g_assert_cmpfloat(progress, ==, 100);
        fake_monitor_assert_done(f->fm);

        /* The next job starts from 0, and says so. */
        job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);
        g_assert_cmpfloat(last_notified(f), ==, 0);
        g_assert_cmpfloat(migration_job_progress(f->d), ==, 0);
        migration_job_end(f->d, JOB_RESULT_CANCELLED, "test");
}

/* A failed stream: the figure stays where the job got to, in the property
 * and in JobCompleted. */
static void test_progress_failure(Fixture *f, gconstpointer data) {
        const guint64 mib = 1024 * 1024;
        g_autofree char *reply = active_reply("active", 1, 100 * mib, 100 * mib, 0);
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);
        double reached, progress;

        assert_step(job, JOB_PHASE_PERFORM3);
        poll_stats(f, reply);
        reached = migration_job_progress(f->d);
        g_assert_cmpfloat_with_epsilon(reached, 40, 1e-9);      /* 80 % of 100 / (100 + 100) */
        poll_stats(f, "{\"status\": \"failed\", \"error-desc\": \"link down\"}");
        g_assert_cmpfloat(migration_job_progress(f->d), ==, reached);
        migration_job_end(f->d, JOB_RESULT_FAILED, "link down");
        g_assert_cmpfloat(migration_job_progress(f->d), ==, reached);
        g_assert_cmpfloat(last_notified(f), ==, reached);
        g_assert_true(g_variant_lookup(f->completed->pdata[0], "progress", "d", &progress));
        g_assert_cmpfloat(progress, ==, reached);
        assert_progress_monotonic(f);
        fake_monitor_assert_done(f->fm);
}

/* Storage migration: the disks' copy moves the figure (and notifies it)
 * before the memory stream, which takes over from there. */
static void test_progress_disks(Fixture *f, gconstpointer data) {
        const guint64 gib = 1024 * 1024 * 1024;
        g_autofree char *reply = active_reply("active", 2, 2 * gib, 64 * 1024 * 1024, 0);
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);
        guint64 remaining;

        assert_step(job, JOB_PHASE_PERFORM3);
        migration_job_set_disk_stats(job, 8 * gib, 4 * gib);
        /* 4 of 8 GiB of disks and 2 GiB of RAM (the definition's) ahead. */
        g_assert_cmpfloat_with_epsilon(migration_job_progress(f->d), 40, 1e-9);
        g_assert_cmpfloat(last_notified(f), ==, migration_job_progress(f->d));
        migration_job_set_disk_stats(job, 8 * gib, 8 * gib);
        g_assert_cmpfloat_with_epsilon(migration_job_progress(f->d), 80, 1e-9);
        poll_stats(f, reply);
        g_assert_cmpfloat(migration_job_progress(f->d), >, 99 - 1);
        /* data_remaining: memory and disks. */
        g_assert_true(g_variant_lookup(job->stats, "data_remaining", "t", &remaining));
        g_assert_cmpuint(remaining, ==, 64 * 1024 * 1024);
        assert_progress_monotonic(f);
        migration_job_end(f->d, JOB_RESULT_COMPLETED, NULL);
        g_assert_cmpfloat(last_notified(f), ==, 100);
        fake_monitor_assert_done(f->fm);
}

/* Confirm3 takes the downtime the destination measured from Finish3's
 * cookie; a peer's value of another type changes nothing. */
static void test_destination_downtime(Fixture *f, gconstpointer data) {
        MigrationJob *job = start(f, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3);
        g_autoptr(GVariant) wrong = g_variant_ref_sink(g_variant_new_parsed("{'downtime': <'48'>}"));
        g_autoptr(GVariant) right = g_variant_ref_sink(g_variant_new_parsed("{'downtime': <uint64 48>}"));
        guint64 downtime;

        migration_job_take_downtime(job, NULL);
        migration_job_take_downtime(job, wrong);
        g_assert_false(job->stats && g_variant_lookup(job->stats, "downtime", "t", &downtime));
        migration_job_take_downtime(job, right);
        g_assert_true(g_variant_lookup(job->stats, "downtime", "t", &downtime));
        g_assert_cmpuint(downtime, ==, 48);
        migration_job_end(f->d, JOB_RESULT_COMPLETED, NULL);
        g_assert_true(g_variant_lookup(f->d->last_job_stats, "downtime", "t", &downtime));
        g_assert_cmpuint(downtime, ==, 48);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/migration-job/start-refused", Fixture, NULL, fixture_set_up, test_start_refused,
                   fixture_tear_down);
        g_test_add("/migration-job/source-gate", Fixture, NULL, fixture_set_up, test_source_gate,
                   fixture_tear_down);
        g_test_add("/migration-job/destination-gate", Fixture, NULL, fixture_set_up, test_destination_gate,
                   fixture_tear_down);
        g_test_add("/migration-job/max-jobs", Fixture, NULL, fixture_set_up, test_max_jobs, fixture_tear_down);
        g_test_add("/migration-job/stream-events", Fixture, NULL, fixture_set_up, test_stream_events,
                   fixture_tear_down);
        g_test_add("/migration-job/abandon-resumes", Fixture, NULL, fixture_set_up, test_abandon_resumes,
                   fixture_tear_down);
        g_test_add("/migration-job/progress/success", Fixture, NULL, fixture_set_up, test_progress_success,
                   fixture_tear_down);
        g_test_add("/migration-job/progress/failure", Fixture, NULL, fixture_set_up, test_progress_failure,
                   fixture_tear_down);
        g_test_add("/migration-job/destination-downtime", Fixture, NULL, fixture_set_up,
                   test_destination_downtime, fixture_tear_down);
        g_test_add("/migration-job/progress/disks", Fixture, NULL, fixture_set_up, test_progress_disks,
                   fixture_tear_down);
        return g_test_run();
}
