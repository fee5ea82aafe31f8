/* Perform2 (protocol 2: Begin and Perform in one call) over the fake
 * monitor, when its job ends from outside while the stream runs: the call
 * fails once and the job ends once. */
#include "job-fixture.h"
#include "md-error.h"
#include "migration.h"

#define OWNER ":1.7"
#define URI "tcp:127.0.0.1:49152"
#define SOURCE_XML "<domain type='qemu'><name>" JF_NAME "</name><uuid>" JF_UUID "</uuid>" \
        "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"

static void on_performed2(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;

        g_assert_false(r->done);
        if (!migration_perform2_finish(result, &r->error))
                g_assert_nonnull(r->error);
        r->done = TRUE;
}

/* A running guest in Perform2 of @owner, its stream started. */
static Domain *source_in_perform2(JobFixture *f, JobReply *r) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) prepared = job_fixture_peer_cookie(f, "prepare3", JF_NAME, JF_UUID);
        MigrationParams *params;
        Domain *d = registry_define_xml(f->registry, SOURCE_XML, &error);

        g_assert_no_error(error);
        domain_adopt_process(d, domain_def_copy(d->def), fake_monitor_connect(f->fm), DOMAIN_STATE_RUNNING,
                             "booted");
        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate", NULL);
        params = migration_params_new_plain(NULL, NULL, URI, 0, MIGRATE_LIVE | MIGRATE_UNSAFE, &error);
        g_assert_no_error(error);
        migration_perform2_async(d, params, prepared, OWNER, FALSE, on_performed2, r);
        fake_monitor_wait(f->fm, 6);
        g_assert_nonnull(d->job);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_PERFORM3);
        g_assert_cmpint(d->job->protocol, ==, 2);
        g_clear_handle_id(&d->job->poll_timer, g_source_remove);
        return d;
}

/* The source QEMU exits mid-stream. The job's end answers Perform from
 * inside migration_job_end() (a later iteration than the call's: GTask
 * completes at once); Perform2's failure rule must not end that job a
 * second time. */
static void test_qemu_exits(JobFixture *f, gconstpointer data) {
        JobReply r = { 0 };
        Domain *d = source_in_perform2(f, &r);

        qemu_process_kill(d->qemu, 0);
        job_fixture_run_until(job_reply_done, &r);
        fake_monitor_flush(f->fm);
        g_assert_error(r.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_null(d->job);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_SHUTOFF);
        job_fixture_assert_completed(f, FALSE, "QEMU process exited");
        g_clear_error(&r.error);
}

/* The stream fails while the job is Perform2's own: protocol 2's failure
 * rule ends it at once (the client has no Confirm to call), once. */
static void test_stream_fails(JobFixture *f, gconstpointer data) {
        JobReply r = { 0 };
        Domain *d = source_in_perform2(f, &r);

        fake_monitor_expect(f->fm, "query-migrate", "{\"status\": \"failed\", \"error-desc\": \"link down\"}");
        fake_monitor_expect_reset(f->fm);
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"failed\"}");
        job_fixture_run_until(job_reply_done, &r);
        fake_monitor_flush(f->fm);
        g_assert_error(r.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_null(d->job);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_RUNNING);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "link down");
        g_clear_error(&r.error);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
        g_test_add("/job-perform2/qemu-exits", JobFixture, NULL, job_fixture_set_up, test_qemu_exits,
                   job_fixture_tear_down);
        g_test_add("/job-perform2/stream-fails", JobFixture, NULL, job_fixture_set_up, test_stream_fails,
                   job_fixture_tear_down);
        return g_test_run();
}
