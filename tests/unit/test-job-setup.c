/* What Perform3 and Prepare3 send QEMU before the stream, now that it goes
 * out at once (one wait on QEMU): with TLS the object first (after the
 * object-del of one an earlier job may have left, its absence no failure)
 * and its parameters in the one migrate-set-parameters; a refusal anywhere in the
 * list fails the phase with QEMU's error as before, nothing is started, and
 * the source's QEMU is reset when the job ends (the destination's killed).
 * Over the fake monitor. */
#include <string.h>

#include "job-fixture.h"
#include "md-error.h"
#include "migration.h"
#include "test-util.h"

#define OWNER ":1.5"
#define URI "tcp:127.0.0.1:49152"
#define SOURCE_XML "<domain type='qemu'><name>" JF_NAME "</name><uuid>" JF_UUID "</uuid>" \
        "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"
#define INCOMING_XML "<domain type='qemu'><name>incoming</name>" \
        "<uuid>0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b</uuid><memory unit='KiB'>131072</memory>" \
        "<os><type>hvm</type></os></domain>"
#define INCOMING_UUID "0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b"
#define REFUSED "Parameter 'tls-creds' is invalid"
#define IN_USE "object 'md-migration-tls' is in use, can not be deleted"

typedef struct {
        gboolean done;
        GError *error;
        GBytes *bytes;
} Reply;

static void reply_clear(Reply *r) {
        g_clear_error(&r->error);
        g_clear_pointer(&r->bytes, g_bytes_unref);
        r->done = FALSE;
}

static gboolean reply_done(gpointer data) {
        return ((Reply *) data)->done;
}

/* [tls] of this host: Perform and Prepare link QEMU's credentials directory to it. */
static void set_up_tls(JobFixture *f, gconstpointer data) {
        job_fixture_set_up(f, data);
        f->config->tls_ca = g_build_filename(f->dir, "ca.pem", NULL);
        f->config->tls_cert = g_build_filename(f->dir, "cert.pem", NULL);
        f->config->tls_key = g_build_filename(f->dir, "key.pem", NULL);
}

static void on_performed(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        r->bytes = migration_perform_finish(result, &r->error);
        r->done = TRUE;
}

static void on_confirmed(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        g_assert_true(migration_confirm_finish(result, &r->error));
        r->done = TRUE;
}

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;
        g_autofree char *uri = NULL;

        if (!migration_prepare_finish(result, &r->bytes, &uri, &r->error))
                g_assert_nonnull(r->error);
        r->done = TRUE;
}

/* Begin3 and Perform3 with @flags; the test has set the monitor's expectations. */
static void begin_perform(JobFixture *f, Domain *d, guint flags, Reply *performed) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GBytes) prepared = NULL;
        MigrationParams *params;

        params = migration_params_new_plain(NULL, NULL, NULL, 0, flags, &error);
        g_assert_no_error(error);
        g_assert_true(test_migration_begin(d, params, OWNER, &xml, &cookie, &error));
        g_assert_no_error(error);
        params = migration_params_new_plain(NULL, NULL, URI, 0, flags, &error);
        g_assert_no_error(error);
        prepared = job_fixture_peer_cookie(f, "prepare3", JF_NAME, JF_UUID);
        migration_perform_async(d, params, prepared, on_performed, performed);
}

static Domain *running_guest(JobFixture *f) {
        g_autoptr(GError) error = NULL;
        Domain *d = registry_define_xml(f->registry, SOURCE_XML, &error);

        g_assert_no_error(error);
        domain_adopt_process(d, domain_def_copy(d->def), fake_monitor_connect(f->fm), DOMAIN_STATE_RUNNING,
                             "booted");
        return d;
}

/* TLS at the source: the joined migrate-set-parameters is refused. Perform3
 * fails with QEMU's refusal, no migrate goes out; Confirm3 cancelled resets
 * QEMU (TLS cleared in the same command, the object deleted). The next job
 * on that QEMU asks it again what it has: nothing is kept from the first. */
static void test_source_tls_refused(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        Reply performed = { 0 }, confirmed = { 0 };
        Domain *d = running_guest(f);
        const char *args;
        gint64 channels = 0;

        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        fake_monitor_expect(f->fm, "object-add", NULL);
        fake_monitor_expect_error(f->fm, "migrate-set-parameters", "GenericError", REFUSED);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        begin_perform(f, d, MIGRATE_LIVE | MIGRATE_UNSAFE | MIGRATE_TLS, &performed);
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_flush(f->fm);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_cmpstr(performed.error->message, ==,
                        "QEMU refused the migration settings: QEMU refused migrate-set-parameters: " REFUSED);
        fake_monitor_assert_received(f->fm, "query-migrate-capabilities", "query-migrate-parameters",
                                     "migrate-set-capabilities", "object-del", "object-add", "migrate-set-parameters",
                                     "query-migrate-parameters", NULL);
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 3), ==, "{\"id\":\"md-migration-tls\"}");
        g_assert_nonnull(strstr(fake_monitor_received_args(f->fm, 4), "\"id\":\"md-migration-tls\""));
        g_assert_nonnull(strstr(fake_monitor_received_args(f->fm, 4), "\"endpoint\":\"client\""));
        args = fake_monitor_received_args(f->fm, 5);
        g_assert_nonnull(strstr(args, "\"downtime-limit\":300,"));
        g_assert_nonnull(strstr(args, "\"tls-creds\":\"md-migration-tls\","));
        g_assert_nonnull(strstr(args, "\"tls-hostname\":\"127.0.0.1\"}"));
        g_assert_nonnull(d->job);

        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "object-del", NULL);
        migration_confirm_async(d, migration_params_new_plain(NULL, NULL, NULL, 0, MIGRATE_LIVE, &error), NULL,
                                TRUE, on_confirmed, &confirmed);
        g_assert_no_error(error);
        job_fixture_run_until(reply_done, &confirmed);
        fake_monitor_wait(f->fm, 10);
        fake_monitor_flush(f->fm);
        g_assert_nonnull(strstr(fake_monitor_received_args(f->fm, 8), "\"tls-creds\":\"\",\"tls-hostname\":\"\"}"));
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 9), ==, "{\"id\":\"md-migration-tls\"}");
        g_assert_null(d->job);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_RUNNING);
        job_fixture_assert_completed(f, FALSE, REFUSED);

        /* The next job, on the same QEMU: asked again. */
        reply_clear(&performed);
        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[{\"capability\": \"xbzrle\", \"state\": false}]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{\"multifd-channels\": 2}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate", NULL);
        begin_perform(f, d, MIGRATE_LIVE | MIGRATE_UNSAFE, &performed);
        fake_monitor_wait(f->fm, 16);
        fake_monitor_flush(f->fm);
        g_assert_false(performed.done);
        g_assert_true(g_variant_lookup(d->job->setup_stats, "qemu.initial.multifd-channels", "t", &channels));
        g_assert_cmpint(channels, ==, 2);
        g_assert_true(g_variant_lookup(d->job->setup_stats, "qemu.initial.cap.xbzrle", "b", NULL));
        /* The second job's settings clear TLS themselves: they do not
         * depend on the reset (recovery's may be refused while QEMU cancels). */
        g_assert_nonnull(strstr(fake_monitor_received_args(f->fm, 13), "\"tls-creds\":\"\",\"tls-hostname\":\"\"}"));
        g_assert_null(strstr(fake_monitor_received_args(f->fm, 13), "md-migration-tls"));
        fake_monitor_assert_done(f->fm);
        /* Ended here: a job still in flight at the tear-down keeps its Perform. */
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        reply_clear(&performed);
        migration_job_end(d, JOB_RESULT_CANCELLED, "The test is over");
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_wait(f->fm, 19);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_done(f->fm);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        reply_clear(&performed);
}

/* TLS at the source, QEMU without a left-over object: the object-del's
 * "not found" is no failure, migrate goes out; the job's end deletes the
 * object by the same fixed id. */
static void test_source_tls_no_leftover(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = running_guest(f);

        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        fake_monitor_expect(f->fm, "object-add", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate", NULL);
        begin_perform(f, d, MIGRATE_LIVE | MIGRATE_UNSAFE | MIGRATE_TLS, &performed);
        fake_monitor_wait(f->fm, 8);
        fake_monitor_flush(f->fm);
        g_assert_false(performed.done);
        fake_monitor_assert_received(f->fm, "query-migrate-capabilities", "query-migrate-parameters",
                                     "migrate-set-capabilities", "object-del", "object-add", "migrate-set-parameters",
                                     "query-migrate-parameters", "migrate", NULL);
        fake_monitor_assert_done(f->fm);

        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "object-del", NULL);
        migration_job_end(d, JOB_RESULT_CANCELLED, "The test is over");
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_wait(f->fm, 11);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_done(f->fm);
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 10), ==, "{\"id\":\"md-migration-tls\"}");
        reply_clear(&performed);
}

/* ... a refusal of the object-del other than "not found" (the object a
 * job left still in use) fails Perform3 with it: no migrate. Pipelined,
 * QEMU got the rest of the list, which the job's end resets. */
static void test_source_tls_del_refused(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = running_guest(f);

        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect_error(f->fm, "object-del", "GenericError", IN_USE);
        fake_monitor_expect_error(f->fm, "object-add", "GenericError", "duplicate");
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        begin_perform(f, d, MIGRATE_LIVE | MIGRATE_UNSAFE | MIGRATE_TLS, &performed);
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_flush(f->fm);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_cmpstr(performed.error->message, ==,
                        "QEMU refused the migration settings: QEMU refused object-del: " IN_USE);
        fake_monitor_assert_done(f->fm);
        g_assert_true(d->job && d->job->qemu_configured);
        reply_clear(&performed);
}

/* A refused capability, first in the list: its error is the one reported,
 * although QEMU got (and answered) the rest of the list; no migrate. */
static void test_source_capability_refused(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = running_guest(f);

        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect_error(f->fm, "migrate-set-capabilities", "GenericError",
                                  "Postcopy is not supported");
        fake_monitor_expect_error(f->fm, "migrate-set-parameters", "GenericError", "later refusal");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        begin_perform(f, d, MIGRATE_LIVE | MIGRATE_UNSAFE | MIGRATE_POSTCOPY, &performed);
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_flush(f->fm);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_cmpstr(performed.error->message, ==, "QEMU refused the migration settings: QEMU refused "
                        "migrate-set-capabilities: Postcopy is not supported");
        fake_monitor_assert_done(f->fm);
        g_assert_true(d->job && d->job->qemu_configured);
        reply_clear(&performed);
}

/* TLS at the destination: the object (the server end), then the joined
 * parameters, refused; migrate-incoming never goes out (QEMU must not
 * listen without TLS), Prepare3 fails with QEMU's refusal and the
 * incoming QEMU is killed. */
static void test_destination_tls_refused(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) begin = job_fixture_peer_cookie(f, "begin3", "incoming", INCOMING_UUID);
        Reply prepared = { 0 };
        const char *args;

        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        fake_monitor_expect(f->fm, "object-add", NULL);
        fake_monitor_expect_error(f->fm, "migrate-set-parameters", "GenericError", REFUSED);
        migration_prepare_async(f->registry, migration_params_new_plain(INCOMING_XML, NULL, URI, 0,
                                                                        MIGRATE_LIVE | MIGRATE_TLS, &error),
                                begin, OWNER, on_prepared, &prepared);
        g_assert_no_error(error);
        job_fixture_run_until(reply_done, &prepared);
        fake_monitor_flush(f->fm);
        g_assert_error(prepared.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(prepared.error->message, ==, "QEMU refused migrate-set-parameters: " REFUSED);
        fake_monitor_assert_received(f->fm, "query-memory-size-summary", "migrate-set-capabilities", "object-del",
                                     "object-add", "migrate-set-parameters", NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 2), ==, "{\"id\":\"md-migration-tls\"}");
        g_assert_nonnull(strstr(fake_monitor_received_args(f->fm, 3), "\"endpoint\":\"server\""));
        args = fake_monitor_received_args(f->fm, 4);
        g_assert_nonnull(strstr(args, "\"multifd-channels\":2,"));
        g_assert_nonnull(strstr(args, "\"tls-creds\":\"md-migration-tls\""));
        g_assert_null(strstr(args, "tls-hostname"));
        g_assert_null(registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL));
        job_fixture_assert_completed(f, FALSE, REFUSED);
        reply_clear(&prepared);
}

/* TLS at the destination: an object-del refused otherwise than "not
 * found" fails Prepare3 with it; migrate-incoming never goes out. */
static void test_destination_tls_del_refused(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) begin = job_fixture_peer_cookie(f, "begin3", "incoming", INCOMING_UUID);
        Reply prepared = { 0 };

        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect_error(f->fm, "object-del", "GenericError", IN_USE);
        fake_monitor_expect(f->fm, "object-add", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        migration_prepare_async(f->registry, migration_params_new_plain(INCOMING_XML, NULL, URI, 0,
                                                                        MIGRATE_LIVE | MIGRATE_TLS, &error),
                                begin, OWNER, on_prepared, &prepared);
        g_assert_no_error(error);
        job_fixture_run_until(reply_done, &prepared);
        fake_monitor_flush(f->fm);
        g_assert_error(prepared.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(prepared.error->message, ==, "QEMU refused object-del: " IN_USE);
        fake_monitor_assert_received(f->fm, "query-memory-size-summary", "migrate-set-capabilities", "object-del",
                                     "object-add", "migrate-set-parameters", NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_null(registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL));
        job_fixture_assert_completed(f, FALSE, IN_USE);
        reply_clear(&prepared);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
        g_test_add("/job-setup/out/tls-refused", JobFixture, NULL, set_up_tls, test_source_tls_refused,
                   job_fixture_tear_down);
        g_test_add("/job-setup/out/tls-no-leftover", JobFixture, NULL, set_up_tls, test_source_tls_no_leftover,
                   job_fixture_tear_down);
        g_test_add("/job-setup/out/tls-object-del-refused", JobFixture, NULL, set_up_tls,
                   test_source_tls_del_refused, job_fixture_tear_down);
        g_test_add("/job-setup/in/tls-object-del-refused", JobFixture, NULL, set_up_tls,
                   test_destination_tls_del_refused, job_fixture_tear_down);
        g_test_add("/job-setup/out/capability-refused", JobFixture, NULL, job_fixture_set_up,
                   test_source_capability_refused, job_fixture_tear_down);
        g_test_add("/job-setup/in/tls-refused", JobFixture, NULL, set_up_tls, test_destination_tls_refused,
                   job_fixture_tear_down);
        return g_test_run();
}
