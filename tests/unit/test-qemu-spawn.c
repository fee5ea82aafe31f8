/* QEMU is held before its exec until its pid is recorded
 * (qemu-spawn-gate.c), through the real qemu_process_launch_async() with
 * a shell in QEMU's place: it lists the fds it inherited, creates a marker
 * file and sleeps. */
#include <errno.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "md-error.h"
#include "qemu-process.h"
#include "qemu-process-private.h"
#include "qemu-spawn-gate.h"

typedef struct {
        char *dir, *marker, *monitor, *log;
        char *argv[5];
        pid_t pid;                /* as the spawned callback saw it */
        gboolean fail_spawned;    /* the spawned callback fails (its record could not be written) */
        gboolean kill_spawned;    /* the spawned callback kills the held child (the OOM killer, a user) */
        gboolean done;
        GError *error;
} Fixture;

static GPtrArray *messages;     /* what the daemon's code logged at level message */

static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                  gpointer user_data) {
        if (level & G_LOG_LEVEL_MESSAGE)
                for (gsize i = 0; i < n_fields; i++)
                        if (g_str_equal(fields[i].key, "MESSAGE"))
                                g_ptr_array_add(messages, g_strdup(fields[i].value));
        return g_log_writer_default(level, fields, n_fields, user_data);
}

static gboolean logged(const char *pattern) {
        for (guint i = 0; i < messages->len; i++)
                if (g_pattern_match_simple(pattern, messages->pdata[i]))
                        return TRUE;
        return FALSE;
}

static gboolean pidfd_works(void) {
        int fd = pidfd_open(getpid(), 0);

        if (fd < 0)
                return FALSE;
        close(fd);
        return TRUE;
}

static void fixture_init(Fixture *f) {
        f->dir = g_dir_make_tmp("md-spawn-XXXXXX", NULL);
        g_assert_nonnull(f->dir);
        f->marker = g_build_filename(f->dir, "ran", NULL);
        f->monitor = g_build_filename(f->dir, "monitor.sock", NULL);
        f->log = g_build_filename(f->dir, "qemu.log", NULL);
        f->argv[0] = "/bin/sh";
        f->argv[1] = "-c";
        /* The shell's own fds, listed into its log (stdout: no redirection,
         * which would make the shell save an fd) by a child before the
         * shell opens anything: what the program inherited. */
        f->argv[2] = "ls /proc/$$/fd && touch \"$0\" && exec sleep 60";
        f->argv[3] = f->marker;
}

static void fixture_clear(Fixture *f) {
        g_unlink(f->marker);
        g_unlink(f->monitor);
        g_unlink(f->log);
        g_rmdir(f->dir);
        g_free(f->dir);
        g_free(f->marker);
        g_free(f->monitor);
        g_free(f->log);
        g_clear_error(&f->error);
}

/* Whether @pid runs /bin/sh (or what it execs): its cmdline names the marker. */
static gboolean runs_program(Fixture *f, pid_t pid) {
        return qemu_process_cmdline_mentions(pid, "/bin/sh") || qemu_process_cmdline_mentions(pid, "sleep");
}

/* The early record is written here: the program must not have run yet. */
static gboolean on_spawned(pid_t pid, gpointer user_data, GError **error) {
        Fixture *f = user_data;

        f->pid = pid;
        g_assert_false(runs_program(f, pid));
        g_assert_false(g_file_test(f->marker, G_FILE_TEST_EXISTS));
        if (f->kill_spawned) {
                siginfo_t info = { 0 };

                g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
                /* Dead (its gate end closed), left to the launch to reap. */
                g_assert_cmpint(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), ==, 0);
        }
        if (f->fail_spawned) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "no room for the record");
                return FALSE;
        }
        return TRUE;
}

static void on_launched(GObject *source, GAsyncResult *result, gpointer user_data) {
        Fixture *f = user_data;
        QemuProcess *p = qemu_process_launch_finish(result, &f->error);

        g_assert_null(p);       /* cancelled, or its record failed */
        f->done = TRUE;
}

static void launch(Fixture *f, GCancellable *cancellable) {
        qemu_process_launch_async(&(QemuLaunch) { .argv = f->argv, .monitor_path = f->monitor,
                                                  .log_path = f->log, .spawned = on_spawned,
                                                  .spawned_data = f },
                                  cancellable, on_launched, f);
}

/* Exactly stdin, stdout, stderr and the monitor: no gate end. Read from
 * the program's own list in its log, not from /proc while it runs: sleep
 * opens locale files of its own as it starts. */
static void assert_fds(Fixture *f) {
        g_autofree char *contents = NULL;
        g_auto(GStrv) fds = NULL;

        g_assert_true(g_file_get_contents(f->log, &contents, NULL, NULL));
        fds = g_strsplit(g_strstrip(contents), "\n", -1);
        for (guint i = 0; fds[i]; i++)
                if (g_ascii_strtoll(fds[i], NULL, 10) > 3)
                        g_error("the program inherited fd %s", fds[i]);
        g_assert_cmpuint(g_strv_length(fds), ==, 4);
}

static void test_held_until_recorded(void) {
        g_autoptr(GCancellable) cancellable = g_cancellable_new();
        gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
        Fixture f = { 0 };

        if (!pidfd_works()) {
                g_test_skip("pidfd_open() is not available (valgrind): no launch can be watched");
                return;
        }
        fixture_init(&f);
        launch(&f, cancellable);
        g_assert_cmpint(f.pid, >, 0);
        /* Let go once recorded: the program runs. */
        while (!g_file_test(f.marker, G_FILE_TEST_EXISTS) && g_get_monotonic_time() < deadline)
                g_usleep(10000);
        g_assert_true(g_file_test(f.marker, G_FILE_TEST_EXISTS));
        while (!runs_program(&f, f.pid) && g_get_monotonic_time() < deadline)
                g_usleep(10000);
        assert_fds(&f);
        g_cancellable_cancel(cancellable);
        while (!f.done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_error(f.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        fixture_clear(&f);
}

/* Its record failed: the child exits at the gate, never runs, is reaped. */
static void test_record_failed(void) {
        g_autofree char *expected = g_strdup_printf("QEMU * was held before exec and never ran (exit status %d)",
                                                    QEMU_GATE_CLOSED_STATUS);
        gboolean watched = pidfd_works();
        Fixture f = { .fail_spawned = TRUE };

        fixture_init(&f);
        launch(&f, NULL);
        while (!f.done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_true(logged(expected));
        if (watched) {
                g_assert_error(f.error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
                g_assert_cmpint(f.pid, >, 0);
                g_assert_true(kill(f.pid, 0) < 0 && errno == ESRCH);       /* reaped */
        } else {
                g_test_message("pidfd_open() is not available (valgrind): the launch fails before its record");
                g_assert_nonnull(f.error);
        }
        g_assert_false(g_file_test(f.marker, G_FILE_TEST_EXISTS));
        fixture_clear(&f);
}

/* Its exec fails (no such binary) after its record: the launch fails,
 * the child reaped (by GLib), nothing ran. */
static void test_exec_failed(void) {
        Fixture f = { 0 };

        if (!pidfd_works()) {
                g_test_skip("pidfd_open() is not available (valgrind): no launch can be watched");
                return;
        }
        fixture_init(&f);
        f.argv[0] = "/nonexistent/qemu-system";
        launch(&f, NULL);
        while (!f.done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_error(f.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_nonnull(strstr(f.error->message, "/nonexistent/qemu-system"));
        g_assert_cmpint(f.pid, >, 0);
        g_assert_true(kill(f.pid, 0) < 0 && errno == ESRCH);       /* reaped */
        g_assert_false(g_file_test(f.marker, G_FILE_TEST_EXISTS));
        fixture_clear(&f);
}

/* Killed while held at the gate, after its record: the launch fails
 * saying so (not with the gate's EPIPE), the child reaped once. */
static void test_killed_at_gate(void) {
        Fixture f = { .kill_spawned = TRUE };

        if (!pidfd_works()) {
                g_test_skip("pidfd_open() is not available (valgrind): no launch can be watched");
                return;
        }
        fixture_init(&f);
        launch(&f, NULL);
        while (!f.done)
                g_main_context_iteration(NULL, TRUE);
        g_assert_error(f.error, MD_ERROR, MD_ERROR_QEMU_FAILED);
        g_assert_cmpstr(f.error->message, ==, "Failed to start QEMU: its process died before it could run");
        g_assert_true(logged("QEMU * was held before exec and never ran (exit status 137)"));
        g_assert_true(kill(f.pid, 0) < 0 && errno == ESRCH);       /* reaped */
        g_assert_false(g_file_test(f.marker, G_FILE_TEST_EXISTS));
        fixture_clear(&f);
}

/* No thread can be created (RLIMIT_NPROC, as with a unit's TasksMax
 * reached): the launch fails, as a failed fork does, and the daemon goes
 * on. In a forked copy of this test, as nobody if root (exempt from the
 * limit). */
static void test_no_thread(void) {
        Fixture f = { 0 };
        pid_t daemon;
        int status = 0;

        if (!pidfd_works()) {
                g_test_skip("pidfd_open() is not available (valgrind): its own threads need tasks too");
                return;
        }
        fixture_init(&f);
        g_assert_cmpint(g_chmod(f.dir, 0777), ==, 0);
        /* As in the daemon, GTask (and the threads its class starts) is
         * set up long before: only the launch's own thread is refused. */
        g_type_ensure(G_TYPE_TASK);
        daemon = fork();
        g_assert_cmpint(daemon, >=, 0);
        if (daemon == 0) {
                const struct rlimit none = { 0, 0 };

                if ((getuid() == 0 && setuid(65534) < 0) || setrlimit(RLIMIT_NPROC, &none) < 0)
                        _exit(2);
                launch(&f, NULL);
                while (!f.done)
                        g_main_context_iteration(NULL, TRUE);
                _exit(g_error_matches(f.error, MD_ERROR, MD_ERROR_QEMU_FAILED) && f.pid == 0 ? 0 : 3);
        }
        g_assert_cmpint(waitpid(daemon, &status, 0), ==, daemon);
        if (!WIFEXITED(status))
                g_error("the launch without a thread killed the daemon (signal %d)", WTERMSIG(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
        g_assert_false(g_file_test(f.marker, G_FILE_TEST_EXISTS));
        fixture_clear(&f);
}

/* The "daemon" (a forked copy of this test) tells the child's pid, then
 * dies by SIGKILL with its record written but the gate not yet opened. */
static gboolean on_spawned_die(pid_t pid, gpointer user_data, GError **error) {
        int fd = GPOINTER_TO_INT(user_data);

        g_assert_cmpint(write(fd, &pid, sizeof(pid)), ==, sizeof(pid));
        raise(SIGKILL);
        return TRUE;
}

/* kill -9 of the daemon between the record and the exec: the held child
 * reads EOF (the daemon's end died with it) and exits, never running
 * QEMU. This test is its subreaper, so it gets the orphan's status. */
static void test_daemon_killed(void) {
        gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        Fixture f = { 0 };
        pid_t daemon, child = 0, got = 0;
        int fds[2], status = 0;

        if (!pidfd_works()) {
                g_test_skip("pidfd_open() is not available (valgrind): no launch can be watched");
                return;
        }
        fixture_init(&f);
        g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
        g_assert_cmpint(pipe(fds), ==, 0);
        daemon = fork();
        g_assert_cmpint(daemon, >=, 0);
        if (daemon == 0) {
                close(fds[0]);
                qemu_process_launch_async(&(QemuLaunch) { .argv = f.argv, .monitor_path = f.monitor,
                                                          .log_path = f.log, .spawned = on_spawned_die,
                                                          .spawned_data = GINT_TO_POINTER(fds[1]) },
                                          NULL, on_launched, &f);
                _exit(1);       /* not reached */
        }
        close(fds[1]);
        g_assert_cmpint(read(fds[0], &child, sizeof(child)), ==, sizeof(child));
        close(fds[0]);
        g_assert_cmpint(waitpid(daemon, &status, 0), ==, daemon);
        g_assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        while ((got = waitpid(child, &status, WNOHANG)) == 0 && g_get_monotonic_time() < deadline)
                g_usleep(10000);
        if (got != child) {
                kill(child, SIGKILL);
                (void) waitpid(child, NULL, 0);
                g_error("the child held at the gate outlived its daemon by 10 s (it ran: %d)",
                        g_file_test(f.marker, G_FILE_TEST_EXISTS));
        }
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, QEMU_GATE_CLOSED_STATUS);
        g_assert_false(g_file_test(f.marker, G_FILE_TEST_EXISTS));
        fixture_clear(&f);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        messages = g_ptr_array_new_with_free_func(g_free);
        g_log_set_writer_func(write_log, NULL, NULL);
        g_test_add_func("/qemu-spawn/held-until-recorded", test_held_until_recorded);
        g_test_add_func("/qemu-spawn/record-failed", test_record_failed);
        g_test_add_func("/qemu-spawn/exec-failed", test_exec_failed);
        g_test_add_func("/qemu-spawn/killed-at-gate", test_killed_at_gate);
        g_test_add_func("/qemu-spawn/no-thread", test_no_thread);
        g_test_add_func("/qemu-spawn/daemon-killed", test_daemon_killed);
        int status = g_test_run();

        g_ptr_array_unref(messages);
        return status;
}
