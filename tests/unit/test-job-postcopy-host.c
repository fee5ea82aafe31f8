/* A POSTCOPY Prepare on a host where QEMU cannot get the userfaultfd
 * post-copy needs (no CAP_SYS_PTRACE, vm.unprivileged_userfaultfd 0): refused
 * with Error.Unsupported naming the fix, before QEMU is launched when no
 * QEMU could get one, else when QEMU (before 8.1) refuses postcopy-ram.
 * Where the probe says yes, Prepare goes on as before; a Prepare without
 * POSTCOPY never probes. Over the fake monitor and the probe's test hook. */
#include <string.h>
#include <glib/gstdio.h>

#include "job-fixture.h"
#include "md-error.h"
#include "migration.h"
#include "userfaultfd.h"

#define OWNER ":1.5"
#define URI "tcp:127.0.0.1:49152"
#define NAME "incoming"
#define UUID "0b6c1f4e-4d39-4a6c-9d5e-0c1d2e3f4a5b"
#define XML "<domain type='qemu'><name>" NAME "</name><uuid>" UUID "</uuid>" \
        "<memory unit='KiB'>131072</memory><os><type>hvm</type></os></domain>"
#define NOT_SUPPORTED "Postcopy is not supported"

typedef struct {
        UserfaultfdAccess answer;
        guint calls;
} Probe;

static UserfaultfdAccess probe(gpointer user_data) {
        Probe *p = user_data;

        p->calls++;
        return p->answer;
}

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobReply *r = user_data;
        g_autoptr(GBytes) bytes = NULL;
        g_autofree char *uri = NULL;

        g_assert_false(migration_prepare_finish(result, &bytes, &uri, &r->error));
        r->done = TRUE;
}

/* Prepare3 with @flags, the probe answering @answer; returns its error. */
static GError *prepare(JobFixture *f, guint flags, Probe *probe_state) {
        g_autoptr(GBytes) begin = job_fixture_peer_cookie(f, "begin3", NAME, UUID);
        g_autoptr(GError) error = NULL;
        JobReply prepared = { 0 };

        userfaultfd_set_probe_hook(probe, probe_state);
        migration_prepare_async(f->registry, migration_params_new_plain(XML, NULL, URI, 0, flags, &error),
                                begin, OWNER, on_prepared, &prepared);
        g_assert_no_error(error);
        job_fixture_run_until(job_reply_done, &prepared);
        fake_monitor_flush(f->fm);
        return prepared.error;
}

/* The file names under @dir (recursively) that contain @part. */
static guint count_named(const char *dir, const char *part) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;
        guint n = 0;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *path = g_build_filename(dir, name, NULL);

                n += strstr(name, part) != NULL;
                if (g_file_test(path, G_FILE_TEST_IS_DIR))
                        n += count_named(path, part);
        }
        return n;
}

static void assert_fix_named(const GError *error) {
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "Cannot migrate '" NAME "' with POSTCOPY into this host"));
        g_assert_nonnull(strstr(error->message, "vm.unprivileged_userfaultfd=1"));
        g_assert_nonnull(strstr(error->message, "CAP_SYS_PTRACE"));
        g_assert_nonnull(strstr(error->message, "Post-copy under the unit"));
}

/* No way to a userfaultfd: refused at once; no QEMU launched, no domain,
 * no job, no record. */
static void test_denied(JobFixture *f, gconstpointer data) {
        Probe p = { USERFAULTFD_DENIED, 0 };
        g_autoptr(GError) error = NULL;

        fake_monitor_serve_launches(f->fm);
        error = prepare(f, MIGRATE_LIVE | MIGRATE_POSTCOPY, &p);
        assert_fix_named(error);
        g_assert_cmpuint(p.calls, ==, 1);
        g_assert_cmpuint(g_strv_length((char **) fake_monitor_launch_argv(f->fm)), ==, 0);
        g_assert_null(registry_lookup_by_uuid(f->registry, UUID, NULL));
        g_assert_cmpuint(f->completed->len, ==, 0);
        g_assert_cmpuint(count_named(f->state_dir, UUID) + count_named(f->state_dir, NAME), ==, 0);
        fake_monitor_assert_done(f->fm);
}

/* ... and so for protocol 2's Prepare2 (no cookie from the source). */
static void test_denied_v2(JobFixture *f, gconstpointer data) {
        Probe p = { USERFAULTFD_DENIED, 0 };
        g_autoptr(GError) error = NULL;
        JobReply prepared = { 0 };

        fake_monitor_serve_launches(f->fm);
        userfaultfd_set_probe_hook(probe, &p);
        migration_prepare2_async(f->registry, migration_params_new_plain(XML, NULL, URI, 0,
                                                                         MIGRATE_LIVE | MIGRATE_POSTCOPY, &error),
                                 OWNER, on_prepared, &prepared);
        g_assert_no_error(error);
        job_fixture_run_until(job_reply_done, &prepared);
        assert_fix_named(prepared.error);
        g_clear_error(&prepared.error);
        g_assert_cmpuint(p.calls, ==, 1);
        g_assert_cmpuint(g_strv_length((char **) fake_monitor_launch_argv(f->fm)), ==, 0);
        g_assert_null(registry_lookup_by_uuid(f->registry, UUID, NULL));
        g_assert_cmpuint(f->completed->len, ==, 0);
}

/* The system call works: QEMU is launched and asked for postcopy-ram; its
 * refusal (for whatever reason) stays QEMU's. */
static void test_syscall_works(JobFixture *f, gconstpointer data) {
        Probe p = { USERFAULTFD_SYSCALL, 0 };
        g_autoptr(GError) error = NULL;

        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect_error(f->fm, "migrate-set-capabilities", "GenericError", NOT_SUPPORTED);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        error = prepare(f, MIGRATE_LIVE | MIGRATE_POSTCOPY, &p);
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(error->message, ==, "QEMU refused migrate-set-capabilities: " NOT_SUPPORTED);
        g_assert_cmpuint(g_strv_length((char **) fake_monitor_launch_argv(f->fm)), >, 0);
        g_assert_nonnull(strstr(fake_monitor_received_args(f->fm, 1), "\"postcopy-ram\",\"state\":true"));
        fake_monitor_assert_done(f->fm);
        g_assert_null(registry_lookup_by_uuid(f->registry, UUID, NULL));
        job_fixture_assert_completed(f, FALSE, NOT_SUPPORTED);
}

/* Only /dev/userfaultfd works: a QEMU 7.2 (which asks the system call
 * only) refuses postcopy-ram, and Prepare says why; its QEMU is killed. */
static void test_device_only_qemu72(JobFixture *f, gconstpointer data) {
        Probe p = { USERFAULTFD_DEVICE_ONLY, 0 };
        g_autoptr(GError) error = NULL;

        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect_error(f->fm, "migrate-set-capabilities", "GenericError", NOT_SUPPORTED);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        error = prepare(f, MIGRATE_LIVE | MIGRATE_POSTCOPY, &p);
        assert_fix_named(error);
        g_assert_cmpuint(p.calls, ==, 2);
        fake_monitor_assert_done(f->fm);
        g_assert_false(fake_monitor_is_connected(f->fm));
        g_assert_null(registry_lookup_by_uuid(f->registry, UUID, NULL));
        job_fixture_assert_completed(f, FALSE, "vm.unprivileged_userfaultfd=1");
}

/* ... a QEMU 8.1 would use it: its refusal is QEMU's own. */
static void test_device_only_qemu81(JobFixture *f, gconstpointer data) {
        Probe p = { USERFAULTFD_DEVICE_ONLY, 0 };
        g_autoptr(GError) error = NULL;

        fake_monitor_set_version(f->fm, 8, 1);
        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect_error(f->fm, "migrate-set-capabilities", "GenericError", NOT_SUPPORTED);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        error = prepare(f, MIGRATE_LIVE | MIGRATE_POSTCOPY, &p);
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpuint(p.calls, ==, 2);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, NOT_SUPPORTED);
}

/* Without POSTCOPY the probe is never asked, not even when QEMU refuses
 * a capability. */
static void test_not_postcopy(JobFixture *f, gconstpointer data) {
        Probe p = { USERFAULTFD_DENIED, 0 };
        g_autoptr(GError) error = NULL;

        fake_monitor_serve_launches(f->fm);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 134217728}");
        fake_monitor_expect_error(f->fm, "migrate-set-capabilities", "GenericError", "refused");
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        error = prepare(f, MIGRATE_LIVE, &p);
        g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpuint(p.calls, ==, 0);
        fake_monitor_assert_done(f->fm);
        job_fixture_assert_completed(f, FALSE, "refused");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        job_fixture_init_log();
        g_test_add("/job-postcopy-host/denied", JobFixture, NULL, job_fixture_set_up, test_denied,
                   job_fixture_tear_down);
        g_test_add("/job-postcopy-host/denied-prepare2", JobFixture, NULL, job_fixture_set_up, test_denied_v2,
                   job_fixture_tear_down);
        g_test_add("/job-postcopy-host/syscall-works", JobFixture, NULL, job_fixture_set_up, test_syscall_works,
                   job_fixture_tear_down);
        g_test_add("/job-postcopy-host/device-only/qemu-7.2", JobFixture, NULL, job_fixture_set_up,
                   test_device_only_qemu72, job_fixture_tear_down);
        g_test_add("/job-postcopy-host/device-only/qemu-8.1", JobFixture, NULL, job_fixture_set_up,
                   test_device_only_qemu81, job_fixture_tear_down);
        g_test_add("/job-postcopy-host/not-postcopy", JobFixture, NULL, job_fixture_set_up, test_not_postcopy,
                   job_fixture_tear_down);
        return g_test_run();
}
