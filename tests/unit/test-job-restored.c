/* A job recovery restored, and what ends it: the client's next call
 * (Confirm3, Finish3) or the client-gone rule (docs/recovery.md). See
 * test-job-recovery.c. */
#include "job-fixture.h"
#include "md-error.h"
#include "migration.h"
#include "migration-jobs.h"

#define OWNER ":1.42"

void job_restored_add_tests(void);

typedef struct {
        gboolean done;
        GError *error;
        char *uuid;
} Reply;

static gboolean reply_done(gpointer data) {
        return ((Reply *) data)->done;
}

static void assert_state(Domain *d, DomainState state, const char *reason) {
        g_assert_nonnull(d);
        g_assert_cmpstr(domain_state_to_string(d->state), ==, domain_state_to_string(state));
        g_assert_cmpstr(d->state_reason, ==, reason);
}

static void on_confirmed(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        migration_confirm_finish(result, &r->error);
        r->done = TRUE;
}

static void confirm(JobFixture *f, Domain *d, gboolean cancelled, Reply *reply) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = job_fixture_peer_cookie(f, "finish3", JF_NAME, JF_UUID);
        MigrationParams *params = migration_params_new_plain(NULL, NULL, NULL, 0, MIGRATE_LIVE, &error);

        g_assert_no_error(error);
        migration_confirm_async(d, params, cancelled ? NULL : cookie, cancelled, on_confirmed, reply);
}

static Domain *restart_in_perform3_done(JobFixture *f, gboolean postcopy) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3_done", .state = "paused",
                             .reason = postcopy ? "postcopy" : "migration", .postcopy = postcopy,
                             .postcopy_requested = postcopy, .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "postmigrate", "completed");
        d = job_fixture_restart(f);
        g_assert_nonnull(d->job);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_PERFORM3_DONE);
        return d;
}

/* Confirm3 success on the restored job: the source QEMU is stopped,
 * StateReason migrated; the job completes. */
static void test_perform3_done_confirm(JobFixture *f, gconstpointer data) {
        Domain *d = restart_in_perform3_done(f, FALSE);
        Reply confirmed = { 0 };
        gboolean success = FALSE;

        confirm(f, d, FALSE, &confirmed);
        job_fixture_run_until(reply_done, &confirmed);
        g_assert_no_error(confirmed.error);
        job_fixture_assert_qemu_killed(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_SHUTOFF, "migrated");
        g_assert_null(d->job);
        g_assert_cmpuint(f->completed->len, ==, 1);
        g_assert_true(g_variant_lookup(f->completed->pdata[0], "success", "b", &success));
        g_assert_true(success);
}

/* Confirm3 cancelled on the restored job: the guest resumes here. */
static void test_perform3_done_confirm_cancelled(JobFixture *f, gconstpointer data) {
        Domain *d = restart_in_perform3_done(f, FALSE);
        Reply confirmed = { 0 };

        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        confirm(f, d, TRUE, &confirmed);
        job_fixture_run_until(reply_done, &confirmed);
        fake_monitor_wait(f->fm, 6);
        g_assert_no_error(confirmed.error);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "cont", JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        g_assert_cmpuint(f->completed->len, ==, 1);
}

/* ... post-copy: cancelled leaves it paused, postcopy-failed, no cont. */
static void test_perform3_done_postcopy_cancelled(JobFixture *f, gconstpointer data) {
        Domain *d = restart_in_perform3_done(f, TRUE);
        Reply confirmed = { 0 };

        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        confirm(f, d, TRUE, &confirmed);
        job_fixture_run_until(reply_done, &confirmed);
        fake_monitor_flush(f->fm);
        g_assert_no_error(confirmed.error);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        g_assert_cmpuint(f->completed->len, ==, 1);
}

static void on_aborted(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        g_assert_false(migration_abort_finish(result, &r->error));
        r->done = TRUE;
}

/* AbortJob is refused for a restored post-copy job; nothing is sent. */
static void test_perform3_done_postcopy_abort(JobFixture *f, gconstpointer data) {
        Domain *d = restart_in_perform3_done(f, TRUE);
        Reply aborted = { 0 };

        migration_abort_async(d, 0, on_aborted, &aborted);
        job_fixture_run_until(reply_done, &aborted);
        fake_monitor_flush(f->fm);
        g_assert_error(aborted.error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
        g_clear_error(&aborted.error);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy");
        g_assert_nonnull(d->job);
        g_assert_cmpuint(f->completed->len, ==, 0);
}

/* perform3 with post-copy, restored; its client has gone: the job ends
 * without a resume, the guest stays paused postcopy-failed. */
static void test_perform3_postcopy_client_gone(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "postcopy", .postcopy = TRUE, .postcopy_requested = TRUE,
                             .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "postmigrate", "postcopy-active");
        d = job_fixture_restart(f);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        migration_jobs_client_vanished(f->registry, OWNER);
        fake_monitor_wait(f->fm, 5);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, "the client driving the migration left the bus");
}

static void on_finished(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;
        g_autoptr(GBytes) cookie = NULL;

        r->uuid = migration_finish_finish(result, &cookie, &r->error);
        r->done = TRUE;
}

/* The destination restored in postcopy: Finish3 fails with
 * MigrationFailed, the guest is not killed and stays paused. */
static void test_postcopy_finish3(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "postcopy", .state = "paused",
                             .reason = "postcopy", .postcopy = TRUE, .owner = ":1.7" };
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = job_fixture_peer_cookie(f, "perform3", JF_NAME, JF_UUID);
        Reply finished = { 0 };
        Domain *d;

        job_fixture_given(f, &g, "paused", "postcopy-active");
        d = job_fixture_restart(f);
        migration_finish_async(f->registry, migration_params_new_plain(NULL, JF_NAME, NULL, 0, MIGRATE_LIVE,
                                                                       &error),
                               cookie, FALSE, on_finished, &finished);
        g_assert_no_error(error);
        job_fixture_run_until(reply_done, &finished);
        fake_monitor_flush(f->fm);
        g_assert_error(finished.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_null(finished.uuid);
        g_clear_error(&finished.error);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, "post-copy");
}

/* perform3, QEMU paused with a saved state that disagrees (reason lost:
 * unknown): the migration may have paused it, so it resumes. */
static void test_perform3_reason_unknown(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "running",
                             .reason = "booted", .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "paused", "cancelled");
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "cont", JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        job_fixture_assert_completed(f, FALSE, "The daemon restarted during phase perform3");
}

void job_restored_add_tests(void) {
#define ADD(path, func) g_test_add("/job-recovery/" path, JobFixture, NULL, job_fixture_set_up, func, \
                                   job_fixture_tear_down)
        ADD("out/perform3/reason-unknown", test_perform3_reason_unknown);
        ADD("out/perform3/postcopy-client-gone", test_perform3_postcopy_client_gone);
        ADD("out/perform3_done/confirm3", test_perform3_done_confirm);
        ADD("out/perform3_done/confirm3-cancelled", test_perform3_done_confirm_cancelled);
        ADD("out/perform3_done/postcopy-confirm3-cancelled", test_perform3_done_postcopy_cancelled);
        ADD("out/perform3_done/postcopy-abort-refused", test_perform3_done_postcopy_abort);
        ADD("in/postcopy/finish3", test_postcopy_finish3);
#undef ADD
}
