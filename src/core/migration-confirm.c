/* The source side's last phase: Confirm (the guest stops here or runs
 * again), and protocol 2's Perform2, which ends in Confirm's success. */
#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "md-error.h"
#include "migration-source.h"
#include "migration.h"

/* Confirm gives the source QEMU this long to exit before SIGKILL. */
#define SOURCE_EXIT_GRACE_MS 10000

/* ---- Confirm ----
 *
 * GTask ownership as in migration-source.c: a g_autoptr(GTask) in the
 * function that creates or receives it, handed on with g_steal_pointer(). */

static void on_source_gone(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;

        g_task_return_boolean(task, TRUE);
}

static void confirm_success(Domain *d, GTask *task /* consumed */, guint flags) {
        g_autoptr(GTask) owned = task;
        g_autoptr(GError) error = NULL;
        /* An offline migration moved only the definition: a guest running
         * here (if any) keeps running. */
        gboolean stop_guest = d->qemu && !(flags & MIGRATE_OFFLINE);
        GTask *waiter;

        migration_job_step(d->job, JOB_PHASE_CONFIRM3);
        migration_job_end(d, JOB_RESULT_COMPLETED, NULL);
        if (stop_guest) {
                waiter = g_task_new(NULL, NULL, on_source_gone, g_steal_pointer(&owned));
                g_ptr_array_add(d->exit_waiters, waiter);
                domain_kill(d, "migrated", SOURCE_EXIT_GRACE_MS);
        }
        /* The guest runs on the destination now: the definition may go. Last,
         * because a shut-off domain goes away with it. */
        if ((flags & MIGRATE_UNDEFINE_SOURCE) && domain_is_persistent(d) &&
            !registry_undefine(d->registry, d, 0, &error))
                g_warning("Failed to undefine '%s' after migrating it: %s", domain_name(d), error->message);
        if (!stop_guest) {
                g_task_return_boolean(task, TRUE);
        }
}

/* Confirm of a successful migration: needs a completed Perform3 and
 * Finish3's cookie (or none: the caller saw Finish2 return the domain). */
static void confirm_completed(Domain *d, const MigrationParams *p, GBytes *cookie_in, GTask *task_in /* consumed */) {
        g_autoptr(GTask) task = task_in;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        MigrationJob *job = d->job;

        if (job->stream_failed || !job_phase_check_transition(job->type, job->phase, JOB_PHASE_CONFIRM3, &error)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        job->stream_failed
                                        ? _("Confirm3 of a successful migration needs a completed "
                                            "Perform3 (the job of '%s' is in phase %s, after a "
                                            "failed stream); confirm with cancelled=true instead")
                                        : _("Confirm3 of a successful migration needs a completed "
                                            "Perform3 (the job of '%s' is in phase %s); confirm "
                                            "with cancelled=true instead"),
                                        domain_name(d), job_phase_to_string(job->phase));
                return;
        }
        /* No cookie: the caller saw Finish2 return the domain itself. */
        cookie = cookie_in ? migration_cookie_from_peer(registry_get_config(d->registry), cookie_in, NULL, &error) : NULL;
        if (cookie_in && !cookie) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        /* Only Finish's answer says that the guest runs there now (a
         * failed Finish returns no cookie): the cookie of another
         * phase must not stop and undefine the guest here. */
        if (cookie && cookie->phase && !g_str_equal(cookie->phase, "finish3")) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Confirm3 of a successful migration needs the cookie that "
                                          "Finish3 returned, not the one of %s; if Finish3 failed, "
                                          "confirm with cancelled=true"), cookie->phase);
                return;
        }
        if (cookie)
                migration_job_take_downtime(job, cookie->stats);
        confirm_success(d, g_steal_pointer(&task), p->flags | job->params->flags);
}

/* Confirm with cancelled: the guest runs here again (or stays paused as the
 * user had it), once the stream has stopped. */
static void confirm_cancelled(Domain *d, GTask *task_in /* consumed */) {
        g_autoptr(GTask) task = task_in;
        g_autoptr(GError) error = NULL;
        g_autofree char *msg = NULL;
        MigrationJob *job = d->job;
        gboolean performed;

        if (job->phase == JOB_PHASE_PERFORM3 && !job->stream_failed) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("The migration stream of '%s' is still running; abort it "
                                          "first (AbortJob)"), domain_name(d));
                return;
        }
        /* Only a Perform can have paused the guest; after Begin alone it runs as before. */
        performed = job->phase != JOB_PHASE_BEGIN3;
        if (!migration_job_set_phase(job, JOB_PHASE_CONFIRM3_CANCELLED, &error)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID, _("Confirm3 of '%s': %s"),
                                        domain_name(d), error->message);
                return;
        }
        if (performed)
                migration_source_resume(d);
        if (job->postcopy)
                domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        msg = g_strdup(job->error ? job->error : _("The migration was cancelled"));
        migration_job_end(d, job->aborted || !performed ? JOB_RESULT_CANCELLED : JOB_RESULT_FAILED, msg);
        g_task_return_boolean(task, TRUE);
}

void migration_confirm_async(Domain *d, MigrationParams *params, GBytes *cookie_in, gboolean cancelled,
                             GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(MigrationParams) p = params;

        if (!migration_job_of(d, JOB_TYPE_MIGRATION_OUT)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' has no outgoing migration to confirm"), domain_name(d));
                return;
        }
        if (cancelled)
                confirm_cancelled(d, g_steal_pointer(&task));
        else
                confirm_completed(d, p, cookie_in, g_steal_pointer(&task));
}

gboolean migration_confirm_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- Protocol 2 ---- */

/* Perform2's task data. */
typedef struct {
        DomainRef *ref;
        gboolean stop_source;
        guint64 job_serial;             /* the job Begin started */
        MigrationParams *params;        /* Perform's, until Begin has answered */
        GBytes *cookie_in;              /* nullable */
} Perform2;

static void perform2_free(Perform2 *p2) {
        domain_ref_free(p2->ref);
        migration_params_free(p2->params);
        g_clear_pointer(&p2->cookie_in, g_bytes_unref);
        g_free(p2);
}

static void on_perform2_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Perform2 *p2 = g_task_get_task_data(task);
        GError *error = NULL;
        g_autoptr(GBytes) cookie = migration_perform_finish(result, &error);
        Domain *d = domain_ref_get(p2->ref);
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        /* Only this call's job (an ending one is none: its end decides). */
        if (job && job->serial != p2->job_serial)
                job = NULL;
        if (!cookie) {
                /* v2's failure rule, here at once: the guest stays and runs here. */
                if (job) {
                        gboolean aborted = job->aborted;
                        migration_source_resume(d);
                        migration_job_end(d, aborted ? JOB_RESULT_CANCELLED : JOB_RESULT_FAILED, error->message);
                }
                g_task_return_error(task, error);
        } else if (!job) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                        _("The domain went away during Perform2"));
        } else if (p2->stop_source) {
                confirm_success(d, g_steal_pointer(&task), d->job->params->flags);
        } else {
                /* Finish2 decides first: the guest waits here, paused. */
                g_task_return_boolean(task, TRUE);
        }
}

/* Perform2 runs Begin itself, then Perform. */
static void on_perform2_begun(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Perform2 *p2 = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GBytes) cookie = NULL;
        Domain *d = domain_ref_get(p2->ref);
        MigrationJob *job;

        if (!migration_begin_finish(result, &xml, &cookie, &error))
                return g_task_return_error(task, g_steal_pointer(&error));
        /* Its job may have ended since (an abort before this callback ran),
         * and another client's Begin may have started a job of its own. */
        job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);
        if (!job || job->serial != migration_begin_job_serial(result))
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                               _("The domain went away during Perform2"));
        p2->job_serial = job->serial;
        /* Journaled with the Perform phase: recovery follows protocol 2's rules. */
        d->job->protocol = 2;
        migration_perform_async(d, g_steal_pointer(&p2->params), p2->cookie_in, on_perform2_done,
                                g_steal_pointer(&task));
}

void migration_perform2_async(Domain *d, MigrationParams *params, GBytes *cookie_in, const char *owner,
                              gboolean stop_source, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(MigrationParams) begin_params = g_new0(MigrationParams, 1);
        Perform2 *p2;

        migration_params_fill_from(begin_params, params);
        p2 = g_new0(Perform2, 1);
        p2->ref = domain_ref_new(d);
        p2->stop_source = stop_source;
        p2->params = params;
        p2->cookie_in = cookie_in ? g_bytes_ref(cookie_in) : NULL;
        g_task_set_task_data(task, p2, (GDestroyNotify) perform2_free);
        migration_begin_async(d, g_steal_pointer(&begin_params), owner, on_perform2_begun, g_steal_pointer(&task));
}

gboolean migration_perform2_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}
