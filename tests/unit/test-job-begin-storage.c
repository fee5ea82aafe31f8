/* Begin3 of a storage migration over the fake monitor: it waits for the
 * source QEMU's query-block without blocking the loop, with its job
 * started; an abort, the client leaving or a refusal meanwhile answers it
 * once, and QEMU's late reply finds nothing to do. */
#include <string.h>

#include "job-fixture.h"
#include "md-error.h"
#include "migration-jobs.h"
#include "migration.h"

#define OWNER ":1.42"
#define IMAGE "/var/lib/migrationd-test/vm1.qcow2"
#define SOURCE_XML "<domain type='qemu'><name>" JF_NAME "</name><uuid>" JF_UUID "</uuid>" \
        "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>" \
        "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>" \
        "<source file='" IMAGE "'/><target dev='vda' bus='virtio'/></disk></devices></domain>"
/* QEMU 7.2's answer for that disk, trimmed (drive disk0, a backing file). */
#define QUERY_BLOCK "[{\"device\": \"disk0\", \"inserted\": {\"image\": {\"virtual-size\": 16777216, " \
        "\"filename\": \"" IMAGE "\", \"format\": \"qcow2\", \"full-backing-filename\": " \
        "\"/var/lib/migrationd-test/base.qcow2\", \"backing-filename-format\": \"qcow2\"}}}]"
#define FLAGS (MIGRATE_LIVE | MIGRATE_NON_SHARED_INC)

typedef struct {
        gboolean done;
        GError *error;
        char *xml;
        GBytes *cookie;
} Begun;

static void on_begun(GObject *source, GAsyncResult *result, gpointer user_data) {
        Begun *b = user_data;

        g_assert_false(b->done);
        if (!migration_begin_finish(result, &b->xml, &b->cookie, &b->error))
                g_assert_nonnull(b->error);
        b->done = TRUE;
}

static void begun_clear(Begun *b) {
        g_clear_error(&b->error);
        g_clear_pointer(&b->xml, g_free);
        g_clear_pointer(&b->cookie, g_bytes_unref);
}

static gboolean begun_done(gpointer data) {
        return ((Begun *) data)->done;
}

static void on_performed(GObject *source, GAsyncResult *result, gpointer user_data) {
        *(GAsyncResult **) user_data = g_object_ref(result);
}

static Domain *running_guest(JobFixture *f) {
        g_autoptr(GError) error = NULL;
        Domain *d = registry_define_xml(f->registry, SOURCE_XML, &error);

        g_assert_no_error(error);
        domain_adopt_process(d, domain_def_copy(d->def), fake_monitor_connect(f->fm), DOMAIN_STATE_RUNNING,
                             "booted");
        return d;
}

/* Begin3 with FLAGS, its query-block held by QEMU: the call waits, with
 * its job in phase begin3. */
static void begin_waiting(JobFixture *f, Domain *d, Begun *b) {
        g_autoptr(GError) error = NULL;
        MigrationParams *params = migration_params_new_plain(NULL, NULL, NULL, 0, FLAGS | MIGRATE_UNSAFE, &error);

        g_assert_no_error(error);
        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect_held(f->fm, "query-block", QUERY_BLOCK);
        migration_begin_async(d, params, OWNER, on_begun, b);
        fake_monitor_wait(f->fm, 3);
        g_assert_false(b->done);
        g_assert_nonnull(d->job);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_BEGIN3);
}

static void test_answers(JobFixture *f, gconstpointer data) {
        Domain *d = running_guest(f);
        Begun b = { 0 };
        g_autoptr(MigrationCookie) cookie = NULL;
        const MigrationCookieDisk *disk;
        g_autoptr(GError) error = NULL;

        begin_waiting(f, d, &b);
        fake_monitor_release(f->fm);
        job_fixture_run_until(begun_done, &b);
        g_assert_no_error(b.error);
        g_assert_nonnull(strstr(b.xml, IMAGE));
        cookie = migration_cookie_decode(g_bytes_get_data(b.cookie, NULL), g_bytes_get_size(b.cookie), NULL,
                                         &error);
        g_assert_no_error(error);
        disk = migration_cookie_find_nbd_disk(cookie, "vda");
        g_assert_nonnull(disk);
        g_assert_cmpint(disk->capacity, ==, 16 << 20);
        g_assert_cmpstr(disk->backing, ==, "/var/lib/migrationd-test/base.qcow2");
        g_assert_cmpstr(disk->backing_format, ==, "qcow2");
        g_assert_null(d->job->begin);
        g_assert_cmpuint(f->completed->len, ==, 0);
        fake_monitor_assert_done(f->fm);
        begun_clear(&b);
}

/* AbortJob while QEMU has not answered: the call fails at once, QEMU's
 * late answer is dropped, JobCompleted came once. */
static void test_aborted(JobFixture *f, gconstpointer data) {
        Domain *d = running_guest(f);
        Begun b = { 0 };

        begin_waiting(f, d, &b);
        migration_abort_async(d, 0, NULL, NULL);
        job_fixture_run_until(begun_done, &b);
        g_assert_error(b.error, MD_ERROR, MD_ERROR_MIGRATION_ABORTED);
        g_assert_nonnull(strstr(b.error->message, "aborted"));
        g_assert_null(d->job);
        fake_monitor_release(f->fm);
        fake_monitor_flush(f->fm);
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "aborted");
        begun_clear(&b);
}

/* The driving client leaves while QEMU has not answered. */
static void test_client_left(JobFixture *f, gconstpointer data) {
        Domain *d = running_guest(f);
        Begun b = { 0 };

        begin_waiting(f, d, &b);
        migration_jobs_client_vanished(f->registry, OWNER);
        job_fixture_run_until(begun_done, &b);
        g_assert_error(b.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        fake_monitor_release(f->fm);
        fake_monitor_flush(f->fm);
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, "left the bus");
        begun_clear(&b);
}

/* Perform3 cannot overtake a Begin3 that has not answered. */
static void test_perform_too_early(JobFixture *f, gconstpointer data) {
        Domain *d = running_guest(f);
        Begun b = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) prepared = job_fixture_peer_cookie(f, "prepare3", JF_NAME, JF_UUID);
        MigrationParams *params = migration_params_new_plain(NULL, NULL, "tcp:127.0.0.1:49152", 0, FLAGS, &error);
        g_autoptr(GAsyncResult) result = NULL;

        begin_waiting(f, d, &b);
        migration_perform_async(d, params, prepared, on_performed, &result);
        while (!result)
                g_main_context_iteration(NULL, TRUE);
        g_assert_null(migration_perform_finish(result, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_BEGIN3);
        fake_monitor_release(f->fm);
        job_fixture_run_until(begun_done, &b);
        g_assert_no_error(b.error);
        begun_clear(&b);
}

/* The job ends while Perform3 polls the mirrors (between two polls): the
 * poll's wait is answered, Perform3 fails once with the job's own reason,
 * and nothing is left behind (valgrind: the poll's task and Perform's). */
static void test_ended_while_polling(JobFixture *f, gconstpointer data) {
        Domain *d = running_guest(f);
        Begun b = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) prepared = job_fixture_peer_cookie_nbd(f, "prepare3", JF_NAME, JF_UUID, 49153);
        MigrationParams *params = migration_params_new_plain(NULL, NULL, "tcp:127.0.0.1:49152", 0, FLAGS, &error);
        g_autoptr(GAsyncResult) result = NULL;
        g_autoptr(GBytes) performed = NULL;

        g_assert_no_error(error);
        begin_waiting(f, d, &b);
        fake_monitor_release(f->fm);
        job_fixture_run_until(begun_done, &b);
        g_assert_no_error(b.error);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        fake_monitor_expect(f->fm, "blockdev-add", NULL);
        fake_monitor_expect(f->fm, "blockdev-mirror", NULL);
        fake_monitor_expect(f->fm, "query-block-jobs", "[{\"device\": \"migration-vda\", \"type\": \"mirror\", "
                            "\"status\": \"running\", \"len\": 1048576, \"offset\": 4096, \"ready\": false}]");
        migration_perform_async(d, params, prepared, on_performed, &result);
        fake_monitor_wait(f->fm, 3 + 6);
        fake_monitor_flush(f->fm);
        g_assert_nonnull(d->job);
        g_assert_true(d->job->storage_timer != 0);
        g_assert_null(result);
        /* The job's end: the reset, then the mirror's clean-up. */
        fake_monitor_expect_reset(f->fm);
        fake_monitor_expect(f->fm, "block-job-cancel", NULL);
        fake_monitor_expect(f->fm, "query-block-jobs", "[]");
        fake_monitor_expect(f->fm, "blockdev-del", NULL);
        migration_job_end(d, JOB_RESULT_FAILED, "The test ended it");
        while (!result)
                g_main_context_iteration(NULL, TRUE);
        g_assert_null(migration_perform_finish(result, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_nonnull(strstr(error->message, "The test ended it"));
        g_assert_null(d->job);
        fake_monitor_wait(f->fm, 9 + 6);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "The test ended it");
        begun_clear(&b);
}

/* QEMU refuses query-block, or knows no such drive: MigrationFailed naming
 * the image, and the job ends. */
static void assert_fails(JobFixture *f, const char *answer, const char *error_desc, const char *why) {
        Domain *d = running_guest(f);
        g_autoptr(GError) error = NULL;
        MigrationParams *params = migration_params_new_plain(NULL, NULL, NULL, 0, FLAGS | MIGRATE_UNSAFE, &error);
        Begun b = { 0 };

        fake_monitor_expect(f->fm, "query-migrate-capabilities", "[]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{}");
        if (error_desc)
                fake_monitor_expect_error(f->fm, "query-block", "GenericError", error_desc);
        else
                fake_monitor_expect(f->fm, "query-block", answer);
        migration_begin_async(d, params, OWNER, on_begun, &b);
        job_fixture_run_until(begun_done, &b);
        g_assert_error(b.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_nonnull(strstr(b.error->message, IMAGE));
        g_assert_nonnull(strstr(b.error->message, why));
        g_assert_null(d->job);
        job_fixture_assert_completed(f, FALSE, IMAGE);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_done(f->fm);
        begun_clear(&b);
}

static void test_refused(JobFixture *f, gconstpointer data) {
        assert_fails(f, NULL, "Something broke", "Something broke");
}

static void test_no_such_drive(JobFixture *f, gconstpointer data) {
        assert_fails(f, "[{\"device\": \"disk1\", \"inserted\": {\"image\": {\"virtual-size\": 1}}}]", NULL,
                     "no image open");
}

static void test_bad_size(JobFixture *f, gconstpointer data) {
        assert_fails(f, "[{\"device\": \"disk0\", \"inserted\": {\"image\": {\"virtual-size\": -5}}}]", NULL,
                     "no positive size");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
        g_test_add("/job-begin-storage/answers", JobFixture, NULL, job_fixture_set_up, test_answers,
                   job_fixture_tear_down);
        g_test_add("/job-begin-storage/aborted", JobFixture, NULL, job_fixture_set_up, test_aborted,
                   job_fixture_tear_down);
        g_test_add("/job-begin-storage/client-left", JobFixture, NULL, job_fixture_set_up, test_client_left,
                   job_fixture_tear_down);
        g_test_add("/job-begin-storage/perform-too-early", JobFixture, NULL, job_fixture_set_up,
                   test_perform_too_early, job_fixture_tear_down);
        g_test_add("/job-begin-storage/ended-while-polling", JobFixture, NULL, job_fixture_set_up,
                   test_ended_while_polling, job_fixture_tear_down);
        g_test_add("/job-begin-storage/refused", JobFixture, NULL, job_fixture_set_up, test_refused,
                   job_fixture_tear_down);
        g_test_add("/job-begin-storage/no-such-drive", JobFixture, NULL, job_fixture_set_up, test_no_such_drive,
                   job_fixture_tear_down);
        g_test_add("/job-begin-storage/bad-size", JobFixture, NULL, job_fixture_set_up, test_bad_size,
                   job_fixture_tear_down);
        return g_test_run();
}
