/* Recovery after a daemon restart (docs/recovery.md), rule by rule: given
 * the status record a daemon left (the job's phase, its post-copy evidence)
 * and what QEMU answers, the monitor commands sent and the final state.
 * The daemon's start is the real one (recovery_load over a state directory
 * on disk, the QEMU's monitor socket where the daemon reconnects), the
 * QEMU a fake monitor in front of a stand-in process. */
#include <string.h>

#include "job-fixture.h"
#include "migration-jobs.h"

#define OWNER ":1.42"

static void assert_state(Domain *d, DomainState state, const char *reason) {
        g_assert_nonnull(d);
        g_assert_cmpstr(domain_state_to_string(d->state), ==, domain_state_to_string(state));
        g_assert_cmpstr(d->state_reason, ==, reason);
}

/* A restored job waiting for its client, with the deadline armed. */
static void assert_restored(Domain *d, JobPhase phase, gboolean postcopy) {
        g_assert_nonnull(d->job);
        g_assert_cmpstr(job_phase_to_string(d->job->phase), ==, job_phase_to_string(phase));
        g_assert_true(d->job->restored);
        g_assert_cmpint(d->job->postcopy, ==, postcopy);
        g_assert_cmpuint(d->job->phase_timer, !=, 0);
        g_assert_null(d->job->end_when_heard);
}

/* ---- Source (migration-out) ---- */

static void test_begin3(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "begin3", .state = "running", .reason = "booted",
                             .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "running", "none");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "booted");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, "The daemon restarted during phase begin3");
}

/* perform3 without post-copy: the stream is cancelled, a guest the
 * migration paused resumes, the job ends. */
static void test_perform3_cancel(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "paused", "active");
        fake_monitor_expect(f->fm, "migrate_cancel", NULL);
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "migrate_cancel", "cont", JF_RESET,
                                     NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, "The daemon restarted during phase perform3; the stream was "
                                               "cancelled");
}

/* ... with TLS: the job's QEMU still has the TLS object a killed daemon
 * left; the reset deletes it by its fixed id (the journal has no id). */
static void test_perform3_tls_object(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "migration", .flags = MIGRATE_LIVE | MIGRATE_TLS, .owner = OWNER,
                             .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "paused", "active");
        fake_monitor_expect(f->fm, "migrate_cancel", NULL);
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "object-del", NULL);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "migrate_cancel", "cont", JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_nonnull(strstr(fake_monitor_received_args(f->fm, 6), "\"tls-creds\":\"\",\"tls-hostname\":\"\"}"));
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 7), ==, "{\"id\":\"md-migration-tls\"}");
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "The daemon restarted during phase perform3; the stream was "
                                               "cancelled");
}

/* ... a guest the user had paused before stays paused. */
static void test_perform3_paused_before(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused", .reason = "user",
                             .paused_before = TRUE, .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "paused", "active");
        fake_monitor_expect(f->fm, "migrate_cancel", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "migrate_cancel", JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "user");
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "The daemon restarted during phase perform3");
}

/* ... a stream that had ended is not cancelled; the guest resumes. */
static void test_perform3_stream_ended(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "postmigrate", "failed");
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

/* ... query-migrate fails: the journal decides (no post-copy: cancel). */
static void test_perform3_query_fails(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "paused", NULL);
        fake_monitor_expect(f->fm, "migrate_cancel", NULL);
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        job_fixture_assert_warned("query-migrate failed while recovering*going by the journal");
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "migrate_cancel", "cont", JF_RESET,
                                     NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        job_fixture_assert_completed(f, FALSE, "the stream was cancelled");
}

/* perform3 with post-copy, whichever evidence says so: no cancel, no cont,
 * paused postcopy-failed, the job restored with the stream failed. */
static void check_perform3_postcopy(JobFixture *f, const JobGiven *g, const char *migrate_status) {
        Domain *d;

        job_fixture_given(f, g, "postmigrate", migrate_status);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        assert_restored(d, JOB_PHASE_PERFORM3, TRUE);
        g_assert_true(d->job->stream_failed);
        g_assert_true(job_fixture_qemu_alive(f));
        g_assert_cmpuint(f->completed->len, ==, 0);
}

static void test_perform3_postcopy_journal(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "postcopy", .postcopy = TRUE, .postcopy_requested = TRUE,
                             .owner = OWNER, .persistent = TRUE };

        check_perform3_postcopy(f, &g, "postcopy-active");
}

static void test_perform3_postcopy_requested(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "migration", .postcopy_requested = TRUE, .owner = OWNER,
                             .persistent = TRUE };

        check_perform3_postcopy(f, &g, "active");
}

/* The daemon died between QEMU's switch and its journal: QEMU tells. */
static void test_perform3_postcopy_qemu(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };

        check_perform3_postcopy(f, &g, "postcopy-active");
}

/* query-migrate fails, the journal says post-copy: still no cancel. */
static void test_perform3_postcopy_query_fails(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "paused",
                             .reason = "postcopy", .postcopy = TRUE, .postcopy_requested = TRUE,
                             .owner = OWNER, .persistent = TRUE };

        check_perform3_postcopy(f, &g, NULL);
        job_fixture_assert_warned("query-migrate failed while recovering*going by the journal");
}

/* perform3_done (protocol 3, or peer-to-peer protocol 2): restored, waits
 * for Confirm3; nothing sent to QEMU, the guest stays paused. */
static Domain *check_perform3_done_restored(JobFixture *f, const JobGiven *g, const char *migrate_status,
                                            gboolean postcopy) {
        Domain *d;

        job_fixture_given(f, g, "postmigrate", migrate_status);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_PAUSED);
        assert_restored(d, JOB_PHASE_PERFORM3_DONE, postcopy);
        g_assert_true(job_fixture_qemu_alive(f));
        g_assert_cmpuint(f->completed->len, ==, 0);
        return d;
}

static void test_perform3_done(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3_done", .state = "paused",
                             .reason = "migration", .protocol = 3, .owner = OWNER, .persistent = TRUE,
                             .progress = 98.5 };
        Domain *d = check_perform3_done_restored(f, &g, "completed", FALSE);

        assert_state(d, DOMAIN_STATE_PAUSED, "migration");
        /* JobProgress goes on from the journal's figure, not from 0. */
        g_assert_cmpfloat(migration_job_progress(d), ==, 98.5);
        g_assert_cmpstr(d->job->owner, ==, OWNER);
        /* Is its client still on the bus? */
        g_assert_cmpuint(f->watched->len, ==, 1);
        g_assert_cmpstr(f->watched->pdata[0], ==, OWNER);
}

/* ... its deadline ends it: outcome unknown, the guest stays paused. */
static void test_perform3_done_deadline(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3_done", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };
        Domain *d = check_perform3_done_restored(f, &g, "completed", FALSE);

        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        job_fixture_expire_deadline(d->job);
        fake_monitor_wait(f->fm, 5);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "migration");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, "Migration outcome unknown");
}

/* ... its client has gone: the same, at once. */
static void test_perform3_done_client_gone(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3_done", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };
        Domain *d = check_perform3_done_restored(f, &g, "completed", FALSE);

        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        migration_jobs_client_vanished(f->registry, OWNER);
        fake_monitor_wait(f->fm, 5);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "migration");
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "Migration outcome unknown");
}

static void test_perform3_done_postcopy(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3_done", .state = "paused",
                             .reason = "postcopy", .postcopy = TRUE, .postcopy_requested = TRUE,
                             .owner = OWNER, .persistent = TRUE };

        check_perform3_done_restored(f, &g, "completed", TRUE);
}

/* Peer-to-peer protocol 2 (no owner): as protocol 3, unattended. */
static void test_perform3_done_p2p_v2(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3_done", .state = "paused",
                             .reason = "migration", .protocol = 2, .persistent = TRUE };
        Domain *d = check_perform3_done_restored(f, &g, "completed", FALSE);

        g_assert_true(d->job->unattended);
        g_assert_null(d->job->owner);
}

/* Managed protocol 2: libvirt's PERFORM2 (cancel, cont), the job ends. */
static void check_managed_v2(JobFixture *f, const char *phase) {
        const JobGiven g = { .type = "migration-out", .phase = phase, .state = "paused", .reason = "migration",
                             .protocol = 2, .owner = OWNER, .persistent = TRUE };
        g_autofree char *errmsg = g_strdup_printf("The daemon restarted during phase %s", phase);
        Domain *d;

        job_fixture_given(f, &g, "paused", "active");
        fake_monitor_expect(f->fm, "migrate_cancel", NULL);
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "migrate_cancel", "cont", JF_RESET,
                                     NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, errmsg);
}

static void test_managed_v2_perform3(JobFixture *f, gconstpointer data) {
        check_managed_v2(f, "perform3");
}

static void test_managed_v2_perform3_done(JobFixture *f, gconstpointer data) {
        check_managed_v2(f, "perform3_done");
}

static void test_managed_v2_confirm3(JobFixture *f, gconstpointer data) {
        check_managed_v2(f, "confirm3");
}

/* confirm3: Confirm3 of a success had begun; finish its work. */
static void test_confirm3(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "confirm3", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "postmigrate", "completed");
        d = job_fixture_restart(f);
        job_fixture_assert_qemu_killed(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_true(d == registry_lookup_by_uuid(f->registry, JF_UUID, NULL));
        assert_state(d, DOMAIN_STATE_SHUTOFF, "migrated");
        g_assert_null(d->job);
}

static void test_confirm3_undefine(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "confirm3", .state = "paused",
                             .reason = "migration", .flags = MIGRATE_UNDEFINE_SOURCE, .owner = OWNER,
                             .persistent = TRUE };
        g_autofree char *def = g_build_filename(f->state_dir, "domains", JF_NAME ".xml", NULL);

        job_fixture_given(f, &g, "postmigrate", "completed");
        job_fixture_restart(f);
        job_fixture_assert_qemu_killed(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_null(registry_lookup_by_uuid(f->registry, JF_UUID, NULL));
        g_assert_false(g_file_test(def, G_FILE_TEST_EXISTS));
}

static void test_confirm3_cancelled(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "confirm3_cancelled", .state = "paused",
                             .reason = "migration", .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "postmigrate", "completed");
        fake_monitor_expect_reset(f->fm);
        fake_monitor_expect(f->fm, "cont", NULL);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, "cont", NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
}

static void test_confirm3_cancelled_paused_before(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "confirm3_cancelled", .state = "paused",
                             .reason = "user", .paused_before = TRUE, .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "paused", "cancelled");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "user");
        g_assert_null(d->job);
}

static void test_confirm3_cancelled_postcopy(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "confirm3_cancelled", .state = "paused",
                             .reason = "postcopy", .postcopy = TRUE, .postcopy_requested = TRUE,
                             .owner = OWNER, .persistent = TRUE };
        Domain *d;

        job_fixture_given(f, &g, "postmigrate", "postcopy-active");
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
}

void job_recovery_in_add_tests(void);
void job_restored_add_tests(void);
void job_recovery_storage_add_tests(void);

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
#define ADD(path, func) g_test_add("/job-recovery/out/" path, JobFixture, NULL, job_fixture_set_up, func, \
                                   job_fixture_tear_down)
        ADD("begin3", test_begin3);
        ADD("perform3/cancel-cont", test_perform3_cancel);
        ADD("perform3/tls-object", test_perform3_tls_object);
        ADD("perform3/paused-before", test_perform3_paused_before);
        ADD("perform3/stream-ended", test_perform3_stream_ended);
        ADD("perform3/query-migrate-fails", test_perform3_query_fails);
        ADD("perform3/postcopy-journal", test_perform3_postcopy_journal);
        ADD("perform3/postcopy-requested", test_perform3_postcopy_requested);
        ADD("perform3/postcopy-qemu", test_perform3_postcopy_qemu);
        ADD("perform3/postcopy-query-migrate-fails", test_perform3_postcopy_query_fails);
        ADD("perform3_done/restored", test_perform3_done);
        ADD("perform3_done/deadline", test_perform3_done_deadline);
        ADD("perform3_done/client-gone", test_perform3_done_client_gone);
        ADD("perform3_done/postcopy", test_perform3_done_postcopy);
        ADD("perform3_done/p2p-v2", test_perform3_done_p2p_v2);
        ADD("managed-v2/perform3", test_managed_v2_perform3);
        ADD("managed-v2/perform3_done", test_managed_v2_perform3_done);
        ADD("managed-v2/confirm3", test_managed_v2_confirm3);
        ADD("confirm3/kill", test_confirm3);
        ADD("confirm3/undefine", test_confirm3_undefine);
        ADD("confirm3_cancelled/cont", test_confirm3_cancelled);
        ADD("confirm3_cancelled/paused-before", test_confirm3_cancelled_paused_before);
        ADD("confirm3_cancelled/postcopy", test_confirm3_cancelled_postcopy);
#undef ADD
        job_recovery_in_add_tests();
        job_restored_add_tests();
        job_recovery_storage_add_tests();
        return g_test_run();
}
