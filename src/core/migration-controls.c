/* The controls of a running outgoing job: AbortJob, the maximum speed and
 * downtime, and the switch to post-copy. GTask ownership as in
 * migration-source.c: a g_autoptr(GTask) in the function that creates or
 * receives it, handed on with g_steal_pointer(). */
#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "md-error.h"
#include "migration-source.h"
#include "migration-storage.h"
#include "migration.h"

/* AbortJob answers within this time even when QEMU does not. */
#define ABORT_REPLY_TIMEOUT_MS 5000
/* libvirt's bits of MigrateSetMaxSpeed and AbortJob. */
#define MIGRATE_MAX_SPEED_POSTCOPY (1u << 0)
#define ABORT_JOB_POSTCOPY (1u << 0)

/* ---- Abort ---- */

typedef struct {
        GTask *task;
        guint timer;
} AbortWait;

static void abort_wait_done(AbortWait *w) {
        g_clear_handle_id(&w->timer, g_source_remove);
        if (w->task) {
                g_task_return_boolean(w->task, TRUE);
                g_clear_object(&w->task);
        }
}

static gboolean on_abort_timeout(gpointer user_data) {
        AbortWait *w = user_data;

        w->timer = 0;
        g_debug("QEMU did not answer migrate_cancel within %d ms; the job ends when it does",
                ABORT_REPLY_TIMEOUT_MS);
        abort_wait_done(w);
        return G_SOURCE_REMOVE;
}

static void on_cancel_sent(GObject *source, GAsyncResult *result, gpointer user_data) {
        AbortWait *w = user_data;
        (void) qemu_monitor_command_finish(result, NULL);
        abort_wait_done(w);
        g_free(w);
}

void migration_abort_async(Domain *d, guint flags, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        MigrationJob *job = d->job;
        AbortWait *w;

        if (flags) {
                if (flags & ABORT_JOB_POSTCOPY)
                        g_task_return_new_error(task, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                                _("Aborting a post-copy migration (ABORT_JOB_POSTCOPY) is "
                                                  "not supported yet"));
                else
                        g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                                _("Unsupported flags 0x%x"), flags);
                return;
        }
        if (!job) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' has no job to abort"), domain_name(d));
                return;
        }
        /* libvirt's rule: after the switch only the destination has the newest
         * state; a cancel would leave the guest running nowhere. Once the
         * switch was asked for, QEMU may make it at any moment. */
        if (job->postcopy || job->postcopy_requested) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("The migration of '%s' runs in post-copy now and cannot be "
                                          "aborted: the guest's newest state is on the destination"),
                                        domain_name(d));
                return;
        }
        job->aborted = TRUE;
        switch (job->phase) {
        case JOB_PHASE_BEGIN3:
                migration_job_end(d, JOB_RESULT_CANCELLED, _("The migration was aborted"));
                break;
        case JOB_PHASE_PREPARE:
                migration_job_end(d, JOB_RESULT_CANCELLED, _("The incoming migration was aborted"));
                domain_kill(d, "migration-canceled", 0);
                break;
        case JOB_PHASE_PERFORM3:
                if (job->stream_failed || !d->qemu)
                        break;
                w = g_new0(AbortWait, 1);
                w->task = g_steal_pointer(&task);
                w->timer = g_timeout_add(ABORT_REPLY_TIMEOUT_MS, on_abort_timeout, w);
                qemu_monitor_migrate_cancel_async(qemu_process_get_qmp(d->qemu), on_cancel_sent, w);
                return;
        default:
                job->aborted = FALSE;
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("The migration of '%s' is in phase %s and can no longer be "
                                          "aborted; Confirm3 or Finish3 decides now"), domain_name(d),
                                        job_phase_to_string(job->phase));
                return;
        }
        g_task_return_boolean(task, TRUE);
}

gboolean migration_abort_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- Speed and downtime ---- */

static void on_parameter_set(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("Failed to change a migration parameter: %s, ignoring", error->message);
}

/* A running stream takes the new value at once; otherwise the next Perform does. */
static gboolean stream_running(Domain *d) {
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        return job && job->phase == JOB_PHASE_PERFORM3 && d->qemu;
}

gboolean migration_set_max_speed(Domain *d, guint64 mib_s, guint flags, GError **error) {
        if (flags & MIGRATE_MAX_SPEED_POSTCOPY) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("A separate post-copy bandwidth (MAX_SPEED_POSTCOPY) is not supported yet"));
                return FALSE;
        }
        if (flags) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, _("Unsupported flags 0x%x"), flags);
                return FALSE;
        }
        if (mib_s > QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Bandwidth %llu MiB/s is too large (at most %llu; 0 means unlimited)"),
                            (unsigned long long) mib_s,
                            (unsigned long long) QEMU_MIGRATION_BANDWIDTH_UNLIMITED_MIB);
                return FALSE;
        }
        d->max_speed_mib = mib_s;
        registry_notify_changed(d->registry, d, "MaxSpeed", NULL);
        if (stream_running(d))
                qemu_monitor_set_max_bandwidth_async(qemu_process_get_qmp(d->qemu), mib_s, on_parameter_set, NULL);
        migration_storage_set_speed(d, mib_s);
        return TRUE;
}

gboolean migration_set_max_downtime(Domain *d, guint64 ms, guint flags, GError **error) {
        if (flags) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, _("Unsupported flags 0x%x"), flags);
                return FALSE;
        }
        /* QEMU's own bounds for downtime-limit. */
        if (ms == 0 || ms > 2000000) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Maximum downtime must be between 1 and 2000000 ms, not %llu"),
                            (unsigned long long) ms);
                return FALSE;
        }
        d->max_downtime_ms = ms;
        registry_notify_changed(d->registry, d, "MaxDowntime", NULL);
        if (stream_running(d))
                qemu_monitor_set_downtime_limit_async(qemu_process_get_qmp(d->qemu), ms, on_parameter_set, NULL);
        return TRUE;
}

/* ---- Post-copy ---- */

void migration_start_postcopy_async(Domain *d, guint flags, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(GError) error = NULL;
        MigrationJob *job = d->job;

        if (flags) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS, _("Unsupported flags 0x%x"), flags);
                return;
        }
        if (!migration_job_of(d, JOB_TYPE_MIGRATION_OUT) || job->phase != JOB_PHASE_PERFORM3 ||
            job->stream_failed || !d->qemu) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' has no running migration stream to switch to "
                                          "post-copy"), domain_name(d));
                return;
        }
        if (!(job->params->flags & MIGRATE_POSTCOPY)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("The migration of '%s' was not started with the POSTCOPY flag; "
                                          "QEMU can only switch when both sides enabled post-copy"),
                                        domain_name(d));
                return;
        }
        /* Journaled before QEMU hears of it: a restart in between must not
         * take the stream for pre-copy (cancel and resume here). */
        job->postcopy_requested = TRUE;
        if (!domain_save_status(d, &error)) {
                job->postcopy_requested = FALSE;
                g_task_return_new_error(task, error->domain, error->code,
                                        _("Cannot record the switch to post-copy before asking QEMU: %s"),
                                        error->message);
                return;
        }
        qemu_monitor_migrate_start_postcopy_async(qemu_process_get_qmp(d->qemu), qemu_monitor_complete_task,
                                                  g_steal_pointer(&task));
}
