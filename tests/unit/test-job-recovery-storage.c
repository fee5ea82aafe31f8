/* Recovery after a restart of the source daemon during a storage copy
 * (docs/recovery.md, "Storage migration"): the journal keeps no mirror,
 * yet the mirrors and their NBD client nodes must leave QEMU, or the next
 * migration of the guest fails on their names. See test-job-recovery.c. */
#include "job-fixture.h"
#include "migration-flags.h"

#define OWNER ":1.9"

/* Two disks: vda was being copied, vdb (say, outside migrate_disks) not. */
#define DISKS_XML "<domain type='qemu'><name>" JF_NAME "</name><uuid>" JF_UUID "</uuid>" \
        "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>" \
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>" \
        "<source file='/var/lib/migrationd/images/a.qcow2'/><target dev='vda' bus='virtio'/></disk>" \
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>" \
        "<source file='/var/lib/migrationd/images/b.qcow2'/><target dev='vdb' bus='virtio'/></disk>" \
        "</devices></domain>"

#define VDA_JOB "[{\"device\": \"migration-vda\", \"type\": \"mirror\", \"status\": \"running\", " \
        "\"len\": 1048576, \"offset\": 4096, \"ready\": false}]"

void job_recovery_storage_add_tests(void);

/* The mirror of vda is cancelled and waited for while it lingers, vdb's
 * names (never used) are refused and ignored; then the nodes go. With
 * @reset_after_first, the reset of the migration settings (its three
 * commands sent at once) goes out right after the first cancel. */
static void expect_cleanup(JobFixture *f, gboolean reset_after_first) {
        fake_monitor_expect(f->fm, "block-job-cancel", NULL);
        if (reset_after_first)
                fake_monitor_expect_reset(f->fm);
        fake_monitor_expect_error(f->fm, "block-job-cancel", "DeviceNotActive",
                                  "No active block job on device 'migration-vdb'");
        fake_monitor_expect(f->fm, "query-block-jobs", VDA_JOB);
        fake_monitor_expect(f->fm, "query-block-jobs", "[]");
        fake_monitor_expect(f->fm, "blockdev-del", NULL);
        fake_monitor_expect_error(f->fm, "blockdev-del", "GenericError",
                                  "Failed to find node with node-name='migration-vdb'");
}

/* @first: the first cancel's index (the second follows it); @nodes: the first blockdev-del's. */
static void assert_cleanup_args(JobFixture *f, guint first, guint nodes) {
        g_assert_cmpstr(fake_monitor_received_args(f->fm, first), ==, "{\"device\":\"migration-vda\"}");
        g_assert_cmpstr(fake_monitor_received_args(f->fm, first + 1), ==, "{\"device\":\"migration-vdb\"}");
        g_assert_cmpstr(fake_monitor_received_args(f->fm, nodes), ==, "{\"node-name\":\"migration-vda\"}");
        g_assert_cmpstr(fake_monitor_received_args(f->fm, nodes + 1), ==, "{\"node-name\":\"migration-vdb\"}");
}

/* perform3 during the copy: the stream is cancelled, the guest resumes
 * here, and the job's end takes the mirrors and nodes away. */
static void test_perform3(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "running", .reason = "booted",
                             .flags = MIGRATE_LIVE | MIGRATE_NON_SHARED_DISK, .owner = OWNER,
                             .persistent = TRUE, .xml = DISKS_XML };
        Domain *d;

        job_fixture_given(f, &g, "running", "none");
        /* The job's end: its reset (the only one), then the clean-up. */
        fake_monitor_expect_reset(f->fm);
        expect_cleanup(f, FALSE);
        d = job_fixture_restart(f);
        fake_monitor_wait(f->fm, 3 + 3 + 6);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, "block-job-cancel", "block-job-cancel",
                                     "query-block-jobs", "query-block-jobs", "blockdev-del", "blockdev-del", NULL);
        fake_monitor_assert_done(f->fm);
        assert_cleanup_args(f, 6, 10);
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, "The daemon restarted during phase perform3");
}

/* confirm3_cancelled: no job to restore, the clean-up runs at once. */
static void test_confirm3_cancelled(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "confirm3_cancelled", .state = "running",
                             .reason = "booted", .flags = MIGRATE_LIVE | MIGRATE_NON_SHARED_INC, .owner = OWNER,
                             .persistent = TRUE, .xml = DISKS_XML };

        job_fixture_given(f, &g, "running", "cancelled");
        expect_cleanup(f, TRUE);
        job_fixture_restart(f);
        fake_monitor_wait(f->fm, 3 + 9);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "block-job-cancel", JF_RESET, "block-job-cancel",
                                     "query-block-jobs", "query-block-jobs", "blockdev-del", "blockdev-del", NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 3), ==, "{\"device\":\"migration-vda\"}");
        g_assert_cmpstr(fake_monitor_received_args(f->fm, 11), ==, "{\"node-name\":\"migration-vdb\"}");
        g_assert_true(job_fixture_qemu_alive(f));
}

/* Without a storage flag nothing is sent besides the rule's own commands. */
static void test_no_storage(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-out", .phase = "perform3", .state = "running", .reason = "booted",
                             .flags = MIGRATE_LIVE, .owner = OWNER, .persistent = TRUE, .xml = DISKS_XML };

        job_fixture_given(f, &g, "running", "none");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
}

void job_recovery_storage_add_tests(void) {
#define ADD(path, func) g_test_add("/job-recovery/storage/" path, JobFixture, NULL, job_fixture_set_up, func, \
                                   job_fixture_tear_down)
        ADD("perform3", test_perform3);
        ADD("confirm3_cancelled", test_confirm3_cancelled);
        ADD("no-storage", test_no_storage);
#undef ADD
}
