#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "job-fixture.h"
#include "migration-jobs.h"
#include "recovery-load.h"
#include "test-util.h"
#include "userfaultfd.h"

#define WAIT_TIMEOUT_S 5

#define JF_XML "<domain type='qemu'><name>" JF_NAME "</name><uuid>" JF_UUID "</uuid>" \
        "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"

static void on_job_completed(Domain *d, GVariant *stats, gpointer user_data) {
        JobFixture *f = user_data;

        g_ptr_array_add(f->completed, g_variant_ref(stats));
        f->completed_with_qemu = d->qemu != NULL;
}

static void on_watch_client(const char *name, gpointer user_data) {
        JobFixture *f = user_data;

        g_ptr_array_add(f->watched, g_strdup(name));
}

static const RegistryListener listener = {
        .job_completed = on_job_completed,
        .watch_client = on_watch_client,
};

static GPtrArray *warnings;

static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                  gpointer user_data) {
        if (!(level & G_LOG_LEVEL_WARNING))
                return g_log_writer_default(level, fields, n_fields, user_data);
        for (gsize i = 0; i < n_fields; i++)
                if (g_str_equal(fields[i].key, "MESSAGE"))
                        g_ptr_array_add(warnings, g_strdup(fields[i].value));
        return G_LOG_WRITER_HANDLED;
}

void job_fixture_init_log(void) {
        warnings = g_ptr_array_new_with_free_func(g_free);
        g_log_set_writer_func(write_log, NULL, NULL);
}

void job_fixture_assert_warned(const char *pattern) {
        for (guint i = 0; i < warnings->len; i++)
                if (g_pattern_match_simple(pattern, warnings->pdata[i])) {
                        g_ptr_array_remove_index(warnings, i);
                        return;
                }
        g_error("no warning matches \"%s\"", pattern);
}

/* Post-copy's userfaultfd is there, whoever runs the tests: a test of the
 * host without it sets its own hook. */
static UserfaultfdAccess userfaultfd_there(gpointer user_data) {
        return USERFAULTFD_SYSCALL;
}

void job_fixture_set_up(JobFixture *f, gconstpointer data) {
        g_autoptr(GError) error = NULL;
        g_autofree char *log = NULL;

        /* In memory where there is a tmpfs: the state store syncs its
         * writes, which on a busy disk costs more than the tests themselves. */
        f->dir = g_build_filename(g_access("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir(), "md-job-XXXXXX",
                                  NULL);
        g_assert_nonnull(g_mkdtemp(f->dir));
        f->state_dir = g_build_filename(f->dir, "state", NULL);
        f->run_dir = g_build_filename(f->dir, "run", NULL);
        log = g_build_filename(f->dir, "log", NULL);
        f->config = md_config_load_from_data("", &error);
        g_assert_no_error(error);
        f->registry = registry_new(f->config, &(RegistryDirs) { .state_dir = f->state_dir,
                                                                .runtime_dir = f->run_dir,
                                                                .log_dir = log }, &error);
        g_assert_no_error(error);
        f->completed = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        f->watched = g_ptr_array_new_with_free_func(g_free);
        registry_set_listener(f->registry, &listener, f);
        f->fm = fake_monitor_new();
        g_ptr_array_set_size(warnings, 0);
        userfaultfd_set_probe_hook(userfaultfd_there, NULL);
}

void job_fixture_tear_down(JobFixture *f, gconstpointer data) {
        /* Frees the domains without killing their QEMU, as a daemon stop. */
        g_clear_pointer(&f->registry, registry_free);
        g_clear_pointer(&f->fm, fake_monitor_free);
        userfaultfd_set_probe_hook(NULL, NULL);
        g_ptr_array_unref(f->completed);
        g_ptr_array_unref(f->watched);
        md_config_free(f->config);
        test_remove_tree(f->dir);
        g_free(f->dir);
        g_free(f->state_dir);
        g_free(f->run_dir);
        if (warnings->len)
                g_error("unexpected warning: %s", (const char *) warnings->pdata[0]);
}

static void add_journal(JsonBuilder *b, const JobGiven *g) {
        json_builder_set_member_name(b, "job_type");
        json_builder_add_string_value(b, g->type);
        json_builder_set_member_name(b, "job_phase");
        json_builder_add_string_value(b, g->phase);
        json_builder_set_member_name(b, "job_flags");
        json_builder_add_int_value(b, g->flags);
        json_builder_set_member_name(b, "job_postcopy");
        json_builder_add_boolean_value(b, g->postcopy);
        json_builder_set_member_name(b, "job_postcopy_requested");
        json_builder_add_boolean_value(b, g->postcopy_requested);
        if (g->protocol) {
                json_builder_set_member_name(b, "job_protocol");
                json_builder_add_int_value(b, g->protocol);
        }
        json_builder_set_member_name(b, "paused_before");
        json_builder_add_boolean_value(b, g->paused_before);
        if (g->owner) {
                json_builder_set_member_name(b, "job_owner");
                json_builder_add_string_value(b, g->owner);
        }
        if (g->progress > 0) {
                json_builder_set_member_name(b, "job_progress");
                json_builder_add_double_value(b, g->progress);
        }
        if (g->storage_created) {
                json_builder_set_member_name(b, "job_storage_created");
                json_builder_begin_array(b);
                for (guint i = 0; g->storage_created[i]; i++)
                        json_builder_add_string_value(b, g->storage_created[i]);
                json_builder_end_array(b);
        }
}

/* The record as state-store.c writes it (tests/data/state/status-job.json). */
static void write_status(JobFixture *f, const JobGiven *g) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *text = NULL;
        g_autofree char *path = g_build_filename(f->state_dir, "status", JF_UUID ".json", NULL);

        json_builder_begin_object(b);
        if (!g->no_pid) {
                json_builder_set_member_name(b, "pid");
                json_builder_add_int_value(b, g->pid ? g->pid : JF_PID);
        }
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, g->state);
        json_builder_set_member_name(b, "reason");
        json_builder_add_string_value(b, g->reason);
        if (g->starting) {
                json_builder_set_member_name(b, "starting");
                json_builder_add_boolean_value(b, TRUE);
        }
        if (g->type)
                add_journal(b, g);
        json_builder_set_member_name(b, "xml");
        json_builder_add_string_value(b, g->xml ? g->xml : JF_XML);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        text = json_to_string(root, FALSE);
        g_assert_true(g_file_set_contents(path, text, -1, &error));
        g_assert_no_error(error);
        if (g->persistent) {
                g_autofree char *def = g_build_filename(f->state_dir, "domains", JF_NAME ".xml", NULL);
                g_assert_true(g_file_set_contents(def, g->xml ? g->xml : JF_XML, -1, &error));
                g_assert_no_error(error);
        }
}

void job_fixture_given(JobFixture *f, const JobGiven *given, const char *qemu_status,
                       const char *migrate_status) {
        g_autofree char *monitor = registry_monitor_path(f->registry, JF_UUID);
        g_autofree char *status = g_strdup_printf("{\"running\": %s, \"status\": \"%s\"}",
                                                  g_str_equal(qemu_status, "running") ? "true" : "false",
                                                  qemu_status);

        write_status(f, given);
        fake_monitor_serve_attaches(f->fm, monitor);
        fake_monitor_expect(f->fm, "query-status", status);
        fake_monitor_expect(f->fm, "query-memory-size-summary", "{\"base-memory\": 67108864}");
        if (migrate_status) {
                g_autofree char *reply = g_strdup_printf("{\"status\": \"%s\"}", migrate_status);
                fake_monitor_expect(f->fm, "query-migrate", reply);
        } else {
                fake_monitor_expect_error(f->fm, "query-migrate", "GenericError", "not now");
        }
}

void job_fixture_given_unstarted(JobFixture *f, const JobGiven *given) {
        g_assert_true(given->starting);
        write_status(f, given);
}

GPid job_fixture_spawn_stand_in(const char *uuid, int *ret_stdin) {
        const char *argv[] = { "/bin/sh", "-c", "read line", "sh", "-uuid", uuid, NULL };
        g_autoptr(GError) error = NULL;
        GPid pid = 0;

        g_assert_true(g_spawn_async_with_pipes(NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                               &pid, ret_stdin, NULL, NULL, &error));
        g_assert_no_error(error);
        return pid;
}

gboolean job_fixture_pid_gone(GPid pid) {
        return waitpid(pid, NULL, WNOHANG) == pid;
}

gboolean job_fixture_pidfd_works(void) {
        int fd = pidfd_open(getpid(), 0);

        if (fd < 0)
                return FALSE;
        close(fd);
        return TRUE;
}

static void on_loaded(GObject *source, GAsyncResult *result, gpointer user_data) {
        gboolean *done = user_data;
        g_autoptr(GError) error = NULL;

        g_assert_true(recovery_load_finish(NULL, result, &error));
        g_assert_no_error(error);
        *done = TRUE;
}

static gboolean is_true(gpointer data) {
        return *(gboolean *) data;
}

Domain *job_fixture_restart(JobFixture *f) {
        gboolean loaded = FALSE;

        recovery_load_async(f->registry, on_loaded, &loaded);
        job_fixture_run_until(is_true, &loaded);
        fake_monitor_flush(f->fm);
        /* No JobCompleted into the void: only once the bus name is ours. */
        g_assert_cmpuint(f->completed->len, ==, 0);
        migration_jobs_watch_clients(f->registry);
        migration_jobs_end_restored(f->registry);
        fake_monitor_flush(f->fm);
        return registry_lookup_by_uuid(f->registry, JF_UUID, NULL);
}

static gboolean qemu_gone(gpointer data) {
        JobFixture *f = data;
        Domain *d = registry_lookup_by_uuid(f->registry, JF_UUID, NULL);

        return !d || !d->qemu;
}

gboolean job_fixture_qemu_alive(JobFixture *f) {
        g_assert_cmpstr(fake_monitor_attached_uuid(f->fm), ==, JF_UUID);
        return !qemu_gone(f) && fake_monitor_is_connected(f->fm);
}

void job_fixture_assert_qemu_killed(JobFixture *f) {
        g_assert_cmpstr(fake_monitor_attached_uuid(f->fm), ==, JF_UUID);
        job_fixture_run_until(qemu_gone, f);
        fake_monitor_flush(f->fm);
        g_assert_false(fake_monitor_is_connected(f->fm));
}

static gboolean on_timeout(gpointer user_data) {
        *(gboolean *) user_data = TRUE;
        return G_SOURCE_REMOVE;
}

gboolean job_reply_done(gpointer reply) {
        return ((JobReply *) reply)->done;
}

void job_fixture_run_until(gboolean (*done)(gpointer), gpointer data) {
        gboolean timed_out = FALSE;
        guint timer = g_timeout_add_seconds(WAIT_TIMEOUT_S, on_timeout, &timed_out);

        while (!done(data) && !timed_out)
                g_main_context_iteration(NULL, TRUE);
        if (timed_out)
                g_error("waited %d s in vain", WAIT_TIMEOUT_S);
        g_source_remove(timer);
}

void job_fixture_assert_completed(JobFixture *f, gboolean success, const char *errmsg_part) {
        gboolean got_success = !success;
        const char *errmsg = NULL;

        g_assert_cmpuint(f->completed->len, ==, 1);
        g_assert_true(g_variant_lookup(f->completed->pdata[0], "success", "b", &got_success));
        g_assert_true(g_variant_lookup(f->completed->pdata[0], "errmsg", "&s", &errmsg));
        g_assert_cmpint(got_success, ==, success);
        if (!strstr(errmsg, errmsg_part))
                g_error("errmsg \"%s\" does not say \"%s\"", errmsg, errmsg_part);
}

void job_fixture_expire_deadline(MigrationJob *job) {
        GSource *timer;

        g_assert_cmpuint(job->phase_timer, !=, 0);
        timer = g_main_context_find_source_by_id(NULL, job->phase_timer);
        g_assert_nonnull(timer);
        g_source_set_ready_time(timer, 0);
}

GBytes *job_fixture_peer_cookie(JobFixture *f, const char *phase, const char *name, const char *uuid) {
        return job_fixture_peer_cookie_nbd(f, phase, name, uuid, 0);
}

GBytes *job_fixture_peer_cookie_nbd(JobFixture *f, const char *phase, const char *name, const char *uuid,
                                    gint64 nbd_port) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_for_host(registry_get_config(f->registry), phase,
                                                                      name, uuid);
        g_autoptr(GError) error = NULL;
        GBytes *bytes;

        g_free(cookie->host_uuid);
        cookie->host_uuid = g_strdup("6f1e2d3c-0000-4000-8000-00000000d357");
        cookie->nbd_port = nbd_port;
        bytes = migration_cookie_encode(cookie, &error);
        g_assert_no_error(error);
        return bytes;
}
