/* The core over a fake monitor: real domain and migration code, no QEMU. */
#include <string.h>
#include <glib/gstdio.h>

#include "fake-monitor.h"
#include "md-config.h"
#include "md-error.h"
#include "migration.h"
#include "migration-job.h"
#include "qemu-migration-params.h"
#include "registry.h"
#include "test-util.h"

typedef struct {
        char *dir;
        MdConfig *config;
        Registry *registry;
        FakeMonitor *fm;
        Domain *d;
} Fixture;

/* A running domain whose QEMU is the fake monitor. */
static void fixture_set_up(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *xml_path = g_build_filename(g_getenv("MD_TEST_DATA_DIR"), "domains", "full.xml", NULL);
        g_autofree char *xml = NULL;
        g_autofree char *state = NULL, *run = NULL, *log = NULL;

        f->dir = g_dir_make_tmp("md-core-monitor-XXXXXX", &error);
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
}

static void fixture_tear_down(Fixture *f, gconstpointer data) {
        g_clear_pointer(&f->registry, registry_free);
        g_clear_pointer(&f->fm, fake_monitor_free);
        md_config_free(f->config);
        test_remove_tree(f->dir);
        g_free(f->dir);
}

static void on_operation_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        GError **ret = user_data;

        g_assert_true(domain_operation_finish(NULL, result, ret) || *ret);
}

static void test_suspend_resume(Fixture *f, gconstpointer data) {
        GError *error = NULL;

        fake_monitor_expect(f->fm, "stop", NULL);
        fake_monitor_expect(f->fm, "cont", NULL);
        domain_suspend_async(f->d, 0, on_operation_done, &error);
        fake_monitor_wait(f->fm, 1);
        g_assert_no_error(error);
        g_assert_cmpint(f->d->state, ==, DOMAIN_STATE_PAUSED);
        g_assert_cmpstr(f->d->state_reason, ==, "user");
        domain_resume_async(f->d, 0, on_operation_done, &error);
        fake_monitor_wait(f->fm, 2);
        g_assert_no_error(error);
        g_assert_cmpint(f->d->state, ==, DOMAIN_STATE_RUNNING);
        g_assert_cmpstr(f->d->state_reason, ==, "unpaused");
        fake_monitor_assert_received(f->fm, "stop", "cont", NULL);
        fake_monitor_assert_done(f->fm);
}

static void test_refused(Fixture *f, gconstpointer data) {
        GError *error = NULL;

        fake_monitor_expect_error(f->fm, "stop", "GenericError", "not now");
        domain_suspend_async(f->d, 0, on_operation_done, &error);
        fake_monitor_wait(f->fm, 1);
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_nonnull(strstr(error->message, "not now"));
        g_clear_error(&error);
        g_assert_cmpint(f->d->state, ==, DOMAIN_STATE_RUNNING);
        fake_monitor_assert_done(f->fm);
}

static void test_events(Fixture *f, gconstpointer data) {
        fake_monitor_emit(f->fm, "STOP", NULL);
        fake_monitor_flush(f->fm);
        g_assert_cmpint(f->d->state, ==, DOMAIN_STATE_PAUSED);
        g_assert_cmpstr(f->d->state_reason, ==, "unknown");
        fake_monitor_emit(f->fm, "RESUME", NULL);
        fake_monitor_flush(f->fm);
        g_assert_cmpint(f->d->state, ==, DOMAIN_STATE_RUNNING);
        g_assert_cmpstr(f->d->state_reason, ==, "unpaused");
        fake_monitor_assert_received(f->fm, NULL);
}

static void test_ram_size(Fixture *f, gconstpointer data) {
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 1073741824}");
        domain_learn_ram_size(f->d);
        fake_monitor_wait(f->fm, 1);
        g_assert_cmpuint(f->d->ram_kib, ==, 1024 * 1024);
        fake_monitor_assert_done(f->fm);
}

/* Begin3 and Perform3 of a live migration: the settings QEMU gets, in
 * order and byte for byte, sent at once with the queries of what QEMU had
 * (one wait on QEMU), then the stream, its end and the final query. */
static void on_performed(GObject *source, GAsyncResult *result, gpointer user_data) {
        GBytes **ret = user_data;
        g_autoptr(GError) error = NULL;

        *ret = migration_perform_finish(result, &error);
        g_assert_no_error(error);
}

static void test_source_setup(Fixture *f, gconstpointer data) {
        static const char *const expected_args[] = {
                "",
                "",
                "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
                "{\"capability\":\"postcopy-ram\",\"state\":false},{\"capability\":\"multifd\",\"state\":false},"
                "{\"capability\":\"xbzrle\",\"state\":false},{\"capability\":\"auto-converge\",\"state\":false},"
                "{\"capability\":\"pause-before-switchover\",\"state\":false}]}",
                "{\"multifd-channels\":2,\"multifd-compression\":\"none\",\"cpu-throttle-initial\":20,"
                "\"cpu-throttle-increment\":10,\"max-bandwidth\":9223372036853727232,\"downtime-limit\":300,"
                "\"max-postcopy-bandwidth\":0,\"tls-creds\":\"\",\"tls-hostname\":\"\"}",
                "",
                "{\"uri\":\"tcp:127.0.0.1:49152\"}",
                "",
        };
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GBytes) cookie = NULL;
        GBytes *performed = NULL;
        MigrationParams *params;

        /* Begin3 asks QEMU what it has; QEMU is slow to answer the first
         * query: Perform3's settings go out all the same, without waiting
         * (and without asking again); migrate waits for their replies. */
        fake_monitor_expect_held(f->fm, "query-migrate-capabilities",
                                 "[{\"capability\": \"xbzrle\", \"state\": false}, {\"capability\": \"other\", "
                                 "\"state\": true}]");
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{\"multifd-channels\": 2}");
        params = migration_params_new_plain(NULL, NULL, NULL, 0, MIGRATE_LIVE | MIGRATE_UNSAFE, &error);
        g_assert_no_error(error);
        g_assert_true(test_migration_begin(f->d, params, NULL, &xml, &cookie, &error));
        g_assert_no_error(error);
        fake_monitor_wait(f->fm, 2);

        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "query-migrate-parameters", "{\"multifd-channels\": 2, "
                            "\"multifd-compression\": \"none\", \"downtime-limit\": 300}");
        fake_monitor_expect(f->fm, "migrate", NULL);
        params = migration_params_new_plain(NULL, NULL, "tcp:127.0.0.1:49152", 0, MIGRATE_LIVE | MIGRATE_UNSAFE,
                                            &error);
        g_assert_no_error(error);
        {
                /* What Prepare3 on the destination would have answered. */
                g_autoptr(MigrationCookie) prepared = migration_cookie_for_host(registry_get_config(f->registry), "prepare3",
                                                                                domain_name(f->d),
                                                                                domain_uuid(f->d));
                g_autoptr(GBytes) prepared_bytes = NULL;

                g_free(prepared->host_uuid);
                prepared->host_uuid = g_strdup("6f1e2d3c-0000-4000-8000-00000000d357");
                prepared_bytes = migration_cookie_encode(prepared, &error);
                g_assert_no_error(error);
                migration_perform_async(f->d, params, prepared_bytes, on_performed, &performed);
        }
        fake_monitor_wait(f->fm, 5);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_received(f->fm, "query-migrate-capabilities", "query-migrate-parameters",
                                     "migrate-set-capabilities", "migrate-set-parameters",
                                     "query-migrate-parameters", NULL);
        fake_monitor_release(f->fm);
        fake_monitor_wait(f->fm, 6);
        g_assert_true(f->d->job && f->d->job->qemu_configured);
        g_assert_true(g_variant_lookup(f->d->job->setup_stats, "qemu.initial.cap.xbzrle", "b", NULL));
        g_assert_false(g_variant_lookup(f->d->job->setup_stats, "qemu.initial.cap.other", "b", NULL));

        fake_monitor_expect(f->fm, "query-migrate", "{\"status\": \"completed\", \"total-time\": 1200}");
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"completed\"}");
        fake_monitor_wait(f->fm, 7);
        g_assert_nonnull(performed);
        g_bytes_unref(performed);
        g_assert_cmpstr(f->d->state_reason, ==, "migration");

        for (guint i = 0; i < G_N_ELEMENTS(expected_args); i++)
                g_assert_cmpstr(fake_monitor_received_args(f->fm, i), ==, expected_args[i]);
        fake_monitor_assert_done(f->fm);
}

/* ---- the destination: a fresh registry, QEMU launched by Prepare ---- */

#define INCOMING_XML "<domain type='qemu'><name>incoming</name>" \
        "<uuid>0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b</uuid><memory unit='KiB'>131072</memory>" \
        "<os><type>hvm</type></os></domain>"

static void fixture_set_up_empty(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *state = NULL, *run = NULL, *log = NULL;

        f->dir = g_dir_make_tmp("md-core-monitor-XXXXXX", &error);
        g_assert_no_error(error);
        state = g_build_filename(f->dir, "state", NULL);
        run = g_build_filename(f->dir, "run", NULL);
        log = g_build_filename(f->dir, "log", NULL);
        f->config = md_config_load_from_data("", &error);
        g_assert_no_error(error);
        f->registry = registry_new(f->config, &(RegistryDirs) { .state_dir = state, .runtime_dir = run,
                                                                .log_dir = log }, &error);
        g_assert_no_error(error);
        f->fm = fake_monitor_new();
        fake_monitor_serve_launches(f->fm);
}

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        char **ret_uri = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;

        g_assert_true(migration_prepare_finish(result, &cookie, ret_uri, &error));
        g_assert_no_error(error);
}

static void on_finished(GObject *source, GAsyncResult *result, gpointer user_data) {
        char **ret_uuid = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;

        *ret_uuid = migration_finish_finish(result, &cookie, &error);
        g_assert_no_error(error);
}

/* What the source's Begin3 would have sent. */
static GBytes *source_cookie(Registry *r, const char *phase) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_for_host(registry_get_config(r), phase, "incoming",
                                                                      "0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b");
        g_autoptr(GError) error = NULL;
        GBytes *bytes;

        g_free(cookie->host_uuid);
        cookie->host_uuid = g_strdup("6f1e2d3c-0000-4000-8000-00000000d357");
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_no_error(error);
        return bytes;
}

static void test_destination(Fixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) begin = source_cookie(f->registry, "begin3");
        g_autoptr(GBytes) performed = source_cookie(f->registry, "perform3");
        g_autofree char *uri = NULL, *uuid = NULL;
        MigrationParams *params;
        Domain *d;

        /* The domain learns its RAM size as soon as QEMU is up. */
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(f->fm, "migrate-incoming", NULL);
        params = migration_params_new_plain(INCOMING_XML, NULL, "tcp:127.0.0.1:49152", 0,
                                            MIGRATE_LIVE | MIGRATE_PARALLEL, &error);
        g_assert_no_error(error);
        migration_prepare_async(f->registry, params, begin, NULL, on_prepared, &uri);
        fake_monitor_wait(f->fm, 4);
        g_assert_cmpstr(uri, ==, "tcp:127.0.0.1:49152");
        g_assert_true(g_strv_contains(fake_monitor_launch_argv(f->fm), "defer"));
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 1), ==,
                        "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
                        "{\"capability\":\"postcopy-ram\",\"state\":false},"
                        "{\"capability\":\"multifd\",\"state\":true},"
                        "{\"capability\":\"xbzrle\",\"state\":false},"
                        "{\"capability\":\"auto-converge\",\"state\":false},"
                        "{\"capability\":\"pause-before-switchover\",\"state\":false}]}");
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 2), ==,
                        "{\"multifd-channels\":2,\"multifd-compression\":\"none\",\"tls-creds\":\"\"}");
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 3), ==, "{\"uri\":\"tcp:127.0.0.1:49152\"}");
        d = registry_lookup_by_name(f->registry, "incoming", &error);
        g_assert_no_error(error);
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_PAUSED);

        /* The stream completes; Finish3 resumes the guest here. */
        fake_monitor_emit(f->fm, "MIGRATION", "{\"status\": \"completed\"}");
        fake_monitor_flush(f->fm);
        fake_monitor_expect(f->fm, "cont", NULL);
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        params = migration_params_new_plain(NULL, "incoming", NULL, 0, MIGRATE_LIVE | MIGRATE_PARALLEL, &error);
        g_assert_no_error(error);
        migration_finish_async(f->registry, params, performed, FALSE, on_finished, &uuid);
        fake_monitor_wait(f->fm, 8);
        g_assert_cmpstr(uuid, ==, "0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b");
        g_assert_cmpint(d->state, ==, DOMAIN_STATE_RUNNING);
        g_assert_cmpstr(d->state_reason, ==, "migrated");
        g_assert_null(d->job);
        g_assert_cmpuint(d->ram_kib, ==, 131072);
        fake_monitor_assert_received(f->fm, "query-memory-size-summary", "migrate-set-capabilities",
                                     "migrate-set-parameters", "migrate-incoming", "cont", "migrate-set-capabilities",
                                     "migrate-set-parameters", "object-del", NULL);
        fake_monitor_assert_done(f->fm);
}

static void on_result(GObject *source, GAsyncResult *result, gpointer user_data) {
        GAsyncResult **ret = user_data;

        *ret = g_object_ref(result);
}

/* The driver's reset: the capabilities, then the parameters with TLS's
 * cleared in the same command, then the TLS object (always: recovery does
 * not know whether the job used TLS) whose absence is no failure.
 * Pipelined: a refusal (capabilities while QEMU still cancels a stream)
 * keeps none of the others from being sent; the first one is the reset's
 * failure. The safety check's QEMU version comes from the greeting. */
static gboolean reset(FakeMonitor *fm, QemuProcess *qemu, guint received, GError **error) {
        GAsyncResult *result = NULL;
        gboolean ok;

        qemu_migration_reset_async(qemu_process_get_qmp(qemu), on_result, &result);
        fake_monitor_wait(fm, received);
        fake_monitor_flush(fm);
        g_assert_nonnull(result);
        ok = qemu_migration_reset_finish(result, error);
        g_object_unref(result);
        return ok;
}

static void test_driver_reset(void) {
        g_autoptr(FakeMonitor) fm = fake_monitor_new();
        g_autoptr(QemuProcess) qemu = fake_monitor_connect(fm);
        g_autoptr(GError) error = NULL;

        g_assert_cmpuint(qemu_process_get_qemu_version(qemu), ==, 702);
        /* No object: QEMU 7.2's words for that are no failure. */
        fake_monitor_expect(fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_error(fm, "object-del", "GenericError", "object 'md-migration-tls' not found");
        g_assert_true(reset(fm, qemu, 3, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(fake_monitor_received_args(fm, 1), ==,
                        "{\"multifd-channels\":2,\"multifd-compression\":\"none\",\"cpu-throttle-initial\":20,"
                        "\"cpu-throttle-increment\":10,\"max-bandwidth\":9223372036853727232,\"downtime-limit\":300,"
                        "\"max-postcopy-bandwidth\":0,\"tls-creds\":\"\",\"tls-hostname\":\"\"}");
        g_assert_cmpstr(fake_monitor_received_args(fm, 2), ==, "{\"id\":\"md-migration-tls\"}");

        /* The object deleted. */
        fake_monitor_expect(fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(fm, "object-del", NULL);
        g_assert_true(reset(fm, qemu, 6, &error));
        g_assert_no_error(error);

        /* Another refusal of the object-del is the reset's failure. */
        fake_monitor_expect(fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_error(fm, "object-del", "GenericError", "object 'md-migration-tls' is in use");
        g_assert_false(reset(fm, qemu, 9, &error));
        g_assert_nonnull(strstr(error->message, "is in use"));
        g_clear_error(&error);

        /* Capabilities refused as QEMU 7.2 does while a stream is cancelled:
         * the parameters and the object are reset all the same. */
        fake_monitor_expect_error(fm, "migrate-set-capabilities", "GenericError",
                                  "There's a migration process in progress");
        fake_monitor_expect(fm, "migrate-set-parameters", NULL);
        fake_monitor_expect(fm, "object-del", NULL);
        g_assert_false(reset(fm, qemu, 12, &error));
        g_assert_nonnull(strstr(error->message, "in progress"));
        fake_monitor_assert_received(fm, "migrate-set-capabilities", "migrate-set-parameters", "object-del",
                                     "migrate-set-capabilities", "migrate-set-parameters", "object-del",
                                     "migrate-set-capabilities", "migrate-set-parameters", "object-del",
                                     "migrate-set-capabilities", "migrate-set-parameters", "object-del", NULL);
        fake_monitor_assert_done(fm);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/core-monitor/suspend-resume", Fixture, NULL, fixture_set_up, test_suspend_resume,
                   fixture_tear_down);
        g_test_add("/core-monitor/refused", Fixture, NULL, fixture_set_up, test_refused, fixture_tear_down);
        g_test_add("/core-monitor/events", Fixture, NULL, fixture_set_up, test_events, fixture_tear_down);
        g_test_add("/core-monitor/ram-size", Fixture, NULL, fixture_set_up, test_ram_size, fixture_tear_down);
        g_test_add("/core-monitor/source-setup", Fixture, NULL, fixture_set_up, test_source_setup,
                   fixture_tear_down);
        g_test_add("/core-monitor/destination", Fixture, NULL, fixture_set_up_empty, test_destination,
                   fixture_tear_down);
        g_test_add_func("/core-monitor/driver-reset", test_driver_reset);
        return g_test_run();
}
