/* The source side of a v3 migration: Perform, and resuming the guest after
 * a failure (Begin is in migration-begin.c, Confirm and Perform2 in
 * migration-confirm.c, the job controls in migration-controls.c). */
#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "md-error.h"
#include "migration-safety.h"
#include "migration-setup.h"
#include "migration-source.h"
#include "migration-storage.h"
#include "migration.h"

/* ---- Perform ----
 *
 * One ownership style for the GTask of a call, here and in the other phase
 * files: the function that creates or receives a task holds it in a
 * g_autoptr(GTask) and hands it on with g_steal_pointer() (to the job, as
 * job->perform, or to the QEMU command it waits for, whose callback takes
 * it back into a g_autoptr); returning it drops no reference by hand. What
 * a call carries from step to step is a typed struct set as the task's
 * task data (freed with the task); results are only the task's return
 * value. A step's callback finds its job through perform_job(), the one
 * guard: the domain, its QEMU or the job may have gone meanwhile, or the
 * job ended this Perform (migration_job_end() returned its task). */

typedef struct {
        DomainRef *ref;
        MigrationCookieGraphics *graphics; /* the destination's display, from Prepare's cookie (nullable) */
} PerformCall;

static void perform_call_free(PerformCall *call) {
        domain_ref_free(call->ref);
        migration_cookie_graphics_free(call->graphics);
        g_free(call);
}

static MigrationJob *perform_job(GTask *task) {
        PerformCall *call = g_task_get_task_data(task);
        Domain *d = domain_ref_get(call->ref);
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        return job && job->perform == task && d->qemu ? job : NULL;
}

/* libvirt's rule: a failed Perform3 needs no Confirm3 from a client that
 * has gone, and after a completed one nobody will tell the outcome: a job
 * nobody drives any more ends as soon as its stream does. */
static const char *client_gone(void) {
        /* TRANSLATORS: a reason, set into other messages after a colon or in parentheses. */
        return _("the client driving the migration left the bus");
}

static void perform_fail(MigrationJob *job, MdError code, const char *message) {
        g_autoptr(GTask) task = g_steal_pointer(&job->perform);
        Domain *d = job->domain;
        gboolean unattended = job->unattended;

        job->stream_failed = TRUE;
        g_free(job->error);
        job->error = g_strdup(message);
        g_clear_handle_id(&job->poll_timer, g_source_remove);
        migration_job_arm_deadline(job);
        /* May end (free) the job at once, as Perform2's callback does. */
        if (task)
                g_task_return_new_error(task, MD_ERROR, code, "%s", message);
        if (unattended && d->job)
                migration_job_abandon(d, client_gone());
}

static void on_migrate_started(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        MigrationJob *job = perform_job(task);

        if (!job)
                return;
        if (!ok) {
                g_autofree char *msg = g_strdup_printf(_("Failed to start the migration: %s"), error->message);
                perform_fail(job, MD_ERROR_MIGRATION_FAILED, msg);
                return;
        }
        migration_job_start_polling(job);
}

static void start_stream(MigrationJob *job, GTask *task /* consumed */) {
        g_autoptr(GTask) owned = task;
        Domain *d = job->domain;

        /* An AbortJob that came while QEMU was being set up: no stream at all. */
        if (job->aborted) {
                perform_fail(job, MD_ERROR_MIGRATION_ABORTED, _("The migration was aborted"));
                return;
        }
        /* Without LIVE, libvirt pauses the guest for the whole transfer. */
        qemu_monitor_migrate_async(qemu_process_get_qmp(d->qemu), job->params->migrate_uri,
                                   !(job->params->flags & MIGRATE_LIVE) && d->state == DOMAIN_STATE_RUNNING,
                                   on_migrate_started, g_steal_pointer(&owned));
}

/* As libvirt: a display that cannot be relocated costs the client, not the migration. */
static void on_display_relocated(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        PerformCall *call = g_task_get_task_data(task);
        MigrationJob *job;

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("Failed to tell QEMU where the SPICE display moves, a connected client will not "
                          "follow the guest: %s, ignoring", error->message);
        else
                g_debug("QEMU relocates SPICE clients to %s port %" G_GINT64_FORMAT, call->graphics->listen,
                        call->graphics->port);
        job = perform_job(task);
        if (job)
                start_stream(job, g_steal_pointer(&task));
}

/* libvirt's graphics relocation: before the stream starts, a SPICE server
 * learns the destination's display (QEMU relocates no VNC client). */
static void relocate_display(MigrationJob *job, GTask *task /* consumed */) {
        g_autoptr(GTask) owned = task;
        const MigrationCookieGraphics *g = ((PerformCall *) g_task_get_task_data(task))->graphics;

        if (!g || !g_str_equal(g->type, "spice")) {
                start_stream(job, g_steal_pointer(&owned));
                return;
        }
        qemu_monitor_client_migrate_info_async(qemu_process_get_qmp(job->domain->qemu), "spice", g->listen,
                                               (guint16) g->port, (guint16) g->tls_port, on_display_relocated,
                                               g_steal_pointer(&owned));
}

/* Step 2b (storage migration): every disk's mirror is READY; RAM follows. */
static void on_storage_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = migration_storage_mirror_finish(result, &error);
        MigrationJob *job = perform_job(task);

        if (!job)
                return;
        if (!ok) {
                perform_fail(job, job->aborted ? MD_ERROR_MIGRATION_ABORTED : MD_ERROR_MIGRATION_FAILED,
                             error->message);
                return;
        }
        relocate_display(job, g_steal_pointer(&task));
}

/* Step 2: QEMU has the job's settings (and told us which are in effect). */
static void on_setup_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) in_effect = qemu_migration_setup_source_finish(result, &error);
        MigrationJob *job = perform_job(task);

        if (!job)
                return;
        if (!in_effect) {
                g_autofree char *msg = g_strdup_printf(_("QEMU refused the migration settings: %s"),
                                                       error->message);
                perform_fail(job, MD_ERROR_MIGRATION_FAILED, msg);
                return;
        }
        migration_setup_merge_stats(&job->setup_stats, migration_setup_stats(in_effect, job->params));
        if (migration_storage_requested(job->params)) {
                g_autofree char *host = NULL;

                if (!job->params->tls_destination)
                        (void) migration_uri_parse(job->params->migrate_uri, &host, NULL, NULL);
                migration_storage_mirror_async(job->domain, job->params->migrate_uri,
                                               job->params->tls_destination ? job->params->tls_destination : host,
                                               on_storage_ready, g_steal_pointer(&task));
                return;
        }
        relocate_display(job, g_steal_pointer(&task));
}

/* OFFLINE moves only the definition: no stream, the cookie carries it. */
static void perform_offline(Domain *d, MigrationJob *job) {
        g_autoptr(MigrationCookie) cookie = NULL;
        g_autoptr(GError) error = NULL;
        const DomainDef *def = d->def ? d->def : d->live;
        g_autoptr(GTask) task = g_steal_pointer(&job->perform);
        GBytes *bytes;

        cookie = migration_cookie_for_host(registry_get_config(d->registry), "perform3",
                                           job->params->destination_name ? job->params->destination_name
                                                                         : domain_name(d),
                                           domain_uuid(d));
        cookie->persistent_xml = job->params->persistent_xml ? g_strdup(job->params->persistent_xml)
                                                             : domain_def_format(def);
        migration_cookie_add_feature(cookie, "persistent-xml", TRUE);
        bytes = migration_cookie_encode(cookie, &error);
        migration_job_step(job, JOB_PHASE_PERFORM3_DONE);
        migration_job_arm_deadline(job);
        if (bytes)
                g_task_return_pointer(task, bytes, (GDestroyNotify) g_bytes_unref);
        else
                g_task_return_error(task, g_steal_pointer(&error));
}

static void setup_stream(Domain *d, MigrationJob *job, GTask *task);

/* Phase 3 proper, after the caller checked the job: shared by Perform3 and
 * Perform2. @p is merged into the job's parameters. The job holds @task
 * while it waits; the QEMU command in flight holds it too. */
static void perform_start(Domain *d, MigrationJob *job, MigrationParams *p, MigrationCookieGraphics *graphics,
                          GTask *task /* consumed */) {
        PerformCall *call = g_new0(PerformCall, 1);

        call->ref = domain_ref_new(d);
        call->graphics = graphics;
        g_task_set_task_data(task, call, (GDestroyNotify) perform_call_free);
        migration_params_fill_from(p, job->params);
        migration_params_free(job->params);
        job->params = p;
        migration_job_disarm_deadline(job);
        migration_job_step(job, JOB_PHASE_PERFORM3);
        job->perform = task;
        if (p->flags & MIGRATE_OFFLINE) {
                perform_offline(d, job);
                return;
        }
        /* Asked at Begin3 already (a no-op then). Never waited for: QEMU
         * answers in order, so the queries see QEMU as it was before the
         * job, and their replies come before the settings'. */
        migration_source_query_initial(d);
        setup_stream(d, job, g_object_ref(task));
}

static void setup_stream(Domain *d, MigrationJob *job, GTask *task /* consumed */) {
        g_autoptr(GTask) owned = task;
        MigrationParams *p = job->params;
        QemuMigrationSettings settings;
        QemuMigrationTls tls = { 0 };
        g_autofree char *host = NULL;
        g_autofree char *dir = NULL;

        migration_setup_settings(&settings, p, p->has_bandwidth ? p->bandwidth : d->max_speed_mib,
                                 d->max_downtime_ms);
        if (p->flags & MIGRATE_TLS) {
                g_autoptr(GError) error = NULL;
                MdConfig *c = registry_get_config(d->registry);

                dir = migration_setup_tls_dir(registry_get_runtime_dir(d->registry), c->tls_ca, c->tls_cert,
                                              c->tls_key, &error);
                if (!dir) {
                        perform_fail(job, error->code, error->message);
                        return;
                }
                /* QEMU checks the destination's certificate against this name. */
                if (!p->tls_destination)
                        (void) migration_uri_parse(p->migrate_uri, &host, NULL, NULL);
                tls = (QemuMigrationTls) { .dir = dir,
                                           .hostname = p->tls_destination ? p->tls_destination : host };
        }
        job->qemu_configured = TRUE;
        qemu_migration_setup_source_async(qemu_process_get_qmp(d->qemu), &settings, tls.dir ? &tls : NULL,
                                          on_setup_done, g_steal_pointer(&owned));
}

void migration_perform_async(Domain *d, MigrationParams *params, GBytes *cookie_in,
                             GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(MigrationParams) p = params;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        MigrationJob *job = d->job;
        gboolean offline;

        if (!migration_job_of(d, JOB_TYPE_MIGRATION_OUT)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Perform3 must follow Begin3 on domain '%s', which has no "
                                          "outgoing migration"), domain_name(d));
                return;
        }
        if (job->begin) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Perform3 must follow Begin3 on domain '%s', which has not "
                                          "answered yet"), domain_name(d));
                return;
        }
        if (!job_phase_check_transition(job->type, job->phase, JOB_PHASE_PERFORM3, &error)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID, _("Perform3 of '%s': %s"),
                                        domain_name(d), error->message);
                return;
        }
        cookie = migration_cookie_from_peer(registry_get_config(d->registry), cookie_in, domain_uuid(d), &error);
        if (!cookie) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        offline = ((p->flags | job->params->flags) & MIGRATE_OFFLINE) != 0;
        if (!offline && migration_storage_requested(job->params)) {
                if (!migration_storage_check_cookie(p, job->params, cookie->nbd_port, &error)) {
                        g_task_return_error(task, g_steal_pointer(&error));
                        return;
                }
                job->storage_port = (guint16) cookie->nbd_port;
        }
        if (!offline && !p->migrate_uri && !job->params->migrate_uri) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                        _("Perform3 needs the URI that Prepare3 returned (uri or migrate_uri)"));
                return;
        }
        if (!offline && !d->qemu) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("Domain '%s' is not running"), domain_name(d));
                return;
        }
        /* libvirt's rule: a display without its address is at the destination's host name. */
        if (cookie->graphics && !cookie->graphics->listen)
                cookie->graphics->listen = g_strdup(cookie->hostname);
        perform_start(d, job, g_steal_pointer(&p), g_steal_pointer(&cookie->graphics), g_steal_pointer(&task));
}

GBytes *migration_perform_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}

/* Why the stream failed (QEMU's error text or status; NULL: unknown). */
static char *stream_failure_message(const char *why, gboolean postcopy) {
        if (postcopy && why)
                return g_strdup_printf(_("The post-copy migration failed (%s); the guest cannot resume here "
                                         "and stays paused on the destination (postcopy-failed)"), why);
        if (postcopy)
                return g_strdup(_("The post-copy migration failed (unknown error); the guest cannot resume "
                                  "here and stays paused on the destination (postcopy-failed)"));
        if (why)
                return g_strdup_printf(_("The migration failed: %s"), why);
        return g_strdup(_("The migration failed: unknown error"));
}

/* Fails Perform when the final query-migrate says the stream did not
 * complete (or gave no answer); FALSE when it did complete. */
static gboolean final_stats_failed(Domain *d, MigrationJob *job, QemuMigrationInfo *reply,
                                   GError *query_error) {
        const char *status;
        g_autofree char *msg = NULL;

        /* Without QEMU's word the outcome is unknown, and unknown is never
         * success: the stream counts as failed (libvirt's rule), so that no
         * phase after it stops this guest. */
        if (!reply) {
                msg = g_strdup_printf(_("The outcome of the migration is unknown: the final "
                                        "query-migrate failed (%s)"), query_error->message);
                if (job->postcopy)
                        domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
                perform_fail(job, MD_ERROR_MIGRATION_FAILED, msg);
                return TRUE;
        }
        status = reply->status;
        if (g_strcmp0(status, "completed") == 0)
                return FALSE;
        if (g_strcmp0(status, "cancelled") == 0 || job->aborted) {
                job->aborted = TRUE;
                perform_fail(job, MD_ERROR_MIGRATION_ABORTED, _("The migration was aborted"));
                return TRUE;
        }
        /* The destination has the newest state: this side must not run again. */
        if (job->postcopy)
                domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        msg = stream_failure_message(reply->error_desc ? reply->error_desc : status, job->postcopy);
        perform_fail(job, MD_ERROR_MIGRATION_FAILED, msg);
        return TRUE;
}

/* The Perform3 cookie for Finish3: the guest's name there and the final
 * statistics (NULL and @error set if it could not be encoded). */
static GBytes *perform_cookie(Domain *d, MigrationJob *job, GError **error) {
        g_autoptr(MigrationCookie) cookie = NULL;

        /* The name the destination knows the guest by, for Finish3. */
        cookie = migration_cookie_for_host(registry_get_config(d->registry), "perform3",
                                           job->params->destination_name ? job->params->destination_name
                                                                         : domain_name(d),
                                           domain_uuid(d));
        cookie->source_stop_time_ms = job->stop_time_ms;
        cookie->stats = job->stats ? g_variant_ref(job->stats) : NULL;
        migration_cookie_add_feature(cookie, "stats", FALSE);
        return migration_cookie_encode(cookie, error);
}

/* The final query-migrate after the stream: the statistics of record. */
static void on_final_stats(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) query_error = NULL;
        g_autoptr(QemuMigrationInfo) reply = qemu_monitor_query_migrate_finish(result, &query_error);
        g_autoptr(GError) error = NULL;
        Domain *d = domain_ref_get(ref);
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);
        GBytes *bytes;
        GTask *task;
        gboolean unattended;

        if (!job || job->phase != JOB_PHASE_PERFORM3)
                return;
        if (final_stats_failed(d, job, reply, query_error))
                return;
        migration_job_update_stats(job, reply);
        g_clear_handle_id(&job->poll_timer, g_source_remove);
        domain_set_state(d, DOMAIN_STATE_PAUSED, "migration");
        bytes = perform_cookie(d, job, &error);
        migration_job_step(job, JOB_PHASE_PERFORM3_DONE);
        migration_job_arm_deadline(job);
        unattended = job->unattended;
        task = g_steal_pointer(&job->perform);
        if (!task)
                g_clear_pointer(&bytes, g_bytes_unref);
        else if (bytes)
                g_task_return_pointer(task, bytes, (GDestroyNotify) g_bytes_unref);
        else
                g_task_return_error(task, g_steal_pointer(&error));
        /* Returning the task may have run Perform2's Confirm at once, which
         * ends (frees) the job: nothing of it is read after that. */
        g_clear_object(&task);
        d = domain_ref_get(ref);
        if (unattended && d && d->job)
                migration_job_abandon(d, client_gone());
}

/* The job's stream_ended (migration_source_ops). */
static void migration_source_stream_ended(Domain *d, const char *status) {
        MigrationJob *job = d->job;

        if (job->phase != JOB_PHASE_PERFORM3 || job->stream_failed)
                return;
        if (g_str_equal(status, "postcopy-active")) {
                job->postcopy = TRUE;
                domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy");
                return;
        }
        if (g_str_equal(status, "cancelled"))
                job->aborted = TRUE;
        g_clear_handle_id(&job->poll_timer, g_source_remove);
        /* One more query: the final statistics, or why it failed. */
        qemu_monitor_query_migrate_async(qemu_process_get_qmp(d->qemu), on_final_stats, domain_ref_new(d));
}

/* ---- Resume after a failure (Confirm cancelled, the failure rules, recovery) ---- */

/* QEMU refuses cont while its run state is still finish-migrate: the
 * MIGRATION event says "completed" a moment before QEMU leaves that state
 * for postmigrate, and no event marks the step. A failure rule that ends a
 * job in that window (the outcome unknown) asks again, a bounded number of
 * times. */
#define RESUME_RETRY_MS 100
#define RESUME_TRIES 50

typedef struct {
        DomainRef *ref;
        guint tries;
} ResumeCall;

static void resume_call_free(ResumeCall *call) {
        domain_ref_free(call->ref);
        g_free(call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ResumeCall, resume_call_free)

static void on_resumed(GObject *source, GAsyncResult *result, gpointer user_data);

static void send_cont(Domain *d, ResumeCall *call) {
        call->tries++;
        qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_resumed, call);
}

static gboolean on_resume_retry(gpointer user_data) {
        g_autoptr(ResumeCall) call = user_data;
        Domain *d = domain_ref_get(call->ref);

        if (d && d->qemu)
                send_cont(d, g_steal_pointer(&call));
        return G_SOURCE_REMOVE;
}

static void on_resume_status(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ResumeCall) call = user_data;
        g_autoptr(QemuRunState) state = qemu_monitor_query_status_finish(result, NULL);
        Domain *d = domain_ref_get(call->ref);

        if (!d)
                return;
        if (state && g_str_equal(state->status, "finish-migrate") && call->tries < RESUME_TRIES) {
                g_timeout_add(RESUME_RETRY_MS, on_resume_retry, g_steal_pointer(&call));
                return;
        }
        g_warning("Failed to resume '%s' after a cancelled migration: QEMU refused cont (run state %s)",
                  domain_name(d), state ? state->status : "unknown");
}

static void on_resumed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(ResumeCall) call = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_ref_get(call->ref);

        if (!d)
                return;
        if (!ok) {
                g_debug("QEMU refused cont for '%s': %s", domain_name(d), error->message);
                if (d->qemu)
                        qemu_monitor_query_status_async(qemu_process_get_qmp(d->qemu), on_resume_status,
                                                        g_steal_pointer(&call));
                return;
        }
        domain_set_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
}

void migration_source_resume(Domain *d) {
        /* After the switch to post-copy the destination has the newest state. */
        if (!d->qemu || (d->job && d->job->postcopy))
                return;
        /* The user had paused it: the migration gives it back paused. */
        if (d->job && d->job->paused_before) {
                /* A job restored after a restart knows only that it was paused. */
                domain_set_state(d, DOMAIN_STATE_PAUSED,
                                 d->job->paused_reason_before ? d->job->paused_reason_before : "user");
                return;
        }
        if (d->state == DOMAIN_STATE_RUNNING) {
                domain_set_state(d, DOMAIN_STATE_RUNNING, "migration-canceled");
                return;
        }
        ResumeCall *call = g_new0(ResumeCall, 1);

        call->ref = domain_ref_new(d);
        send_cont(d, call);
}

const MigrationJobOps migration_source_ops = {
        .stream_ended = migration_source_stream_ended,
        .resume = migration_source_resume,
        .pre_switchover = migration_storage_switchover,
        .block_job_event = migration_storage_block_job_event,
        .ending = migration_storage_job_ended,
};
