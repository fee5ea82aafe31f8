/* An incoming job ended while its QEMU is still starting (no QMP greeting
 * yet): AbortJob (AbortIncoming), the driving client leaving. The starting
 * QEMU goes at once, not when its monitor would have come up, and the
 * pending Prepare fails with the job's reason. Over the fake monitor, whose
 * greeting is held back. */
#include <string.h>

#include "job-fixture.h"
#include "md-error.h"
#include "migration.h"
#include "migration-jobs.h"

#define OWNER ":1.5"
#define URI "tcp:127.0.0.1:49152"
#define INCOMING_NAME "incoming"
#define INCOMING_UUID "0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b"
#define INCOMING_XML "<domain type='qemu'><name>" INCOMING_NAME "</name>" \
        "<uuid>" INCOMING_UUID "</uuid><memory unit='KiB'>131072</memory>" \
        "<os><type>hvm</type></os></domain>"

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;
        g_autoptr(GBytes) bytes = NULL;
        g_autofree char *uri = NULL;

        g_assert_false(migration_prepare_finish(result, &bytes, &uri, &r->error));
        r->done = TRUE;
}

static void on_aborted(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;

        g_assert_true(migration_abort_finish(result, &r->error));
        r->done = TRUE;
}

static gboolean launched(gpointer data) {
        FakeMonitor *fm = data;

        return fake_monitor_is_connected(fm);
}

/* Prepare3 of OWNER, its QEMU launched but its monitor silent: the job is
 * in prepare, the domain starting. */
static Domain *destination_starting(JobFixture *f, JobReply *prepared) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) begin = job_fixture_peer_cookie(f, "begin3", INCOMING_NAME, INCOMING_UUID);
        Domain *d;

        fake_monitor_serve_launches(f->fm);
        fake_monitor_hold_greeting(f->fm);
        migration_prepare_async(f->registry, migration_params_new_plain(INCOMING_XML, NULL, URI, 0, MIGRATE_LIVE,
                                                                        &error),
                                begin, OWNER, on_prepared, prepared);
        g_assert_no_error(error);
        job_fixture_run_until(launched, f->fm);
        fake_monitor_flush(f->fm);
        d = registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL);
        g_assert_nonnull(d);
        g_assert_true(d->starting);
        g_assert_null(d->qemu);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_PREPARE);
        g_assert_false(prepared->done);
        return d;
}

static gboolean monitor_closed(gpointer data) {
        return !fake_monitor_is_connected(data);
}

static gboolean incoming_gone(gpointer data) {
        JobFixture *f = data;

        return registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL) == NULL;
}

/* The job has ended: the starting QEMU is killed without its monitor ever
 * greeting, Prepare fails with @code saying @why, no command was sent. */
static void assert_killed_while_starting(JobFixture *f, JobReply *prepared, gint code, const char *why) {
        job_fixture_run_until(monitor_closed, f->fm);
        job_fixture_run_until(job_reply_done, prepared);
        g_assert_error(prepared->error, MD_ERROR, code);
        g_assert_nonnull(strstr(prepared->error->message, "The incoming migration of '" INCOMING_NAME
                                                          "' ended during Prepare"));
        if (!strstr(prepared->error->message, why))
                g_error("Prepare's error \"%s\" does not say \"%s\"", prepared->error->message, why);
        fake_monitor_assert_received(f->fm, NULL);
        fake_monitor_assert_done(f->fm);
        g_clear_error(&prepared->error);
}

/* AbortJob (as AbortIncoming does) while QEMU starts. */
static void test_abort(JobFixture *f, gconstpointer data) {
        JobReply prepared = { 0 }, aborted = { 0 };
        Domain *d = destination_starting(f, &prepared);

        migration_abort_async(d, 0, on_aborted, &aborted);
        job_fixture_run_until(job_reply_done, &aborted);
        g_assert_no_error(aborted.error);
        job_fixture_assert_completed(f, FALSE, "The incoming migration was aborted");
        assert_killed_while_starting(f, &prepared, MD_ERROR_MIGRATION_ABORTED, "was aborted");
        job_fixture_run_until(incoming_gone, f);
}

/* The driving client (for peer-to-peer: the bridge's link) leaves the bus. */
static void test_client_gone(JobFixture *f, gconstpointer data) {
        JobReply prepared = { 0 };

        destination_starting(f, &prepared);
        migration_jobs_client_vanished(f->registry, OWNER);
        job_fixture_assert_completed(f, FALSE, "left the bus");
        assert_killed_while_starting(f, &prepared, MD_ERROR_MIGRATION_ABORTED, "left the bus");
        job_fixture_run_until(incoming_gone, f);
}

/* A guest defined here migrates in: it stays defined, shut off, its
 * StateReason the abort's as if its QEMU had exited. */
static void test_abort_defined(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        JobReply prepared = { 0 }, aborted = { 0 };
        Domain *defined = registry_define_xml(f->registry, INCOMING_XML, &error);
        Domain *d;

        g_assert_no_error(error);
        d = destination_starting(f, &prepared);
        g_assert_true(d == defined);
        migration_abort_async(d, 0, on_aborted, &aborted);
        job_fixture_run_until(job_reply_done, &aborted);
        g_assert_no_error(aborted.error);
        assert_killed_while_starting(f, &prepared, MD_ERROR_MIGRATION_ABORTED, "was aborted");
        g_assert_true(registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL) == d);
        g_assert_false(domain_is_active(d));
        g_assert_false(d->starting);
        g_assert_null(d->job);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_SHUTOFF);
        g_assert_cmpstr(d->state_reason, ==, "migration-canceled");
}

static void on_finished(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;
        g_autoptr(GBytes) bytes = NULL;

        g_assert_null(migration_finish_finish(result, &bytes, &r->error));
        r->done = TRUE;
}

/* Finish3 with the cancelled flag (a client that gave up waiting for
 * Prepare3 cleans up, as libvirt's Finish3 after a failed Perform3). */
static void test_finish_cancelled(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) performed = job_fixture_peer_cookie(f, "perform3", INCOMING_NAME, INCOMING_UUID);
        JobReply prepared = { 0 }, finished = { 0 };

        destination_starting(f, &prepared);
        migration_finish_async(f->registry, migration_params_new_plain(NULL, INCOMING_NAME, NULL, 0, MIGRATE_LIVE,
                                                                       &error),
                               performed, TRUE, on_finished, &finished);
        g_assert_no_error(error);
        job_fixture_run_until(job_reply_done, &finished);
        g_assert_no_error(finished.error);
        job_fixture_assert_completed(f, FALSE, "The source cancelled the migration");
        assert_killed_while_starting(f, &prepared, MD_ERROR_MIGRATION_ABORTED, "cancelled the migration");
        job_fixture_run_until(incoming_gone, f);
}

/* The daemon stops while QEMU starts: the launch is ended before the
 * registry goes (a restart would not find a QEMU whose monitor never
 * greeted). A running guest is not touched (restart/sigterm-guest-survives). */
static void test_daemon_stop(JobFixture *f, gconstpointer data) {
        JobReply prepared = { 0 };

        destination_starting(f, &prepared);
        registry_end_launches(f->registry);
        job_fixture_run_until(monitor_closed, f->fm);
        /* Here the daemon exits; the test lets Prepare fail for a clean tear-down. */
        job_fixture_run_until(job_reply_done, &prepared);
        g_assert_error(prepared.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error(&prepared.error);
        fake_monitor_assert_received(f->fm, NULL);
}

static gboolean no_qemu(gpointer data) {
        return ((Domain *) data)->qemu == NULL;
}

/* The same once QEMU is up, AbortJob while Prepare waits for QEMU's answer
 * to migrate-incoming, which comes before QEMU's exit is seen: the reason
 * stays the abort's, not Prepare's own "failed" (as with a real QEMU, whose
 * monitor's end may be read before its pidfd). */
static void test_abort_defined_after_start(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) begin = job_fixture_peer_cookie(f, "begin3", INCOMING_NAME, INCOMING_UUID);
        JobReply prepared = { 0 }, aborted = { 0 };
        Domain *d = registry_define_xml(f->registry, INCOMING_XML, &error);

        g_assert_no_error(error);
        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_held(f->fm, "migrate-incoming", NULL);
        migration_prepare_async(f->registry, migration_params_new_plain(INCOMING_XML, NULL, URI, 0, MIGRATE_LIVE,
                                                                        &error),
                                begin, OWNER, on_prepared, &prepared);
        g_assert_no_error(error);
        fake_monitor_wait(f->fm, 4);
        g_assert_nonnull(d->qemu);
        migration_abort_async(d, 0, on_aborted, &aborted);
        fake_monitor_release(f->fm);
        job_fixture_run_until(job_reply_done, &aborted);
        g_assert_no_error(aborted.error);
        job_fixture_run_until(job_reply_done, &prepared);
        g_assert_error(prepared.error, MD_ERROR, MD_ERROR_MIGRATION_ABORTED);
        g_clear_error(&prepared.error);
        job_fixture_run_until(monitor_closed, f->fm);
        job_fixture_run_until(no_qemu, d);
        g_assert_true(registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL) == d);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_SHUTOFF);
        g_assert_cmpstr(d->state_reason, ==, "migration-canceled");
}

static void on_started(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;

        g_assert_false(domain_operation_finish(NULL, result, &r->error));
        r->done = TRUE;
}

/* Undefine while the guest starts leaves it transient (libvirt's rule); if
 * its QEMU then fails to come up, nothing is left of it: it goes, rather
 * than stay listed without a name. */
static void test_start_undefined_fails(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        JobReply started = { 0 };
        Domain *d = registry_define_xml(f->registry, INCOMING_XML, &error);

        g_assert_no_error(error);
        fake_monitor_serve_launches(f->fm);
        fake_monitor_hold_greeting(f->fm);
        domain_start_async(d, 0, on_started, &started);
        job_fixture_run_until(launched, f->fm);
        g_assert_true(d->starting);
        g_assert_true(registry_undefine(f->registry, d, 0, &error));
        g_assert_no_error(error);
        g_assert_false(domain_is_persistent(d));
        fake_monitor_hang_up(f->fm);
        job_fixture_run_until(job_reply_done, &started);
        g_assert_error(started.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_clear_error(&started.error);
        g_assert_null(registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL));
        g_assert_null(registry_lookup_by_name(f->registry, INCOMING_NAME, NULL));
}

static void on_destroyed(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;

        (void) domain_operation_finish(NULL, result, &r->error);
        r->done = TRUE;
}

/* Destroy while Start waits for QEMU's greeting: as libvirt, the starting
 * QEMU is killed; Destroy succeeds once it has gone, Start fails saying
 * why, the guest is shut off "destroyed" as after any Destroy. */
static void test_start_destroyed(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        JobReply started = { 0 }, destroyed = { 0 }, again = { 0 };
        Domain *d = registry_define_xml(f->registry, INCOMING_XML, &error);

        g_assert_no_error(error);
        fake_monitor_serve_launches(f->fm);
        fake_monitor_hold_greeting(f->fm);
        domain_start_async(d, 0, on_started, &started);
        job_fixture_run_until(launched, f->fm);
        g_assert_true(d->starting);
        g_assert_null(d->qemu);
        domain_destroy_async(d, 0, on_destroyed, &destroyed);
        job_fixture_run_until(job_reply_done, &destroyed);
        g_assert_no_error(destroyed.error);
        g_assert_true(started.done);
        g_assert_error(started.error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
        g_assert_cmpstr(started.error->message, ==, "Domain '" INCOMING_NAME "' was destroyed while it was starting");
        g_clear_error(&started.error);
        job_fixture_run_until(monitor_closed, f->fm);
        fake_monitor_assert_received(f->fm, NULL);
        g_assert_true(registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL) == d);
        g_assert_false(d->starting);
        g_assert_false(d->destroying);
        g_assert_false(domain_is_active(d));
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_SHUTOFF);
        g_assert_cmpstr(d->state_reason, ==, "destroyed");
        /* Shut off now: Destroy refuses as before. */
        domain_destroy_async(d, 0, on_destroyed, &again);
        job_fixture_run_until(job_reply_done, &again);
        g_assert_error(again.error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
        g_assert_nonnull(strstr(again.error->message, "is not running"));
        g_clear_error(&again.error);
}

/* Destroy of a transient incoming guest while its QEMU starts: the job
 * ends as when a running guest's QEMU goes, Prepare fails, the domain goes. */
static void test_prepare_destroyed(JobFixture *f, gconstpointer data) {
        JobReply prepared = { 0 }, destroyed = { 0 };
        Domain *d = destination_starting(f, &prepared);

        domain_destroy_async(d, 0, on_destroyed, &destroyed);
        job_fixture_run_until(job_reply_done, &destroyed);
        g_assert_no_error(destroyed.error);
        job_fixture_assert_completed(f, FALSE, "exited during the migration");
        assert_killed_while_starting(f, &prepared, MD_ERROR_MIGRATION_FAILED, "exited during the migration");
        job_fixture_run_until(incoming_gone, f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
#define ADD(path, func) g_test_add("/job-starting/" path, JobFixture, NULL, job_fixture_set_up, func, \
                                   job_fixture_tear_down)
        ADD("in/prepare/abort", test_abort);
        ADD("in/prepare/client-gone", test_client_gone);
        ADD("in/prepare/abort-defined", test_abort_defined);
        ADD("in/prepare/abort-defined-after-start", test_abort_defined_after_start);
        ADD("in/prepare/daemon-stop", test_daemon_stop);
        ADD("in/prepare/finish-cancelled", test_finish_cancelled);
        ADD("start/undefined-then-fails", test_start_undefined_fails);
        ADD("start/destroyed", test_start_destroyed);
        ADD("in/prepare/destroyed", test_prepare_destroyed);
#undef ADD
        return g_test_run();
}
