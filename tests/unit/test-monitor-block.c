/* The block layer's typed commands (storage migration) over a fake
 * monitor: the arguments QEMU gets, byte for byte, and query-block-jobs
 * replies, hostile ones included. */
#include <string.h>

#include "fake-monitor.h"
#include "md-error.h"
#include "qemu-monitor.h"
#include "qemu-monitor-block.h"
#include "qemu-process.h"

static void on_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        GError **ret = user_data;

        if (!qemu_monitor_command_finish(result, ret))
                g_assert_nonnull(*ret);
}

static void test_commands(void) {
        g_autoptr(FakeMonitor) fm = fake_monitor_new();
        g_autoptr(QemuProcess) qp = fake_monitor_connect(fm);
        QmpClient *mon = qemu_process_get_qmp(qp);
        GError *errors[9] = { NULL };
        static const char *const expected[] = {
                "{\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"0.0.0.0\",\"port\":\"49153\"}}}",
                "{\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"::\",\"port\":\"1\"}},\"tls-creds\":\"tls0\"}",
                "{\"device\":\"disk0\",\"name\":\"vda\",\"writable\":true}",
                "{\"driver\":\"nbd\",\"node-name\":\"migration-vda\",\"server\":{\"type\":\"inet\","
                "\"host\":\"dst.example.org\",\"port\":\"49153\"},\"export\":\"vda\"}",
                "{\"job-id\":\"migration-vda\",\"device\":\"disk0\",\"target\":\"migration-vda\",\"sync\":\"full\"}",
                "{\"job-id\":\"j\",\"device\":\"disk1\",\"target\":\"t\",\"sync\":\"top\"}",
                "{\"device\":\"migration-vda\"}",
                "{\"node-name\":\"migration-vda\"}",
                "{\"state\":\"pre-switchover\"}",
        };

        fake_monitor_expect(fm, "nbd-server-start", NULL);
        fake_monitor_expect(fm, "nbd-server-start", NULL);
        fake_monitor_expect(fm, "nbd-server-add", NULL);
        fake_monitor_expect(fm, "blockdev-add", NULL);
        fake_monitor_expect(fm, "blockdev-mirror", NULL);
        fake_monitor_expect_error(fm, "blockdev-mirror", "GenericError", "Cannot find device='disk1'");
        fake_monitor_expect(fm, "block-job-cancel", NULL);
        fake_monitor_expect(fm, "blockdev-del", NULL);
        fake_monitor_expect(fm, "migrate-continue", NULL);
        qemu_monitor_nbd_server_start_async(mon, "0.0.0.0", 49153, NULL, on_done, &errors[0]);
        qemu_monitor_nbd_server_start_async(mon, "::", 1, "tls0", on_done, &errors[1]);
        qemu_monitor_nbd_server_add_async(mon, "disk0", "vda", on_done, &errors[2]);
        qemu_monitor_blockdev_add_nbd_async(mon, "migration-vda", "dst.example.org", 49153, "vda", NULL, on_done,
                                            &errors[3]);
        qemu_monitor_blockdev_mirror_async(mon, "migration-vda", "disk0", "migration-vda", FALSE, on_done,
                                           &errors[4]);
        qemu_monitor_blockdev_mirror_async(mon, "j", "disk1", "t", TRUE, on_done, &errors[5]);
        qemu_monitor_block_job_cancel_async(mon, "migration-vda", on_done, &errors[6]);
        qemu_monitor_blockdev_del_async(mon, "migration-vda", on_done, &errors[7]);
        qemu_monitor_migrate_continue_async(mon, "pre-switchover", on_done, &errors[8]);
        fake_monitor_wait(fm, G_N_ELEMENTS(expected));
        fake_monitor_flush(fm);
        for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
                g_assert_cmpstr(fake_monitor_received_args(fm, i), ==, expected[i]);
                if (i == 5)
                        g_assert_error(errors[i], MD_ERROR, MD_ERROR_QEMU_FAILED);
                else
                        g_assert_no_error(errors[i]);
        }
        g_clear_error(&errors[5]);
        fake_monitor_assert_done(fm);
}

typedef struct {
        GPtrArray *jobs;
        GError *error;
        gboolean done;
} JobsResult;

static void on_jobs(GObject *source, GAsyncResult *result, gpointer user_data) {
        JobsResult *r = user_data;

        r->jobs = qemu_monitor_query_block_jobs_finish(result, &r->error);
        r->done = TRUE;
}

static GPtrArray *query_jobs(const char *reply, GError **error) {
        g_autoptr(FakeMonitor) fm = fake_monitor_new();
        g_autoptr(QemuProcess) qp = fake_monitor_connect(fm);
        JobsResult r = { 0 };

        fake_monitor_expect(fm, "query-block-jobs", reply);
        qemu_monitor_query_block_jobs_async(qemu_process_get_qmp(qp), on_jobs, &r);
        while (!r.done)
                g_main_context_iteration(NULL, TRUE);
        if (r.error)
                g_propagate_error(error, r.error);
        return r.jobs;
}

static void test_query_block_jobs(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) jobs = query_jobs(
                "[{\"device\":\"migration-vda\",\"type\":\"mirror\",\"status\":\"ready\",\"ready\":true,"
                "\"len\":1073741824,\"offset\":1073741824,\"speed\":0,\"busy\":false},"
                "{\"device\":\"migration-vdb\",\"type\":\"mirror\",\"status\":\"running\",\"ready\":false,"
                "\"len\":100,\"offset\":-3,\"speed\":\"fast\",\"error\":\"Input/output error\"},"
                "{\"type\":\"mirror\"}, 7, null, \"x\"]", &error);
        const QemuBlockJob *a, *b;

        g_assert_no_error(error);
        g_assert_cmpuint(jobs->len, ==, 2);
        a = jobs->pdata[0];
        b = jobs->pdata[1];
        g_assert_cmpstr(a->id, ==, "migration-vda");
        g_assert_cmpstr(a->type, ==, "mirror");
        g_assert_cmpstr(a->status, ==, "ready");
        g_assert_true(a->ready);
        g_assert_cmpuint(a->len, ==, 1073741824);
        g_assert_cmpuint(a->offset, ==, 1073741824);
        g_assert_null(a->error);
        g_assert_cmpstr(b->id, ==, "migration-vdb");
        g_assert_false(b->ready);
        /* Hostile values read as 0, never wrap. */
        g_assert_cmpuint(b->offset, ==, 0);
        g_assert_cmpuint(b->speed, ==, 0);
        g_assert_cmpstr(b->error, ==, "Input/output error");
}

static void test_query_block_jobs_bad(void) {
        static const char *const replies[] = { "{}", "\"jobs\"", "7" };

        for (guint i = 0; i < G_N_ELEMENTS(replies); i++) {
                g_autoptr(GError) error = NULL;
                g_autoptr(GPtrArray) jobs = query_jobs(replies[i], &error);

                g_assert_null(jobs);
                g_assert_error(error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        }
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(GPtrArray) jobs = query_jobs("[]", &error);

                g_assert_no_error(error);
                g_assert_cmpuint(jobs->len, ==, 0);
        }
}

static void on_list_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        gboolean *done = user_data;
        g_autoptr(GError) error = NULL;

        g_assert_true(qemu_monitor_command_finish(result, &error));
        g_assert_no_error(error);
        *done = TRUE;
}

static void run_list(FakeMonitor *fm, gboolean *done) {
        while (!*done)
                g_main_context_iteration(NULL, TRUE);
        fake_monitor_flush(fm);
}

/* The storage migration's sequences: the NBD server under TLS or on a
 * UNIX socket, the client with TLS credentials and host name, a mirror's
 * rate limit (bytes/s) with its buffer capped at one second's worth, and
 * the nodes deleted after an abort. */
static void test_sequences(void) {
        g_autoptr(FakeMonitor) fm = fake_monitor_new();
        g_autoptr(QemuProcess) qp = fake_monitor_connect(fm);
        QmpClient *mon = qemu_process_get_qmp(qp);
        const char *const devices[] = { "disk0", NULL }, *const exports[] = { "vda", NULL };
        const char *const nodes[] = { "migration-vda", "migration-vdb", NULL };
        const QemuNbdServer tls = { .host = "0.0.0.0", .port = 49153, .tls_creds = "tls-3" };
        const QemuNbdServer sock = { .socket = "/run/nbd.sock" };
        const QemuNbdServer client = { .host = "::1", .port = 49153, .tls_creds = "tls-4",
                                       .tls_hostname = "host-b.example" };
        static const char *const expected[] = {
                "{\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"0.0.0.0\",\"port\":\"49153\"}},"
                "\"tls-creds\":\"tls-3\"}",
                "{\"device\":\"disk0\",\"name\":\"vda\",\"writable\":true}",
                "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"/run/nbd.sock\"}}}",
                "{\"device\":\"disk0\",\"name\":\"vda\",\"writable\":true}",
                "{\"driver\":\"nbd\",\"node-name\":\"migration-vda\",\"server\":{\"type\":\"inet\","
                "\"host\":\"::1\",\"port\":\"49153\"},\"export\":\"vda\",\"tls-creds\":\"tls-4\","
                "\"tls-hostname\":\"host-b.example\"}",
                "{\"job-id\":\"migration-vda\",\"device\":\"disk0\",\"target\":\"migration-vda\","
                "\"sync\":\"full\",\"speed\":1048576,\"buf-size\":1048576}",
                "{\"driver\":\"nbd\",\"node-name\":\"migration-vda\",\"server\":{\"type\":\"unix\","
                "\"path\":\"/run/nbd.sock\"},\"export\":\"vda\"}",
                "{\"job-id\":\"migration-vda\",\"device\":\"disk0\",\"target\":\"migration-vda\","
                "\"sync\":\"top\",\"speed\":104857600,\"buf-size\":16777216}",
                "{\"driver\":\"nbd\",\"node-name\":\"migration-vda\",\"server\":{\"type\":\"unix\","
                "\"path\":\"/run/nbd.sock\"},\"export\":\"vda\"}",
                "{\"job-id\":\"migration-vda\",\"device\":\"disk0\",\"target\":\"migration-vda\","
                "\"sync\":\"full\"}",
                "{\"node-name\":\"migration-vda\"}",
                "{\"node-name\":\"migration-vdb\"}",
        };
        static const char *const commands[] = {
                "nbd-server-start", "nbd-server-add", "nbd-server-start", "nbd-server-add", "blockdev-add",
                "blockdev-mirror", "blockdev-add", "blockdev-mirror", "blockdev-add", "blockdev-mirror",
                "blockdev-del", "blockdev-del",
        };
        gboolean done[6] = { FALSE };

        for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
                fake_monitor_expect(fm, commands[i], NULL);
        qemu_monitor_nbd_export_drives_async(mon, &tls, devices, exports, on_list_done, &done[0]);
        run_list(fm, &done[0]);
        qemu_monitor_nbd_export_drives_async(mon, &sock, devices, exports, on_list_done, &done[1]);
        run_list(fm, &done[1]);
        qemu_monitor_mirror_drives_async(mon, &client, devices, exports, FALSE, 1 << 20, on_list_done, &done[2]);
        run_list(fm, &done[2]);
        qemu_monitor_mirror_drives_async(mon, &sock, devices, exports, TRUE, 100 << 20, on_list_done, &done[3]);
        run_list(fm, &done[3]);
        qemu_monitor_mirror_drives_async(mon, &sock, devices, exports, FALSE, 0, on_list_done, &done[4]);
        run_list(fm, &done[4]);
        qemu_monitor_blockdev_del_nodes_async(mon, nodes, on_list_done, &done[5]);
        run_list(fm, &done[5]);
        for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
                g_assert_cmpstr(fake_monitor_received_args(fm, i), ==, expected[i]);
        fake_monitor_assert_done(fm);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/monitor-block/commands", test_commands);
        g_test_add_func("/monitor-block/query-block-jobs", test_query_block_jobs);
        g_test_add_func("/monitor-block/query-block-jobs-bad", test_query_block_jobs_bad);
        g_test_add_func("/monitor-block/sequences", test_sequences);
        return g_test_run();
}
