/* The destination side's last phase: Finish lets the guest run here or
 * throws it away; and what the incoming job does when its stream ends. */
#define G_LOG_DOMAIN "migrationd"

#include "domain-devices.h"
#include "i18n.h"
#include "md-error.h"
#include "migration-dest.h"
#include "migration-storage.h"
#include "migration.h"

/* ---- Finish ----
 *
 * Ownership of a call's GTask as in migration-source.c: a g_autoptr(GTask)
 * in the function that creates or receives it, handed on with
 * g_steal_pointer() (to the job as job->finish while Finish waits for the
 * stream, or to the command it waits for). The call's state is a typed
 * FinishCall as task data; its cookie for the source is a field of it,
 * read by migration_finish_finish() next to the task's result. */

typedef struct {
        gboolean v2;                 /* Finish2 (protocol 2): libvirt's rules differ */
        gboolean source_waits;       /* Finish2 from a peer-to-peer source, which keeps its
                                      * guest paused until this answer */
        DomainRef *ref;              /* the incoming domain, once known */
        GBytes *cookie;              /* the result's cookie for Confirm3 (nullable) */
} FinishCall;

static void finish_call_free(FinishCall *call) {
        domain_ref_free(call->ref);
        g_clear_pointer(&call->cookie, g_bytes_unref);
        g_free(call);
}

static FinishCall *finish_call(GTask *task) {
        return g_task_get_task_data(task);
}

/* Finish's answer; its cookie tells the source the real downtime
 * (@downtime_ms, -1 = unknown), which QEMU there cannot see. */
static void finish_return(GTask *task, Domain *d, gint64 downtime_ms) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_for_host(registry_get_config(d->registry), "finish3", domain_name(d),
                                                                      domain_uuid(d));
        g_autoptr(GError) error = NULL;
        GBytes *bytes;

        if (downtime_ms >= 0) {
                g_auto(GVariantDict) stats;

                g_variant_dict_init(&stats, NULL);
                g_variant_dict_insert(&stats, "downtime", "t", (guint64) downtime_ms);
                cookie->stats = g_variant_ref_sink(g_variant_dict_end(&stats));
                migration_cookie_add_feature(cookie, "stats", FALSE);
        }
        bytes = migration_cookie_encode(cookie, &error);

        if (!bytes) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        finish_call(task)->cookie = bytes;
        g_task_return_pointer(task, g_strdup(domain_uuid(d)), g_free);
}

/* libvirt's rules differ where the source may already be gone: managed
 * protocol 2 stops it before Finish2 (Perform2), so this copy may be the
 * only one and is kept. A peer-to-peer source keeps its guest paused until
 * Finish2 answers and resumes it on a failure, as Confirm3 cancelled
 * does: then Finish2 follows Finish3's rules, or the guest would be left
 * on two hosts. */
static gboolean finish_source_gone(MigrationJob *job) {
        return job->finish && finish_call(job->finish)->v2 && !finish_call(job->finish)->source_waits;
}

/* PERSIST_DEST: the inactive definition that came with the migration
 * (persistent_xml, or the source's from the Begin cookie), else the live one. */
static gboolean finish_persist(Domain *d, GError **error) {
        MigrationParams *params = d->job->params;

        if (!(params->flags & MIGRATE_PERSIST_DEST))
                return TRUE;
        if (params->persistent_xml)
                return registry_persist_xml(d->registry, d, params->persistent_xml, error);
        return registry_persist(d->registry, d, error);
}

/* The guest runs here now (or waits, PAUSED): end the job with the real
 * downtime, wall clock, from the source's stop to our resume (now, or in
 * post-copy when the guest ran here while the rest of its memory came). */
static void finish_complete(Domain *d, gboolean running) {
        MigrationJob *job = d->job;
        g_auto(GVariantDict) stats;
        g_autoptr(GTask) task = g_steal_pointer(&job->finish);
        gint64 resumed = job->resume_time_ms > 0 ? job->resume_time_ms : g_get_real_time() / 1000;
        gint64 downtime_ms = -1;

        domain_set_state(d, running ? DOMAIN_STATE_RUNNING : DOMAIN_STATE_PAUSED,
                         running ? "migrated" : "migration");
        g_variant_dict_init(&stats, job->stats);
        if (job->source_stop_time_ms > 0) {
                downtime_ms = MAX(0, resumed - job->source_stop_time_ms);
                g_variant_dict_insert(&stats, "downtime", "t", (guint64) downtime_ms);
        }
        g_clear_pointer(&job->stats, g_variant_unref);
        job->stats = g_variant_ref_sink(g_variant_dict_end(&stats));
        migration_job_end(d, JOB_RESULT_COMPLETED, NULL);
        if (task)
                finish_return(task, d, downtime_ms);
}

/* Finish fails and the incoming guest goes: the source still has it
 * (paused), and Confirm cancelled lets it run there again. A definition
 * this Finish made persistent goes with it. */
static void finish_fail(Domain *d, const char *message, gboolean undo_persist) {
        g_autoptr(GError) error = NULL;

        migration_job_end(d, JOB_RESULT_FAILED, message);
        if (undo_persist && domain_is_persistent(d) && !registry_undefine(d->registry, d, 0, &error))
                g_warning("Failed to remove the definition of '%s' after a failed Finish: %s, ignoring",
                          domain_name(d), error->message);
        /* The reason of a failed Prepare: not "crashed", we killed it. */
        domain_kill(d, "failed", 0);
}

typedef struct {
        DomainRef *ref;
        gboolean undo_persist;       /* this Finish made the domain persistent */
} FinishResume;

static void on_finish_resumed(GObject *source, GAsyncResult *result, gpointer user_data) {
        FinishResume *fr = user_data;
        g_autoptr(DomainRef) ref = fr->ref;
        gboolean undo_persist = fr->undo_persist;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_ref_get(ref);
        g_autofree char *msg = NULL;

        g_free(fr);
        if (!migration_job_of(d, JOB_TYPE_MIGRATION_IN))
                return;
        if (ok) {
                domain_devices_announce(qemu_process_get_qmp(d->qemu), d->live);
                finish_complete(d, TRUE);
                return;
        }
        if (finish_source_gone(d->job)) {
                /* libvirt's rule for protocol 2: the source has stopped its
                 * guest already, so this paused one may be the only copy. */
                msg = g_strdup_printf(_("Failed to start the migrated guest: %s; it stays paused here, "
                                        "where it may be the only copy: resume or destroy it"),
                                      error->message);
                migration_job_end(d, JOB_RESULT_FAILED, msg);
                return;
        }
        msg = g_strdup_printf(_("Failed to start the migrated guest: %s"), error->message);
        finish_fail(d, msg, undo_persist);
}

/* The stream is complete and Finish has been asked for. */
static void finish_proceed(Domain *d) {
        MigrationJob *job = d->job;
        g_autoptr(GError) error = NULL;
        gboolean was_persistent = domain_is_persistent(d);
        FinishResume *fr;

        if (job->postcopy && d->state == DOMAIN_STATE_RUNNING) {
                /* The guest runs here already, and only here: nothing undoes that. */
                if (!finish_persist(d, &error))
                        g_warning("Failed to keep the definition of '%s' (PERSIST_DEST): %s", domain_name(d),
                                  error->message);
                finish_complete(d, TRUE);
                return;
        }
        /* libvirt's order: the definition is safe before the vCPUs run. While
         * the source still holds the guest a failure fails Finish; managed
         * protocol 2 goes on, as libvirt does, since its source is gone. */
        if (!finish_persist(d, &error)) {
                if (!finish_source_gone(job)) {
                        g_autofree char *msg = g_strdup_printf(_("Failed to keep the definition of '%s' here "
                                                                 "(PERSIST_DEST): %s"),
                                                               domain_name(d), error->message);
                        finish_fail(d, msg, FALSE);
                        return;
                }
                g_warning("Failed to keep the definition of '%s' here (PERSIST_DEST): %s, ignoring (protocol 2)",
                          domain_name(d), error->message);
        }
        if (job->params->flags & MIGRATE_PAUSED) {
                finish_complete(d, FALSE);
                return;
        }
        fr = g_new0(FinishResume, 1);
        fr->ref = domain_ref_new(d);
        fr->undo_persist = !was_persistent && domain_is_persistent(d);
        qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_finish_resumed, fr);
}

static void on_postcopy_running(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_ref_get(ref);

        if (!d)
                return;
        if (!ok) {
                g_warning("Failed to run '%s' in post-copy: %s", domain_name(d), error->message);
                return;
        }
        if (d->job)
                d->job->resume_time_ms = g_get_real_time() / 1000;
        domain_devices_announce(qemu_process_get_qmp(d->qemu), d->live);
        domain_set_state(d, DOMAIN_STATE_RUNNING, "postcopy");
}

/* Why the incoming stream ended without completing, by QEMU's status. */
static char *stream_ended_message(const char *status, gboolean postcopy) {
        if (postcopy && g_str_equal(status, "failed"))
                return g_strdup(_("The post-copy stream failed; the guest is paused here (postcopy-failed)"));
        if (postcopy && g_str_equal(status, "cancelled"))
                return g_strdup(_("The post-copy stream was cancelled; the guest is paused here "
                                  "(postcopy-failed)"));
        if (postcopy)
                return g_strdup_printf(_("The post-copy stream ended with QEMU status %s; the guest is "
                                         "paused here (postcopy-failed)"), status);
        if (g_str_equal(status, "failed"))
                return g_strdup(_("The incoming migration stream failed"));
        if (g_str_equal(status, "cancelled"))
                return g_strdup(_("The incoming migration stream was cancelled"));
        return g_strdup_printf(_("The incoming migration stream ended with QEMU status %s"), status);
}

/* The job's stream_ended (migration_dest_ops). */
static void migration_dest_stream_ended(Domain *d, const char *status) {
        MigrationJob *job = d->job;

        if (g_str_equal(status, "postcopy-active")) {
                /* The guest runs here from now on, fetching missing pages on
                 * demand: journaled first, so that a restart keeps it. */
                job->postcopy = TRUE;
                if (job->phase != JOB_PHASE_POSTCOPY)
                        migration_job_step(job, JOB_PHASE_POSTCOPY);
                migration_job_disarm_deadline(job);
                qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_postcopy_running, domain_ref_new(d));
                return;
        }
        if (job->postcopy && !g_str_equal(status, "completed")) {
                /* Never kill it: only this side has the guest's newest state. */
                job->stream_failed = TRUE;
                g_free(job->error);
                job->error = stream_ended_message(status, TRUE);
                domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
                migration_job_end(d, JOB_RESULT_FAILED, job->error);
                return;
        }
        if (g_str_equal(status, "completed")) {
                job->incoming_done = TRUE;
                if (job->finish)
                        finish_proceed(d);
                else
                        migration_job_arm_deadline(job);
                return;
        }
        job->stream_failed = TRUE;
        g_free(job->error);
        job->error = stream_ended_message(status, FALSE);
        if (job->finish) {
                migration_job_end(d, JOB_RESULT_FAILED, job->error);
                domain_kill(d, "failed", 0);
        }
}

/* OFFLINE: the definition in the Perform cookie becomes ours. */
static void finish_offline(Registry *r, MigrationParams *mp, MigrationCookie *cookie, GTask *task /* consumed */) {
        g_autoptr(GTask) owned = task;
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = NULL;
        g_autofree char *xml = NULL;
        Domain *d;

        if (!cookie->persistent_xml) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                                        _("An offline migration's cookie must carry the definition; "
                                          "pass the cookie Perform3 returned"));
                return;
        }
        def = domain_def_parse(cookie->persistent_xml, -1, &error);
        if (def && mp->destination_name)
                domain_def_set_name(def, mp->destination_name);
        xml = def ? domain_def_format(def) : NULL;
        d = xml ? registry_define_xml(r, xml, &error) : NULL;
        if (!d) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        finish_return(task, d, -1);
}

static void on_cancelled_gone(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;

        g_task_return_pointer(task, NULL, NULL);
}

/* Post-copy cancelled: the guest is stopped here, never killed (only this
 * side has its newest state). The job ends failed either way; Finish fails
 * when QEMU did not stop, because then the guest still runs. */
static void on_postcopy_stopped(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_ref_get(finish_call(task)->ref);
        g_autofree char *msg = NULL;

        if (ok && d)
                domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        if (!ok)
                msg = g_strdup_printf(_("The source cancelled a post-copy migration, and pausing the "
                                        "guest here failed: %s"), error->message);
        if (migration_job_of(d, JOB_TYPE_MIGRATION_IN))
                migration_job_end(d, JOB_RESULT_FAILED,
                                  msg ? msg : _("The source cancelled a post-copy migration; the guest "
                                                "stays paused here (postcopy-failed)"));
        if (msg)
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "%s", msg);
        else
                g_task_return_pointer(task, NULL, NULL);
}

static void finish_cancelled(Domain *d, GTask *task /* consumed */) {
        g_autoptr(GTask) owned = task;
        GTask *waiter;

        if (!migration_job_of(d, JOB_TYPE_MIGRATION_IN)) {
                /* Nothing here (a failed Prepare, or QEMU died already). */
                g_task_return_pointer(task, NULL, NULL);
                return;
        }
        if (d->job->postcopy && d->qemu) {
                finish_call(task)->ref = domain_ref_new(d);
                qemu_monitor_stop_async(qemu_process_get_qmp(d->qemu), on_postcopy_stopped,
                                        g_steal_pointer(&owned));
                return;
        }
        migration_job_end(d, JOB_RESULT_CANCELLED, _("The source cancelled the migration"));
        if (!d->qemu) {
                /* Prepare is still under way: a QEMU still starting goes at once. */
                domain_kill(d, "migration-canceled", 0);
                g_task_return_pointer(task, NULL, NULL);
                return;
        }
        waiter = g_task_new(NULL, NULL, on_cancelled_gone, g_steal_pointer(&owned));
        g_ptr_array_add(d->exit_waiters, waiter);
        domain_kill(d, "migration-canceled", 0);
}

/* Finish with the cancelled flag: the guest is found by the name given,
 * or the one in the source's cookie if it sent one. */
static void finish_run_cancelled(Registry *r, const MigrationParams *mp, GBytes *cookie_in,
                                 GTask *task /* consumed */) {
        g_autoptr(MigrationCookie) cookie = NULL;
        const char *name = mp->destination_name;

        if (!name && cookie_in && g_bytes_get_size(cookie_in) > 0)
                cookie = migration_cookie_from_peer(registry_get_config(r), cookie_in, NULL, NULL);
        if (!name && cookie)
                name = cookie->name;
        finish_cancelled(name ? registry_lookup_by_name(r, name, NULL) : NULL, task);
}

/* The incoming job of @name, if it may go to @finish_phase now (*@ret_d:
 * its domain). */
static MigrationJob *waiting_job(Registry *r, const char *name, JobPhase finish_phase, Domain **ret_d,
                                 GError **error) {
        g_autoptr(GError) local = NULL;
        Domain *d = registry_lookup_by_name(r, name, NULL);
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_IN);
        MdError code = d ? MD_ERROR_OPERATION_INVALID : MD_ERROR_NO_SUCH_DOMAIN;

        if (job && job_phase_check_transition(job->type, job->phase, finish_phase, &local)) {
                *ret_d = d;
                return job;
        }
        if (local)
                g_set_error(error, MD_ERROR, code, _("No incoming migration of '%s' waits for Finish: %s"), name,
                            local->message);
        else
                g_set_error(error, MD_ERROR, code, _("No incoming migration of '%s' waits for Finish"), name);
        return NULL;
}

/* Moves @job to @finish_phase with what the source's cookie (nullable)
 * says, and finishes when the stream has ended. */
static void finish_job(Domain *d, MigrationJob *job, const MigrationParams *mp, const MigrationCookie *cookie,
                       JobPhase finish_phase, GTask *task /* consumed */) {
        gboolean job_postcopy = job->postcopy;

        job->params->flags |= mp->flags;
        job->source_stop_time_ms = cookie ? cookie->source_stop_time_ms : 0;
        if (cookie && cookie->stats) {
                g_clear_pointer(&job->stats, g_variant_unref);
                job->stats = g_variant_ref(cookie->stats);
        }
        migration_job_step(job, finish_phase);
        /* The stream may still be draining: wait for it, but not for ever. */
        migration_job_arm_stream_deadline(job);
        finish_call(task)->ref = domain_ref_new(d);
        job->finish = task;
        if (job->stream_failed) {
                migration_job_end(d, JOB_RESULT_FAILED, job->error);
                /* After the switch to post-copy the newest state is here. */
                if (!job_postcopy)
                        domain_kill(d, "failed", 0);
                return;
        }
        if (job->incoming_done)
                finish_proceed(d);
}

/* Protocol 2 (@v2) sends no statistics: Finish2 gets only the name. */
static void finish_run(Registry *r, MigrationParams *params, GBytes *cookie_in, gboolean v2, gboolean source_waits,
                       gboolean cancelled, GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        FinishCall *call = g_new0(FinishCall, 1);
        g_autoptr(MigrationParams) mp = params;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        const char *name = mp->destination_name;
        JobPhase finish_phase = v2 ? JOB_PHASE_FINISH2 : JOB_PHASE_FINISH3;
        MigrationJob *job;
        Domain *d = NULL;

        /* Which rules apply, for the steps that follow the stream. */
        call->v2 = v2;
        call->source_waits = source_waits;
        g_task_set_task_data(task, call, (GDestroyNotify) finish_call_free);

        if (cancelled) {
                finish_run_cancelled(r, mp, cookie_in, g_steal_pointer(&task));
                return;
        }
        if (v2 && !name) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                        _("Finish2 needs the domain's name at the destination (dname)"));
                return;
        }
        cookie = v2 ? NULL : migration_cookie_from_peer(registry_get_config(r), cookie_in, NULL, &error);
        if (!v2 && !cookie) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (!name)
                name = cookie->name;
        if (cookie && (mp->flags & MIGRATE_OFFLINE)) {
                finish_offline(r, mp, cookie, g_steal_pointer(&task));
                return;
        }
        job = waiting_job(r, name, finish_phase, &d, &error);
        if (!job) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (cookie && !g_str_equal(cookie->uuid, domain_uuid(d))) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                                        _("The migration cookie is for domain %s, not %s"), cookie->uuid,
                                        domain_uuid(d));
                return;
        }
        finish_job(d, job, mp, cookie, finish_phase, g_steal_pointer(&task));
}

void migration_finish_async(Registry *r, MigrationParams *params, GBytes *cookie_in, gboolean cancelled,
                            GAsyncReadyCallback callback, gpointer user_data) {
        finish_run(r, params, cookie_in, FALSE, TRUE, cancelled, callback, user_data);
}

void migration_finish2_async(Registry *r, MigrationParams *params, int retcode, gboolean source_waits,
                             GAsyncReadyCallback callback, gpointer user_data) {
        finish_run(r, params, NULL, TRUE, source_waits, retcode != 0, callback, user_data);
}

char *migration_finish_finish(GAsyncResult *result, GBytes **ret_cookie, GError **error) {
        GTask *task = G_TASK(result);
        char *uuid = g_task_propagate_pointer(task, error);
        GBytes *cookie = finish_call(task)->cookie;

        *ret_cookie = cookie ? g_bytes_ref(cookie) : NULL;
        return uuid;
}

const MigrationJobOps migration_dest_ops = {
        .stream_ended = migration_dest_stream_ended,
        .ending = migration_storage_job_ended,
};
