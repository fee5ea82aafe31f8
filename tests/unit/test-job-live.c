/* The job's failure rules while the daemon runs (no restart): QEMU exits,
 * the stream fails, AbortJob, the driving client leaves the bus, the
 * deadline of a phase that waits on QEMU. Given the phase and the event,
 * the monitor commands sent and the final state; over the fake monitor. */
#include <string.h>

#include "job-fixture.h"
#include "md-error.h"
#include "migration.h"
#include "migration-jobs.h"
#include "test-util.h"

#define OWNER ":1.5"
#define URI "tcp:127.0.0.1:49152"
#define SOURCE_XML "<domain type='qemu'><name>" JF_NAME "</name><uuid>" JF_UUID "</uuid>" \
        "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"

/* Perform3's settings and the migrate command, as test-core-monitor pins them. */
#define SETUP "query-migrate-capabilities", "query-migrate-parameters", "migrate-set-capabilities", \
        "migrate-set-parameters", "query-migrate-parameters", "migrate"
/* The destination's Prepare3. */
#define PREPARE "query-memory-size-summary", "migrate-set-capabilities", "migrate-set-parameters", \
        "migrate-incoming"

typedef struct {
        gboolean done;
        GError *error;
        GBytes *bytes;
        char *uuid;
} Reply;

static void reply_clear(Reply *r) {
        g_clear_error(&r->error);
        g_clear_pointer(&r->bytes, g_bytes_unref);
        g_clear_pointer(&r->uuid, g_free);
}

static gboolean reply_done(gpointer data) {
        return ((Reply *) data)->done;
}

static void assert_state(Domain *d, DomainState state, const char *reason) {
        g_assert_nonnull(d);
        g_assert_cmpstr(domain_state_to_string(d->state), ==, domain_state_to_string(state));
        g_assert_cmpstr(d->state_reason, ==, reason);
}

/* ---- Source ---- */

static void on_performed(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        r->bytes = migration_perform_finish(result, &r->error);
        r->done = TRUE;
}

/* A running guest whose QEMU is the fake monitor, in perform3 with the
 * stream started by Begin3 and Perform3 of client @owner. */
static Domain *source_in_perform3(JobFixture *f, const char *owner, Reply *performed) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GBytes) prepared = NULL;
        MigrationParams *params;
        Domain *d = registry_define_xml(f->registry, SOURCE_XML, &error);

        g_assert_no_error(error);
        domain_adopt_process(d, domain_def_copy(d->def), fake_monitor_connect(f->fm), DOMAIN_STATE_RUNNING,
                             "booted");
        params = migration_params_new_plain(NULL, NULL, NULL, 0, MIGRATE_LIVE | MIGRATE_UNSAFE, &error);
        g_assert_no_error(error);
        g_assert_true(test_migration_begin(d, params, owner, &xml, &cookie, &error));
        g_assert_no_error(error);
        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "migrate", NULL);
        params = migration_params_new_plain(NULL, NULL, URI, 0, MIGRATE_LIVE | MIGRATE_UNSAFE, &error);
        g_assert_no_error(error);
        prepared = job_fixture_peer_cookie(f, "prepare3", JF_NAME, JF_UUID);
        migration_perform_async(d, params, prepared, on_performed, performed);
        fake_monitor_wait(f->fm, 6);
        g_assert_nonnull(d->job);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_PERFORM3);
        /* The statistics' polling is not under test: no query-migrate every 250 ms. */
        g_clear_handle_id(&d->job->poll_timer, g_source_remove);
        return d;
}

/* The source QEMU exits mid-stream: Perform3 fails, the job ends failed,
 * the guest is shut off; nothing more is sent. */
static void test_source_qemu_exits(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = source_in_perform3(f, OWNER, &performed);

        qemu_process_kill(d->qemu, 0);
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_flush(f->fm);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        fake_monitor_assert_received(f->fm, SETUP, NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_SHUTOFF);
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "QEMU process exited");
        reply_clear(&performed);
}

/* MigrateSetMaxSpeed while the disks are copied: the stream and the
 * running mirrors take the new speed (block-job-set-speed in bytes/s). */
static void test_max_speed_sets_mirrors(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = source_in_perform3(f, OWNER, &performed);
        const char *const mirrors[] = { "migration-vda", "migration-vdb", NULL };
        g_autoptr(GError) error = NULL;

        /* As migration_storage_mirror_async() leaves them. */
        d->job->storage_jobs = g_strdupv((GStrv) mirrors);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "block-job-set-speed", NULL);
        fake_monitor_expect(f->fm, "block-job-set-speed", NULL);
        g_assert_true(migration_set_max_speed(d, 8, 0, &error));
        g_assert_no_error(error);
        fake_monitor_wait(f->fm, 6 + 3);
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 7), ==,
                        "{\"device\":\"migration-vda\",\"speed\":8388608}");
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 8), ==,
                        "{\"device\":\"migration-vdb\",\"speed\":8388608}");
        /* After the switch-over (no mirror left) only the stream's. */
        g_clear_pointer(&d->job->storage_jobs, g_strfreev);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        g_assert_true(migration_set_max_speed(d, 0, 0, &error));
        fake_monitor_wait(f->fm, 6 + 4);
        qemu_process_kill(d->qemu, 0);
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_received(f->fm, SETUP, "migrate-set-parameters", "block-job-set-speed",
                                     "block-job-set-speed", "migrate-set-parameters", NULL);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "QEMU process exited");
        reply_clear(&performed);
}

static void on_aborted(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        g_assert_true(migration_abort_finish(result, &r->error));
        r->done = TRUE;
}

static void on_confirmed(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        g_assert_true(migration_confirm_finish(result, &r->error));
        r->done = TRUE;
}

/* AbortJob in perform3: migrate_cancel; QEMU's cancelled stream fails
 * Perform3 with MigrationAborted; the client's Confirm3 cancelled resumes
 * the guest (cont) and ends the job cancelled. */
static void test_abort_perform3(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        Reply performed = { 0 }, aborted = { 0 }, confirmed = { 0 };
        Domain *d = source_in_perform3(f, OWNER, &performed);
        gboolean success = TRUE;

        fake_monitor_emit(f->fm, "STOP", NULL);
        fake_monitor_flush(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "migration");
        fake_monitor_expect(f->fm, "migrate_cancel", NULL);
        migration_abort_async(d, 0, on_aborted, &aborted);
        fake_monitor_wait(f->fm, 7);
        fake_monitor_expect(f->fm, "query-migrate", "{\"status\": \"cancelled\"}");
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"cancelled\"}");
        job_fixture_run_until(reply_done, &performed);
        job_fixture_run_until(reply_done, &aborted);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_ABORTED);
        g_assert_no_error(aborted.error);

        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        migration_confirm_async(d, migration_params_new_plain(NULL, NULL, NULL, 0, MIGRATE_LIVE, &error), NULL,
                                TRUE, on_confirmed, &confirmed);
        g_assert_no_error(error);
        job_fixture_run_until(reply_done, &confirmed);
        fake_monitor_wait(f->fm, 12);
        fake_monitor_assert_received(f->fm, SETUP, "migrate_cancel", "query-migrate", "cont", JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        g_assert_null(d->job);
        g_assert_cmpuint(f->completed->len, ==, 1);
        g_assert_true(g_variant_lookup(f->completed->pdata[0], "success", "b", &success));
        g_assert_false(success);
        g_assert_cmpstr(d->last_job_type, ==, "cancelled");
        reply_clear(&performed);
}

/* The client leaves before Perform: the job is cancelled; QEMU got only
 * Begin3's queries of its settings, nothing to reset. */
static void test_client_gone_begin3(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GBytes) cookie = NULL;
        MigrationParams *params;
        Domain *d = registry_define_xml(f->registry, SOURCE_XML, &error);

        g_assert_no_error(error);
        domain_adopt_process(d, domain_def_copy(d->def), fake_monitor_connect(f->fm), DOMAIN_STATE_RUNNING,
                             "booted");
        params = migration_params_new_plain(NULL, NULL, NULL, 0, MIGRATE_LIVE | MIGRATE_UNSAFE, &error);
        g_assert_no_error(error);
        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        g_assert_true(test_migration_begin(d, params, OWNER, &xml, &cookie, &error));
        g_assert_no_error(error);
        /* The daemon asked whether the client is still there. */
        g_assert_cmpuint(f->watched->len, ==, 1);
        g_assert_cmpstr(f->watched->pdata[0], ==, OWNER);
        migration_jobs_client_vanished(f->registry, OWNER);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_received(f->fm, "query-migrate-capabilities", "query-migrate-parameters", NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "booted");
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "the client driving the migration left the bus");
        g_assert_cmpstr(d->last_job_type, ==, "cancelled");
}

/* The client leaves mid-stream: the stream decides first (nothing sent at
 * once); when it fails, the job ends at once and the guest resumes. */
static void test_client_gone_stream_fails(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = source_in_perform3(f, OWNER, &performed);

        fake_monitor_emit(f->fm, "STOP", NULL);
        migration_jobs_client_vanished(f->registry, OWNER);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_received(f->fm, SETUP, NULL);
        g_assert_nonnull(d->job);
        g_assert_cmpuint(f->completed->len, ==, 0);

        fake_monitor_expect(f->fm, "query-migrate", "{\"status\": \"failed\", \"error-desc\": \"link down\"}");
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"failed\"}");
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_wait(f->fm, 11);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        fake_monitor_assert_received(f->fm, SETUP, "query-migrate", "cont", JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "link down");
        reply_clear(&performed);
}

/* ... when it fails while QEMU's run state is still finish-migrate (the
 * window after the stream's last step), QEMU refuses the first cont: the
 * rule asks QEMU's state and sends cont again once it has moved on. */
static void test_resume_waits_out_finish_migrate(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = source_in_perform3(f, OWNER, &performed);

        fake_monitor_emit(f->fm, "STOP", NULL);
        migration_jobs_client_vanished(f->registry, OWNER);
        fake_monitor_expect(f->fm, "query-migrate", "{\"status\": \"failed\", \"error-desc\": \"link down\"}");
        fake_monitor_expect_error(f->fm, "cont", "GenericError", "Migration is not finalized yet");
        fake_monitor_expect_reset(f->fm);
        fake_monitor_expect(f->fm, "query-status", "{\"running\": false, \"status\": \"finish-migrate\"}");
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"failed\"}");
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_wait(f->fm, 13);
        fake_monitor_flush(f->fm);
        g_assert_error(performed.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        fake_monitor_assert_received(f->fm, SETUP, "query-migrate", "cont", JF_RESET, "query-status", "cont",
                                     NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
        reply_clear(&performed);
}

/* ... when it completes: outcome unknown at once, the guest stays paused. */
static void test_client_gone_stream_completes(JobFixture *f, gconstpointer data) {
        Reply performed = { 0 };
        Domain *d = source_in_perform3(f, OWNER, &performed);

        fake_monitor_emit(f->fm, "STOP", NULL);
        migration_jobs_client_vanished(f->registry, OWNER);
        fake_monitor_expect(f->fm, "query-migrate", "{\"status\": \"completed\"}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"completed\"}");
        job_fixture_run_until(reply_done, &performed);
        fake_monitor_wait(f->fm, 10);
        fake_monitor_assert_received(f->fm, SETUP, "query-migrate", JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "migration");
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "Migration outcome unknown");
        reply_clear(&performed);
}

/* ---- Destination ---- */

#define INCOMING_XML "<domain type='qemu'><name>incoming</name>" \
        "<uuid>0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b</uuid><memory unit='KiB'>131072</memory>" \
        "<os><type>hvm</type></os></domain>"
#define INCOMING_UUID "0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b"

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;
        g_autofree char *uri = NULL;

        g_assert_true(migration_prepare_finish(result, &r->bytes, &uri, &r->error));
        r->done = TRUE;
}

static void on_finished(GObject *source, GAsyncResult *result, gpointer user_data) {
        Reply *r = user_data;

        r->uuid = migration_finish_finish(result, &r->bytes, &r->error);
        r->done = TRUE;
}

/* The incoming QEMU, launched by Prepare3 of @owner, waits for the stream. */
static Domain *destination_in_prepare(JobFixture *f, const char *owner) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) begin = job_fixture_peer_cookie(f, "begin3", "incoming", INCOMING_UUID);
        Reply prepared = { 0 };
        Domain *d;

        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "migrate-incoming", NULL);
        migration_prepare_async(f->registry, migration_params_new_plain(INCOMING_XML, NULL, URI, 0, MIGRATE_LIVE,
                                                                        &error),
                                begin, owner, on_prepared, &prepared);
        g_assert_no_error(error);
        fake_monitor_wait(f->fm, 4);
        job_fixture_run_until(reply_done, &prepared);
        g_assert_no_error(prepared.error);
        reply_clear(&prepared);
        d = registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL);
        g_assert_nonnull(d);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_PREPARE);
        return d;
}

static gboolean incoming_gone(gpointer data) {
        JobFixture *f = data;

        return registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL) == NULL;
}

static void finish(JobFixture *f, gboolean cancelled, Reply *finished) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) performed = job_fixture_peer_cookie(f, "perform3", "incoming", INCOMING_UUID);

        migration_finish_async(f->registry, migration_params_new_plain(NULL, "incoming", NULL, 0, MIGRATE_LIVE,
                                                                       &error),
                               performed, cancelled, on_finished, finished);
        g_assert_no_error(error);
}

/* The incoming QEMU exits in prepare: the job ends failed, the transient domain goes. */
static void test_incoming_qemu_exits_prepare(JobFixture *f, gconstpointer data) {
        Domain *d = destination_in_prepare(f, OWNER);

        qemu_process_kill(d->qemu, 0);
        job_fixture_run_until(incoming_gone, f);
        fake_monitor_assert_received(f->fm, PREPARE, NULL);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "QEMU process exited");
}

/* ... in finish3, waiting for the stream: Finish3 fails, the job ends. */
static void test_incoming_qemu_exits_finish(JobFixture *f, gconstpointer data) {
        Domain *d = destination_in_prepare(f, OWNER);
        Reply finished = { 0 };

        finish(f, FALSE, &finished);
        fake_monitor_flush(f->fm);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_FINISH3);
        g_assert_false(finished.done);
        qemu_process_kill(d->qemu, 0);
        job_fixture_run_until(reply_done, &finished);
        job_fixture_run_until(incoming_gone, f);
        g_assert_error(finished.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        fake_monitor_assert_received(f->fm, PREPARE, NULL);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "QEMU process exited");
        reply_clear(&finished);
}

/* The incoming stream fails in prepare: nothing at once (the client's
 * Finish3 decides); Finish3 fails with MigrationFailed and kills QEMU. */
static void test_incoming_stream_fails(JobFixture *f, gconstpointer data) {
        Domain *d = destination_in_prepare(f, OWNER);
        Reply finished = { 0 };

        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"failed\"}");
        fake_monitor_flush(f->fm);
        g_assert_nonnull(d->job);
        g_assert_true(d->job->stream_failed);
        g_assert_cmpuint(f->completed->len, ==, 0);
        finish(f, FALSE, &finished);
        job_fixture_run_until(reply_done, &finished);
        job_fixture_run_until(incoming_gone, f);
        g_assert_error(finished.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        fake_monitor_assert_received(f->fm, PREPARE, NULL);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "The incoming migration stream failed");
        reply_clear(&finished);
}

/* ... and its client leaves: the incoming QEMU is killed at once. */
static void test_incoming_stream_fails_client_gone(JobFixture *f, gconstpointer data) {
        Domain *d = destination_in_prepare(f, OWNER);

        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"failed\"}");
        fake_monitor_flush(f->fm);
        g_assert_true(d->job->stream_failed);
        migration_jobs_client_vanished(f->registry, OWNER);
        job_fixture_run_until(incoming_gone, f);
        fake_monitor_assert_received(f->fm, PREPARE, NULL);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "the client driving the migration left the bus");
}

/* The client leaves in prepare: the incoming QEMU is killed. */
static void test_incoming_client_gone(JobFixture *f, gconstpointer data) {
        destination_in_prepare(f, OWNER);
        migration_jobs_client_vanished(f->registry, OWNER);
        job_fixture_run_until(incoming_gone, f);
        fake_monitor_assert_received(f->fm, PREPARE, NULL);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "Incoming migration cancelled: the client driving the migration "
                                               "left the bus");
}

/* Finish3 waits for a stream that does not end: the deadline (armed
 * whoever drives the job) ends it, Finish3 fails, QEMU is killed. */
static void test_incoming_finish_deadline(JobFixture *f, gconstpointer data) {
        Domain *d = destination_in_prepare(f, OWNER);
        Reply finished = { 0 };

        finish(f, FALSE, &finished);
        fake_monitor_flush(f->fm);
        g_assert_false(finished.done);
        job_fixture_expire_deadline(d->job);
        job_fixture_run_until(reply_done, &finished);
        job_fixture_run_until(incoming_gone, f);
        g_assert_error(finished.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        fake_monitor_assert_received(f->fm, PREPARE, NULL);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "no next migration phase arrived within 120 s");
        reply_clear(&finished);
}

/* Finish2 after a completed stream, whose cont QEMU refuses (an image
 * another process locks): @source_waits (peer-to-peer: the source resumes
 * its paused guest when Finish2 fails) kills the paused copy here as
 * Finish3 would; a managed source is gone (Perform2 stopped it), so the
 * copy here stays paused, maybe the only one. Finish2 fails either way. */
static void finish2_cont_fails(JobFixture *f, gboolean source_waits) {
        Domain *d = destination_in_prepare(f, OWNER);
        g_autoptr(GError) error = NULL;
        Reply finished = { 0 };

        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"completed\"}");
        fake_monitor_flush(f->fm);
        fake_monitor_expect_error(f->fm, "cont", "GenericError", "Failed to get \"write\" lock");
        migration_finish2_async(f->registry, migration_params_new_plain(NULL, "incoming", NULL, 0, MIGRATE_LIVE,
                                                                        &error),
                                0, source_waits, on_finished, &finished);
        g_assert_no_error(error);
        job_fixture_run_until(reply_done, &finished);
        g_assert_error(finished.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_null(finished.uuid);
        if (source_waits) {
                job_fixture_run_until(incoming_gone, f);
                job_fixture_assert_completed(f, FALSE, "Failed to start the migrated guest");
        } else {
                fake_monitor_flush(f->fm);
                g_assert_true(registry_lookup_by_uuid(f->registry, INCOMING_UUID, NULL) == d);
                g_assert_nonnull(d->qemu);
                g_assert_null(d->job);
                assert_state(d, DOMAIN_STATE_PAUSED, d->state_reason);
                job_fixture_assert_completed(f, FALSE, "it stays paused here, where it may be the only copy");
        }
        fake_monitor_assert_received(f->fm, PREPARE, "cont", NULL);
        fake_monitor_assert_done(f->fm);
        reply_clear(&finished);
}

static void test_finish2_cont_fails_source_waits(JobFixture *f, gconstpointer data) {
        finish2_cont_fails(f, TRUE);
}

static void test_finish2_cont_fails_source_gone(JobFixture *f, gconstpointer data) {
        finish2_cont_fails(f, FALSE);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
#define ADD(path, func) g_test_add("/job-live/" path, JobFixture, NULL, job_fixture_set_up, func, \
                                   job_fixture_tear_down)
        ADD("out/perform3/qemu-exits", test_source_qemu_exits);
        ADD("out/perform3/max-speed-sets-mirrors", test_max_speed_sets_mirrors);
        ADD("out/perform3/abort", test_abort_perform3);
        ADD("out/begin3/client-gone", test_client_gone_begin3);
        ADD("out/perform3/client-gone-stream-fails", test_client_gone_stream_fails);
        ADD("out/perform3/client-gone-stream-completes", test_client_gone_stream_completes);
        ADD("out/perform3/resume-waits-out-finish-migrate", test_resume_waits_out_finish_migrate);
        ADD("in/prepare/qemu-exits", test_incoming_qemu_exits_prepare);
        ADD("in/finish3/qemu-exits", test_incoming_qemu_exits_finish);
        ADD("in/prepare/stream-fails", test_incoming_stream_fails);
        ADD("in/prepare/stream-fails-client-gone", test_incoming_stream_fails_client_gone);
        ADD("in/prepare/client-gone", test_incoming_client_gone);
        ADD("in/finish3/deadline", test_incoming_finish_deadline);
        ADD("in/finish2/cont-fails-source-waits", test_finish2_cont_fails_source_waits);
        ADD("in/finish2/cont-fails-source-gone", test_finish2_cont_fails_source_gone);
#undef ADD
        return g_test_run();
}
