/* Recovery after a daemon restart, the destination (migration-in):
 * docs/recovery.md's second table. See test-job-recovery.c. */
#include <sys/wait.h>
#include <unistd.h>

#include "job-fixture.h"
#include "migration-jobs.h"

#define OWNER ":1.7"

void job_recovery_in_add_tests(void);

static void assert_state(Domain *d, DomainState state, const char *reason) {
        g_assert_nonnull(d);
        g_assert_cmpstr(domain_state_to_string(d->state), ==, domain_state_to_string(state));
        g_assert_cmpstr(d->state_reason, ==, reason);
}

/* The guest never ran here (prepare), or its Finish3 never answered:
 * JobCompleted first, then the incoming QEMU is killed and the transient
 * domain goes. */
static void check_killed(JobFixture *f, const char *phase, const char *qemu_status) {
        const JobGiven g = { .type = "migration-in", .phase = phase,
                             .state = g_str_equal(qemu_status, "running") ? "running" : "paused",
                             .reason = "migration", .owner = OWNER };
        g_autofree char *errmsg = g_strdup_printf("The daemon restarted during phase %s; the incoming QEMU "
                                                  "was killed", phase);

        job_fixture_given(f, &g, qemu_status, g_str_equal(phase, "prepare") ? "active" : "completed");
        job_fixture_restart(f);
        job_fixture_assert_completed(f, FALSE, errmsg);
        /* JobCompleted first, then the kill. */
        g_assert_true(f->completed_with_qemu);
        job_fixture_assert_qemu_killed(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        g_assert_null(registry_lookup_by_uuid(f->registry, JF_UUID, NULL));
}

static void test_prepare(JobFixture *f, gconstpointer data) {
        check_killed(f, "prepare", "inmigrate");
}

static void test_finish3(JobFixture *f, gconstpointer data) {
        check_killed(f, "finish3", "running");
}

static void test_finish3_paused(JobFixture *f, gconstpointer data) {
        check_killed(f, "finish3", "paused");
}

/* An image the job created (storage migration), on disk under the state directory. */
static char *created_image(JobFixture *f, const char *name) {
        g_autofree char *path = g_build_filename(f->state_dir, name, NULL);
        g_autoptr(GError) error = NULL;

        g_assert_true(g_file_set_contents(path, "image", -1, &error));
        g_assert_no_error(error);
        return g_steal_pointer(&path);
}

/* prepare with a storage copy: the job ends (JobCompleted, failed), the
 * incoming QEMU is killed and the images the job created are removed;
 * another file is left alone (and a relative path in a damaged journal is
 * skipped: test-migration-journal.c). */
static void test_prepare_removes_created_images(JobFixture *f, gconstpointer data) {
        g_autofree char *a = created_image(f, "vda.qcow2");
        g_autofree char *b = created_image(f, "vdb.raw");
        g_autofree char *other = created_image(f, "other.qcow2");
        const char *const created[] = { a, b, "other.qcow2", NULL };
        const JobGiven g = { .type = "migration-in", .phase = "prepare", .state = "paused", .reason = "migration",
                             .flags = MIGRATE_LIVE | MIGRATE_NON_SHARED_DISK, .owner = OWNER,
                             .storage_created = created };

        job_fixture_given(f, &g, "inmigrate", "active");
        job_fixture_restart(f);
        job_fixture_assert_completed(f, FALSE, "The daemon restarted during phase prepare");
        job_fixture_assert_qemu_killed(f);
        g_assert_false(g_file_test(a, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(b, G_FILE_TEST_EXISTS));
        g_assert_true(g_file_test(other, G_FILE_TEST_EXISTS));
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
}

/* ... but a post-copy guest may run from them: never removed. */
static void test_postcopy_keeps_created_images(JobFixture *f, gconstpointer data) {
        g_autofree char *a = created_image(f, "vda.qcow2");
        const char *const created[] = { a, NULL };
        const JobGiven g = { .type = "migration-in", .phase = "postcopy", .state = "running", .reason = "postcopy",
                             .flags = MIGRATE_LIVE | MIGRATE_NON_SHARED_DISK | MIGRATE_POSTCOPY, .postcopy = TRUE,
                             .owner = OWNER, .storage_created = created };
        Domain *d;

        job_fixture_given(f, &g, "running", "postcopy-active");
        fake_monitor_expect(f->fm, "stop", NULL);
        d = job_fixture_restart(f);
        g_assert_null(d->job->storage_created);
        job_fixture_expire_deadline(d->job);
        fake_monitor_flush(f->fm);
        g_assert_null(d->job);
        g_assert_true(g_file_test(a, G_FILE_TEST_EXISTS));
}

/* Post-copy: never killed; stopped if it runs, postcopy-failed, the job
 * restored (except for a phase with nothing to restore) with the stream
 * marked failed. */
static Domain *check_postcopy(JobFixture *f, const JobGiven *g, const char *qemu_status,
                              const char *migrate_status) {
        gboolean running = g_str_equal(qemu_status, "running");
        Domain *d;

        job_fixture_given(f, g, qemu_status, migrate_status);
        if (running)
                fake_monitor_expect(f->fm, "stop", NULL);
        d = job_fixture_restart(f);
        if (running)
                fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "stop", NULL);
        else
                fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        g_assert_true(job_fixture_qemu_alive(f));
        g_assert_cmpuint(f->completed->len, ==, 0);
        g_assert_nonnull(d->job);
        g_assert_cmpstr(job_phase_to_string(d->job->phase), ==, g->phase);
        g_assert_true(d->job->restored);
        g_assert_true(d->job->postcopy);
        g_assert_true(d->job->stream_failed);
        g_assert_cmpuint(d->job->phase_timer, !=, 0);
        return d;
}

/* prepare, but QEMU had switched to post-copy: as postcopy. */
static void test_prepare_postcopy(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "prepare", .state = "paused", .reason = "migration",
                             .owner = OWNER };

        check_postcopy(f, &g, "running", "postcopy-active");
}

static void test_postcopy_running(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "postcopy", .state = "running",
                             .reason = "postcopy", .postcopy = TRUE, .owner = OWNER };

        check_postcopy(f, &g, "running", "postcopy-active");
}

static void test_postcopy_paused(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "postcopy", .state = "paused",
                             .reason = "postcopy", .postcopy = TRUE, .owner = OWNER };

        check_postcopy(f, &g, "paused", "completed");
}

/* ... the restored job's deadline ends it without a kill nor a resume. */
static void test_postcopy_deadline(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "postcopy", .state = "running",
                             .reason = "postcopy", .postcopy = TRUE, .owner = OWNER };
        Domain *d = check_postcopy(f, &g, "running", "postcopy-active");

        job_fixture_expire_deadline(d->job);
        fake_monitor_flush(f->fm);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, "stop", NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
        job_fixture_assert_completed(f, FALSE, "Post-copy migration abandoned");
}

static void test_finish3_postcopy(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "finish3", .state = "running",
                             .reason = "postcopy", .postcopy = TRUE, .owner = OWNER };

        check_postcopy(f, &g, "running", "completed");
}

/* finish2 without post-copy: what Finish2 would have done, never killed. */
static void test_finish2(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "finish2", .state = "paused",
                             .reason = "migration", .flags = MIGRATE_PERSIST_DEST, .owner = OWNER };
        g_autofree char *def = g_build_filename(f->state_dir, "domains", JF_NAME ".xml", NULL);
        Domain *d;

        job_fixture_given(f, &g, "paused", "completed");
        fake_monitor_expect_reset(f->fm);
        fake_monitor_expect(f->fm, "cont", NULL);
        d = job_fixture_restart(f);
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, "cont", NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_RUNNING, "migrated");
        g_assert_null(d->job);
        g_assert_true(domain_is_persistent(d));
        g_assert_true(g_file_test(def, G_FILE_TEST_EXISTS));
        g_assert_true(job_fixture_qemu_alive(f));
}

/* ... the incoming stream had failed: stays paused here, with a warning. */
static void test_finish2_stream_failed(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .type = "migration-in", .phase = "finish2", .state = "paused",
                             .reason = "migration", .owner = OWNER };
        Domain *d;

        job_fixture_given(f, &g, "paused", "failed");
        fake_monitor_expect(f->fm, "migrate-set-capabilities", NULL);
        fake_monitor_expect(f->fm, "migrate-set-parameters", NULL);
        fake_monitor_expect_no_tls_object(f->fm);
        d = job_fixture_restart(f);
        job_fixture_assert_warned("The incoming stream of 'vm1' failed before Finish2 was interrupted*");
        fake_monitor_assert_received(f->fm, JF_RECOVERY_QUERIES, JF_RESET, NULL);
        fake_monitor_assert_done(f->fm);
        assert_state(d, DOMAIN_STATE_PAUSED, "migration");
        g_assert_null(d->job);
        g_assert_true(job_fixture_qemu_alive(f));
}

/* The early record of a QEMU whose monitor had not greeted when the daemon
 * died: recovery kills that QEMU (never attaches: reason "failed", not
 * "crashed") and removes the record. Under valgrind (no pidfd_open) the
 * kill itself cannot happen: the rest is still checked. With
 * @qemu_status, a full record instead, whose QEMU answers query-status so
 * (attached first). */
static void check_not_started(JobFixture *f, JobGiven *g, const char *argv_uuid, const char *qemu_status,
                              gboolean killed) {
        g_autofree char *record = g_build_filename(f->state_dir, "status", JF_UUID ".json", NULL);
        int stdin_fd = -1;
        gboolean gone;

        g->pid = job_fixture_spawn_stand_in(argv_uuid, &stdin_fd);
        if (qemu_status)
                job_fixture_given(f, g, qemu_status, NULL);
        else
                job_fixture_given_unstarted(f, g);
        job_fixture_restart(f);
        gone = job_fixture_pid_gone(g->pid);
        if (!job_fixture_pidfd_works()) {
                /* It refuses to kill what it cannot pin, and says so. */
                g_test_message("pidfd_open() is not available (valgrind): the kill is not checked");
                job_fixture_assert_warned("Cannot watch QEMU process * to kill it (pidfd_open: *); "
                                          "if it still runs, kill it by hand");
        } else {
                g_assert_cmpint(gone, ==, killed);
        }
        g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
        g_assert_cmpstr(fake_monitor_attached_uuid(f->fm), ==, qemu_status ? JF_UUID : NULL);
        g_assert_cmpuint(f->completed->len, ==, 0);
        close(stdin_fd);        /* the stand-in, if still there, reads EOF and ends */
        if (!gone)
                g_assert_cmpint(waitpid(g->pid, NULL, 0), ==, g->pid);
}

static void check_unstarted(JobFixture *f, JobGiven *g, const char *argv_uuid, gboolean killed) {
        check_not_started(f, g, argv_uuid, NULL, killed);
}

/* Killed during Prepare's start: the images Prepare created go, the
 * transient domain never appears. */
static void test_prepare_unstarted(JobFixture *f, gconstpointer data) {
        g_autofree char *image = g_build_filename(f->dir, "created.qcow2", NULL);
        const char *const created[] = { image, NULL };
        JobGiven g = { .type = "migration-in", .phase = "prepare", .state = "shutoff", .reason = "unknown",
                       .owner = OWNER, .storage_created = created, .starting = TRUE };

        g_assert_true(g_file_set_contents(image, "", 0, NULL));
        check_unstarted(f, &g, JF_UUID, TRUE);
        g_assert_false(g_file_test(image, G_FILE_TEST_EXISTS));
        g_assert_null(registry_lookup_by_uuid(f->registry, JF_UUID, NULL));
}

/* Killed while Prepare created its images, before QEMU was spawned: the
 * record (no pid) lists them; the ones that exist go, the record goes,
 * nothing is killed (a process with the guest's UUID stays), the defined
 * domain stays shut off, "failed", and no JobCompleted. */
static void test_prepare_unspawned(JobFixture *f, gconstpointer data) {
        g_autofree char *made = g_build_filename(f->dir, "made.qcow2", NULL);
        g_autofree char *not_yet = g_build_filename(f->dir, "not-yet.qcow2", NULL);
        g_autofree char *record = g_build_filename(f->state_dir, "status", JF_UUID ".json", NULL);
        const char *const created[] = { made, not_yet, NULL };
        JobGiven g = { .type = "migration-in", .phase = "prepare", .state = "shutoff", .reason = "unknown",
                       .owner = OWNER, .storage_created = created, .starting = TRUE, .no_pid = TRUE,
                       .persistent = TRUE };
        int stdin_fd = -1;
        GPid bystander = job_fixture_spawn_stand_in(JF_UUID, &stdin_fd);

        g_assert_true(g_file_set_contents(made, "", 0, NULL));
        job_fixture_given_unstarted(f, &g);
        job_fixture_restart(f);
        g_assert_false(g_file_test(made, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(not_yet, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(record, G_FILE_TEST_EXISTS));
        assert_state(registry_lookup_by_uuid(f->registry, JF_UUID, NULL), DOMAIN_STATE_SHUTOFF, "failed");
        g_assert_null(fake_monitor_attached_uuid(f->fm));
        g_assert_cmpuint(f->completed->len, ==, 0);
        g_assert_false(job_fixture_pid_gone(bystander));
        close(stdin_fd);        /* the stand-in reads EOF and ends */
        g_assert_cmpint(waitpid(bystander, NULL, 0), ==, bystander);
}

/* Killed during a Start: the defined domain stays, shut off, "failed". */
static void test_start_unstarted(JobFixture *f, gconstpointer data) {
        JobGiven g = { .state = "shutoff", .reason = "unknown", .persistent = TRUE, .starting = TRUE };

        check_unstarted(f, &g, JF_UUID, TRUE);
        assert_state(registry_lookup_by_uuid(f->registry, JF_UUID, NULL), DOMAIN_STATE_SHUTOFF, "failed");
}

/* The pid now runs something else (not this guest's UUID): left alone. */
static void test_unstarted_pid_reused(JobFixture *f, gconstpointer data) {
        JobGiven g = { .state = "shutoff", .reason = "unknown", .persistent = TRUE, .starting = TRUE };

        check_unstarted(f, &g, "11111111-2222-3333-4444-555555555555", FALSE);
        assert_state(registry_lookup_by_uuid(f->registry, JF_UUID, NULL), DOMAIN_STATE_SHUTOFF, "failed");
}

/* The full record, written once QEMU's monitor is up, still says shutoff
 * (the state is saved when Start resumes the guest): as libvirt, a QEMU
 * still paused "wasn't fully started yet" and is killed. */
static void test_start_not_resumed(JobFixture *f, gconstpointer data) {
        JobGiven g = { .state = "shutoff", .reason = "unknown", .persistent = TRUE };

        check_not_started(f, &g, JF_UUID, "prelaunch", TRUE);
        assert_state(registry_lookup_by_uuid(f->registry, JF_UUID, NULL), DOMAIN_STATE_SHUTOFF, "failed");
}

/* ... but one that runs got Start's cont before the daemon died: it
 * "finished booting" (libvirt), and stays. */
static void test_start_resumed_unsaved(JobFixture *f, gconstpointer data) {
        const JobGiven g = { .state = "shutoff", .reason = "unknown", .persistent = TRUE };

        job_fixture_given(f, &g, "running", NULL);
        assert_state(job_fixture_restart(f), DOMAIN_STATE_RUNNING, "booted");
        g_assert_true(job_fixture_qemu_alive(f));
        g_assert_cmpuint(f->completed->len, ==, 0);
}

void job_recovery_in_add_tests(void) {
#define ADD(path, func) g_test_add("/job-recovery/in/" path, JobFixture, NULL, job_fixture_set_up, func, \
                                   job_fixture_tear_down)
        ADD("prepare", test_prepare);
        ADD("prepare/postcopy", test_prepare_postcopy);
        ADD("prepare/removes-created-images", test_prepare_removes_created_images);
        ADD("prepare/unstarted", test_prepare_unstarted);
        ADD("prepare/unspawned", test_prepare_unspawned);
        ADD("start/unstarted", test_start_unstarted);
        ADD("unstarted/pid-reused", test_unstarted_pid_reused);
        ADD("start/not-resumed", test_start_not_resumed);
        ADD("start/resumed-unsaved", test_start_resumed_unsaved);
        ADD("postcopy/keeps-created-images", test_postcopy_keeps_created_images);
        ADD("postcopy/running", test_postcopy_running);
        ADD("postcopy/paused", test_postcopy_paused);
        ADD("postcopy/deadline", test_postcopy_deadline);
        ADD("finish3", test_finish3);
        ADD("finish3/paused", test_finish3_paused);
        ADD("finish3/postcopy", test_finish3_postcopy);
        ADD("finish2", test_finish2);
        ADD("finish2/stream-failed", test_finish2_stream_failed);
#undef ADD
}
