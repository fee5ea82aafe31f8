/* A Prepare whose job ended while its images were being created, with a
 * new Prepare of the same (defined, inactive) guest already under way: the
 * first fails with its own job's end and leaves the second's job, domain
 * and images alone. qemu-img is a stand-in on PATH that waits for a gate. */
#include <glib/gstdio.h>
#include <string.h>

#include "job-fixture.h"
#include "md-error.h"
#include "migration.h"

#define OWNER_A ":1.5"
#define OWNER_B ":1.6"
#define URI "tcp:127.0.0.1:49152"
#define NAME "incoming"
#define UUID "0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b"

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;
        g_autoptr(GBytes) bytes = NULL;
        g_autofree char *uri = NULL;

        g_assert_false(r->done);
        if (!migration_prepare_finish(result, &bytes, &uri, &r->error))
                g_assert_nonnull(r->error);
        r->done = TRUE;
}

static void on_aborted(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;

        g_assert_true(migration_abort_finish(result, &r->error));
        r->done = TRUE;
}

/* qemu-img create ... PATH SIZE: waits until $MD_TEST_GATE exists, then
 * creates PATH; fails instead if $MD_TEST_QEMU_IMG_FAILS is set. */
static void install_qemu_img(JobFixture *f, const char *gate) {
        g_autofree char *bin = g_build_filename(f->dir, "bin", NULL);
        g_autofree char *script = g_build_filename(bin, "qemu-img", NULL);
        g_autofree char *path = g_strconcat(bin, ":", g_getenv("PATH"), NULL);
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(g_mkdir(bin, 0755), ==, 0);
        g_file_set_contents(script,
                            "#!/bin/sh\n"
                            "while [ ! -e \"$MD_TEST_GATE\" ]; do sleep 0.02; done\n"
                            "[ -z \"$MD_TEST_QEMU_IMG_FAILS\" ] || { echo no room >&2; exit 1; }\n"
                            "for a in \"$@\"; do image=$last; last=$a; done\n"
                            ": > \"$image\"\n", -1, &error);
        g_assert_no_error(error);
        g_assert_cmpint(g_chmod(script, 0755), ==, 0);
        g_setenv("PATH", path, TRUE);
        g_setenv("MD_TEST_GATE", gate, TRUE);
}

static MigrationParams *params(const char *xml) {
        g_autoptr(GError) error = NULL;
        MigrationParams *p = migration_params_new_plain(xml, NULL, URI, 0, MIGRATE_LIVE | MIGRATE_NON_SHARED_DISK,
                                                        &error);

        g_assert_no_error(error);
        return p;
}

/* The source's Begin cookie: disk vda (and vdb if @two), qcow2, 16 MiB. */
static GBytes *begin_cookie_disks(JobFixture *f, gboolean two) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_for_host(registry_get_config(f->registry), "begin3",
                                                                      NAME, UUID);
        g_autoptr(GError) error = NULL;
        GBytes *bytes;

        g_free(cookie->host_uuid);
        cookie->host_uuid = g_strdup("6f1e2d3c-0000-4000-8000-00000000d357");
        migration_cookie_add_nbd_disk(cookie, "vda", "qcow2", 16 << 20);
        if (two)
                migration_cookie_add_nbd_disk(cookie, "vdb", "qcow2", 16 << 20);
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_no_error(error);
        return bytes;
}

static GBytes *begin_cookie(JobFixture *f) {
        return begin_cookie_disks(f, FALSE);
}

static char *disk_xml(const char *image) {
        return g_strdup_printf("<domain type='qemu'><name>" NAME "</name><uuid>" UUID "</uuid>"
                                               "<memory unit='KiB'>131072</memory><os><type>hvm</type></os>"
                                               "<devices><disk type='file' device='disk'>"
                                               "<driver name='qemu' type='qcow2'/><source file='%s'/>"
                                               "<target dev='vda' bus='virtio'/></disk></devices></domain>",
                                               image);
}

static char *two_disks_xml(const char *a, const char *b) {
        return g_strdup_printf("<domain type='qemu'><name>" NAME "</name><uuid>" UUID "</uuid>"
                               "<memory unit='KiB'>131072</memory><os><type>hvm</type></os><devices>"
                               "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                               "<source file='%s'/><target dev='vda' bus='virtio'/></disk>"
                               "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                               "<source file='%s'/><target dev='vdb' bus='virtio'/></disk>"
                               "</devices></domain>", a, b);
}

static void test_prepare_again(JobFixture *f, gconstpointer data) {
        g_autofree char *gate = g_build_filename(f->dir, "gate", NULL);
        g_autofree char *image = g_build_filename(f->dir, "incoming.qcow2", NULL);
        g_autofree char *xml = disk_xml(image);
        g_autoptr(GBytes) cookie = begin_cookie(f);
        g_autoptr(GError) error = NULL;
        JobReply a = { 0 }, b = { 0 }, aborted = { 0 };
        Domain *d = registry_define_xml(f->registry, xml, &error);
        guint64 serial_b;

        g_assert_no_error(error);
        install_qemu_img(f, gate);
        fake_monitor_serve_launches(f->fm);
        fake_monitor_hold_greeting(f->fm);
        migration_prepare_async(f->registry, params(xml), cookie, OWNER_A, on_prepared, &a);
        g_assert_nonnull(d->job);
        migration_abort_async(d, 0, on_aborted, &aborted);
        job_fixture_run_until(job_reply_done, &aborted);
        g_assert_no_error(aborted.error);
        g_assert_null(d->job);
        g_assert_false(a.done);
        /* A's qemu-img still runs; the guest is defined and inactive again. */
        migration_prepare_async(f->registry, params(xml), cookie, OWNER_B, on_prepared, &b);
        g_assert_nonnull(d->job);
        serial_b = d->job->serial;
        g_assert_cmpint(g_file_set_contents(gate, "", 0, NULL), ==, TRUE);
        job_fixture_run_until(job_reply_done, &a);
        g_assert_error(a.error, MD_ERROR, MD_ERROR_MIGRATION_ABORTED);
        g_assert_nonnull(strstr(a.error->message, "ended during Prepare"));
        /* B's job goes on, its image (same path) left to it. */
        g_assert_true(g_file_test(image, G_FILE_TEST_EXISTS));
        g_assert_true(registry_lookup_by_uuid(f->registry, UUID, NULL) == d);
        g_assert_nonnull(d->job);
        g_assert_cmpuint(d->job->serial, ==, serial_b);
        g_assert_cmpint(d->job->phase, ==, JOB_PHASE_PREPARE);
        g_assert_false(b.done);
        /* The end: B aborted. */
        aborted.done = FALSE;
        migration_abort_async(d, 0, on_aborted, &aborted);
        job_fixture_run_until(job_reply_done, &aborted);
        job_fixture_run_until(job_reply_done, &b);
        g_assert_error(b.error, MD_ERROR, MD_ERROR_MIGRATION_ABORTED);
        g_assert_null(d->job);
        g_assert_false(g_file_test(image, G_FILE_TEST_EXISTS));
        g_clear_error(&a.error);
        g_clear_error(&b.error);
        g_unsetenv("MD_TEST_GATE");
}

/* While qemu-img runs, before any QEMU: the early record (starting, no
 * pid) lists the image Prepare is creating. */
static void assert_record_lists(JobFixture *f, const char *image) {
        g_autofree char *path = g_build_filename(f->state_dir, "status", UUID ".json", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(StatusFile) file = state_store_read_status_file(path, &error);
        JsonArray *created;

        g_assert_no_error(error);
        g_assert_true(file->starting);
        g_assert_cmpint(file->pid, ==, 0);
        g_assert_cmpstr(json_object_get_string_member(file->object, "job_type"), ==, "migration-in");
        created = json_object_get_array_member(file->object, "job_storage_created");
        g_assert_cmpuint(json_array_get_length(created), ==, 1);
        g_assert_cmpstr(json_array_get_string_element(created, 0), ==, image);
}

/* The record is written before the first qemu-img create, and goes with
 * the Prepare that fails before its spawn: AbortJob meanwhile (@abort), or
 * qemu-img failing. */
static void check_record_before_create(JobFixture *f, gboolean abort) {
        g_autofree char *gate = g_build_filename(f->dir, "gate", NULL);
        g_autofree char *image = g_build_filename(f->dir, "incoming.qcow2", NULL);
        g_autofree char *record = g_build_filename(f->state_dir, "status", UUID ".json", NULL);
        g_autofree char *xml = disk_xml(image);
        g_autoptr(GBytes) cookie = begin_cookie(f);
        g_autoptr(GError) error = NULL;
        JobReply a = { 0 }, aborted = { 0 };
        Domain *d = registry_define_xml(f->registry, xml, &error);

        g_assert_no_error(error);
        install_qemu_img(f, gate);
        if (!abort)
                g_setenv("MD_TEST_QEMU_IMG_FAILS", "1", TRUE);
        fake_monitor_serve_launches(f->fm);
        migration_prepare_async(f->registry, params(xml), cookie, OWNER_A, on_prepared, &a);
        g_assert_nonnull(d->job);
        assert_record_lists(f, image);
        if (abort) {
                migration_abort_async(d, 0, on_aborted, &aborted);
                job_fixture_run_until(job_reply_done, &aborted);
                g_assert_no_error(aborted.error);
                g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
        }
        g_assert_cmpint(g_file_set_contents(gate, "", 0, NULL), ==, TRUE);
        job_fixture_run_until(job_reply_done, &a);
        g_assert_nonnull(a.error);
        g_assert_null(d->job);
        g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(image, G_FILE_TEST_EXISTS));
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_SHUTOFF);
        g_clear_error(&a.error);
        g_unsetenv("MD_TEST_GATE");
        g_unsetenv("MD_TEST_QEMU_IMG_FAILS");
}

/* Two images to create, the job aborted while the first is being
 * created, and a file put at the second's path meanwhile (by someone
 * else): the record lists only the image whose creation began, and the
 * abort leaves the other file alone. */
static void test_record_not_begun(JobFixture *f, gconstpointer data) {
        g_autofree char *gate = g_build_filename(f->dir, "gate", NULL);
        g_autofree char *first = g_build_filename(f->dir, "incoming-a.qcow2", NULL);
        g_autofree char *second = g_build_filename(f->dir, "incoming-b.qcow2", NULL);
        g_autofree char *record = g_build_filename(f->state_dir, "status", UUID ".json", NULL);
        g_autofree char *xml = two_disks_xml(first, second);
        g_autoptr(GBytes) cookie = begin_cookie_disks(f, TRUE);
        g_autoptr(GError) error = NULL;
        g_autofree char *contents = NULL;
        JobReply a = { 0 }, aborted = { 0 };
        Domain *d = registry_define_xml(f->registry, xml, &error);

        g_assert_no_error(error);
        install_qemu_img(f, gate);
        fake_monitor_serve_launches(f->fm);
        migration_prepare_async(f->registry, params(xml), cookie, OWNER_A, on_prepared, &a);
        g_assert_nonnull(d->job);
        assert_record_lists(f, first);
        g_assert_true(g_file_set_contents(second, "not the Prepare's", -1, NULL));
        migration_abort_async(d, 0, on_aborted, &aborted);
        job_fixture_run_until(job_reply_done, &aborted);
        g_assert_no_error(aborted.error);
        g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
        g_assert_cmpint(g_file_set_contents(gate, "", 0, NULL), ==, TRUE);
        job_fixture_run_until(job_reply_done, &a);
        g_assert_error(a.error, MD_ERROR, MD_ERROR_MIGRATION_ABORTED);
        g_assert_false(g_file_test(first, G_FILE_TEST_EXISTS));
        g_assert_true(g_file_get_contents(second, &contents, NULL, NULL));
        g_assert_cmpstr(contents, ==, "not the Prepare's");
        g_unlink(second);
        g_clear_error(&a.error);
        g_unsetenv("MD_TEST_GATE");
}

/* Two images, the second on top of a backing file that is not here
 * (NON_SHARED_INC), and a file put at its path (by someone else) while the
 * first is being created: the second's creation fails before qemu-img
 * runs, and the failed Prepare removes the first image only. */
static void test_record_never_begun(JobFixture *f, gconstpointer data) {
        g_autofree char *gate = g_build_filename(f->dir, "gate", NULL);
        g_autofree char *first = g_build_filename(f->dir, "incoming-a.qcow2", NULL);
        g_autofree char *second = g_build_filename(f->dir, "incoming-b.qcow2", NULL);
        g_autofree char *missing = g_build_filename(f->dir, "missing-base.qcow2", NULL);
        g_autofree char *record = g_build_filename(f->state_dir, "status", UUID ".json", NULL);
        g_autofree char *xml = two_disks_xml(first, second);
        g_autoptr(MigrationCookie) cookie = migration_cookie_for_host(registry_get_config(f->registry), "begin3",
                                                                      NAME, UUID);
        g_autoptr(GBytes) bytes = NULL;
        g_autoptr(MigrationParams) mp = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *contents = NULL;
        JobReply a = { 0 };
        Domain *d = registry_define_xml(f->registry, xml, &error);

        g_assert_no_error(error);
        g_free(cookie->host_uuid);
        cookie->host_uuid = g_strdup("6f1e2d3c-0000-4000-8000-00000000d357");
        migration_cookie_add_nbd_disk(cookie, "vda", "qcow2", 16 << 20);
        migration_cookie_set_nbd_backing(migration_cookie_add_nbd_disk(cookie, "vdb", "qcow2", 16 << 20), missing,
                                         "qcow2");
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_no_error(error);
        mp = migration_params_new_plain(xml, NULL, URI, 0, MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, &error);
        g_assert_no_error(error);
        install_qemu_img(f, gate);
        fake_monitor_serve_launches(f->fm);
        migration_prepare_async(f->registry, g_steal_pointer(&mp), bytes, OWNER_A, on_prepared, &a);
        g_assert_nonnull(d->job);
        assert_record_lists(f, first);
        g_assert_true(g_file_set_contents(second, "not the Prepare's", -1, NULL));
        g_assert_cmpint(g_file_set_contents(gate, "", 0, NULL), ==, TRUE);
        job_fixture_run_until(job_reply_done, &a);
        g_assert_error(a.error, MD_ERROR, MD_ERROR_MIGRATION_FAILED);
        g_assert_nonnull(strstr(a.error->message, missing));
        g_assert_null(d->job);
        g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(first, G_FILE_TEST_EXISTS));
        g_assert_true(g_file_get_contents(second, &contents, NULL, NULL));
        g_assert_cmpstr(contents, ==, "not the Prepare's");
        g_unlink(second);
        g_clear_error(&a.error);
        g_unsetenv("MD_TEST_GATE");
}

static void test_record_aborted(JobFixture *f, gconstpointer data) {
        check_record_before_create(f, TRUE);
}

static void test_record_create_failed(JobFixture *f, gconstpointer data) {
        check_record_before_create(f, FALSE);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
        g_test_add("/job-prepare-again/images", JobFixture, NULL, job_fixture_set_up, test_prepare_again,
                   job_fixture_tear_down);
        g_test_add("/job-prepare-again/record/aborted", JobFixture, NULL, job_fixture_set_up, test_record_aborted,
                   job_fixture_tear_down);
        g_test_add("/job-prepare-again/record/create-failed", JobFixture, NULL, job_fixture_set_up,
                   test_record_create_failed, job_fixture_tear_down);
        g_test_add("/job-prepare-again/record/not-begun", JobFixture, NULL, job_fixture_set_up,
                   test_record_not_begun, job_fixture_tear_down);
        g_test_add("/job-prepare-again/record/never-begun", JobFixture, NULL, job_fixture_set_up,
                   test_record_never_begun, job_fixture_tear_down);
        return g_test_run();
}
