#define G_LOG_DOMAIN "migrationd"


#include "i18n.h"
#include "md-error.h"
#include "migration-job.h"
#include "migration-setup.h"
#include "registry.h"

const char *migration_job_describe(const MigrationJob *job) {
        return job_phase_to_string(job->phase);
}

MigrationJob *migration_job_of(Domain *d, JobType type) {
        return d && d->job && d->job->type == type && !d->job->ending ? d->job : NULL;
}

/* The job is part of the live status: a restart must know it. */
static void save_status(Domain *d) {
        g_autoptr(GError) error = NULL;

        if (d->qemu && d->live && !domain_save_status(d, &error))
                g_warning("%s, ignoring", error->message);
}

static gint64 now_ms(void) {
        return g_get_monotonic_time() / 1000;
}

void migration_job_free(MigrationJob *job) {
        if (!job)
                return;
        /* The calls its timers answer now see it as gone. */
        job->ending = TRUE;
        g_clear_handle_id(&job->phase_timer, g_source_remove);
        g_clear_handle_id(&job->poll_timer, g_source_remove);
        /* Freed without an end (the daemon stops): Begin still answers once. */
        if (job->begin)
                g_task_return_new_error(job->begin, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "%s",
                                        _("The migration ended"));
        g_clear_object(&job->begin);
        g_clear_pointer(&job->params, migration_params_free);
        g_clear_pointer(&job->stats, g_variant_unref);
        g_clear_pointer(&job->setup_stats, g_variant_unref);
        g_free(job->owner);
        g_free(job->error);
        g_free(job->paused_reason_before);
        g_free(job->end_when_heard);
        g_clear_handle_id(&job->storage_timer, g_source_remove);
        g_clear_pointer(&job->storage_created, g_ptr_array_unref);
        g_strfreev(job->storage_jobs);
        g_strfreev(job->storage_nodes);
        g_free(job);
}

static void count_job(Domain *d, gpointer user_data) {
        guint *n = user_data;

        *n += d->job != NULL;
}

static guint count_jobs(Registry *r) {
        guint n = 0;

        registry_foreach_domain(r, count_job, &n);
        return n;
}

/* ---- What the job hears of its domain ---- */

static void observe_event(Domain *d, const QemuEvent *event, gpointer user_data) {
        migration_job_on_event(d, event);
}

static void observe_exit(Domain *d, gpointer user_data) {
        migration_job_on_qemu_exit(d);
}

static void observe_describe(gpointer user_data, const char **ret_kind, const char **ret_phase) {
        const MigrationJob *job = user_data;

        *ret_kind = job_type_to_string(job->type);
        *ret_phase = migration_job_describe(job);
}

static void observe_journal(JsonBuilder *builder, gpointer user_data) {
        migration_journal_write(builder, user_data);
}

static void observe_free(gpointer user_data) {
        migration_job_free(user_data);
}

/* The source's guest pauses for the switch-over and resumes only when the
 * migration is cancelled. */
static const DomainObserver outgoing_observer = {
        .stop_reason = "migration",
        .resume_reason = "migration-canceled",
        .qemu_event = observe_event,
        .process_exited = observe_exit,
        .describe = observe_describe,
        .write_journal = observe_journal,
        .free = observe_free,
};

/* An incoming guest runs when Finish says so, with its own reason. */
static const DomainObserver incoming_observer = {
        .owns_resume = TRUE,
        .qemu_event = observe_event,
        .process_exited = observe_exit,
        .describe = observe_describe,
        .write_journal = observe_journal,
        .free = observe_free,
};

/* Makes @job the domain's job and installs the observer through which the
 * job hears of its domain (QMP events, QEMU's exit; domain.h). The job
 * removes it when it ends. */
/* Every job gets a serial of its own, which callbacks compare rather than
 * the job's address (a later job may be allocated at the same one). */
static void job_attach(Domain *d, MigrationJob *job) {
        static guint64 last_serial;

        job->serial = ++last_serial;
        d->job = job;
        domain_set_observer(d, job->type == JOB_TYPE_MIGRATION_OUT ? &outgoing_observer : &incoming_observer,
                            job);
}

/* Counted as still to send until QEMU reports its own figures. */
static guint64 ram_bytes(Domain *d) {
        const DomainDef *def = domain_current_def(d);

        return def ? def->memory_kib * 1024 : 0;
}

MigrationJob *migration_job_start(Domain *d, JobType type, JobPhase phase, const MigrationJobOps *ops,
                                  MigrationParams *params, const char *owner, GError **error) {
        g_autoptr(MigrationParams) owned = params;
        Registry *r = d->registry;
        MigrationJob *job;
        guint running;

        if (!require_no_job(d, error) || !job_phase_check_transition(type, JOB_PHASE_NONE, phase, error))
                return NULL;
        running = count_jobs(r);
        if (running >= registry_get_config(r)->max_jobs) {
                g_set_error(error, MD_ERROR, MD_ERROR_JOB_ACTIVE,
                            _("This host runs %u migration jobs already ([migration] max_jobs=%u); "
                              "try again when one has finished"), running, registry_get_config(r)->max_jobs);
                return NULL;
        }
        job = g_new0(MigrationJob, 1);
        job->domain = d;
        job->type = type;
        job->ops = ops;
        job->phase = phase;
        job->params = g_steal_pointer(&owned);
        job->owner = g_strdup(owner);
        job->protocol = 3;
        job->start_ms = now_ms();
        job_progress_init(&job->progress, ram_bytes(d));
        job_attach(d, job);
        g_debug("Domain %s: %s job starts in phase %s", domain_name(d), job_type_to_string(type),
                job_phase_to_string(phase));
        registry_notify_changed(r, d, "JobType", "JobPhase", "JobProgress", NULL);
        migration_job_arm_deadline(job);
        save_status(d);
        /* It may have left before its call was dispatched (polkit asked meanwhile). */
        if (owner)
                registry_watch_client(r, owner);
        return job;
}

gboolean migration_job_set_phase(MigrationJob *job, JobPhase phase, GError **error) {
        if (!job_phase_check_transition(job->type, job->phase, phase, error))
                return FALSE;
        g_debug("Domain %s: %s job goes from %s to %s", domain_name(job->domain), job_type_to_string(job->type),
                job_phase_to_string(job->phase), job_phase_to_string(phase));
        job->phase = phase;
        registry_notify_changed(job->domain->registry, job->domain, "JobPhase", NULL);
        save_status(job->domain);
        return TRUE;
}

void migration_job_step(MigrationJob *job, JobPhase phase) {
        g_autoptr(GError) error = NULL;

        if (!migration_job_set_phase(job, phase, &error))
                g_warning("Domain %s: %s; the job stays in phase %s (a bug)", domain_name(job->domain),
                          error->message, job_phase_to_string(job->phase));
}

static gboolean on_deadline(gpointer user_data) {
        MigrationJob *job = user_data;
        /* TRANSLATORS: a reason, set into other messages after a colon or in parentheses. */
        g_autofree char *why = g_strdup_printf(_("no next migration phase arrived within %u s"),
                                               registry_get_config(job->domain->registry)->phase_timeout_s);

        job->phase_timer = 0;
        migration_job_abandon(job->domain, why);
        return G_SOURCE_REMOVE;
}

void migration_job_arm_deadline(MigrationJob *job) {
        migration_job_disarm_deadline(job);
        /* A driving client that is alive may take its time (libvirt has no
         * deadline at all; it acts when the client's connection closes), and
         * a peer-to-peer job is driven by this daemon itself. A job restored
         * after a restart always has one: its client's call failed with the
         * daemon and it may never come back, even if its name is still on the bus. */
        if (!job->unattended && !job->restored)
                return;
        job->phase_timer = g_timeout_add_seconds(registry_get_config(job->domain->registry)->phase_timeout_s,
                                                 on_deadline, job);
}

void migration_job_arm_stream_deadline(MigrationJob *job) {
        migration_job_disarm_deadline(job);
        job->phase_timer = g_timeout_add_seconds(registry_get_config(job->domain->registry)->phase_timeout_s,
                                                 on_deadline, job);
}

void migration_job_disarm_deadline(MigrationJob *job) {
        g_clear_handle_id(&job->phase_timer, g_source_remove);
}

/* ---- The end ---- */

static const char *job_result_to_string(JobResult result) {
        switch (result) {
        case JOB_RESULT_COMPLETED:
                return "completed";
        case JOB_RESULT_CANCELLED:
                return "cancelled";
        default:
                return "failed";
        }
}

static void on_reset_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!qemu_migration_reset_finish(result, &error))
                g_warning("Failed to reset QEMU's migration settings: %s, ignoring", error->message);
}

/* The guest stays on a QEMU that has the job's capabilities: the next job
 * must start clean. */
void migration_job_reset_qemu(Domain *d) {
        qemu_migration_reset_async(qemu_process_get_qmp(d->qemu), on_reset_done, NULL);
}

void migration_job_end(Domain *d, JobResult result, const char *errmsg) {
        MigrationJob *job = d->job;
        Registry *r = d->registry;
        g_auto(GVariantDict) dict;
        g_autoptr(GVariant) stats = NULL;

        /* A call it answers may react to its failure: not by ending it again. */
        if (!job || job->ending)
                return;
        job->ending = TRUE;
        g_clear_handle_id(&job->phase_timer, g_source_remove);
        g_clear_handle_id(&job->poll_timer, g_source_remove);
        /* A QEMU that keeps the guest (a failed source, a successful
         * destination) will be a source itself one day; the others are
         * about to be killed. */
        bool keeps_guest = (job->type == JOB_TYPE_MIGRATION_OUT) != (result == JOB_RESULT_COMPLETED);
        if (job->qemu_configured && d->qemu && keeps_guest)
                migration_job_reset_qemu(d);
        job_progress_end(&job->progress, result == JOB_RESULT_COMPLETED);
        if (job->ops->ending)
                job->ops->ending(d, result == JOB_RESULT_COMPLETED);
        stats = migration_job_stats(job, job->stats);
        g_variant_dict_init(&dict, stats);
        g_variant_dict_insert(&dict, "success", "b", result == JOB_RESULT_COMPLETED);
        g_variant_dict_insert(&dict, "errmsg", "s", errmsg ? errmsg : "");
        g_clear_pointer(&stats, g_variant_unref);
        stats = g_variant_ref_sink(g_variant_dict_end(&dict));

        g_debug("Domain %s: %s job %s%s%s", domain_name(d), job_type_to_string(job->type),
                job_result_to_string(result), errmsg ? ": " : "", errmsg ? errmsg : "");
        /* As Perform's: after AbortJob the call fails MigrationAborted, which
         * the client that aborted takes for its own doing. */
        if (job->begin) {
                g_task_return_new_error(job->begin, MD_ERROR,
                                        job->aborted ? MD_ERROR_MIGRATION_ABORTED : MD_ERROR_MIGRATION_FAILED,
                                        "%s", errmsg ? errmsg : _("The migration ended"));
                g_clear_object(&job->begin);
        }
        if (job->perform) {
                g_task_return_new_error(job->perform, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "%s",
                                        errmsg ? errmsg : _("The migration ended"));
                g_clear_object(&job->perform);
        }
        if (job->finish) {
                g_task_return_new_error(job->finish, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "%s",
                                        errmsg ? errmsg : _("The migration ended"));
                g_clear_object(&job->finish);
        }
        g_clear_pointer(&d->last_job_stats, g_variant_unref);
        d->last_job_stats = g_variant_ref(stats);
        g_free(d->last_job_type);
        d->last_job_type = g_strdup(job_result_to_string(result));
        d->job = NULL;
        domain_set_observer(d, NULL, NULL);
        migration_job_free(job);
        save_status(d);
        registry_notify_changed(r, d, "JobType", "JobPhase", "JobProgress", NULL);
        registry_emit_job_completed(r, d, stats);
}

void migration_job_on_qemu_exit(Domain *d) {
        MigrationJob *job = d->job;

        job->stream_failed = TRUE;
        migration_job_end(d, job->aborted ? JOB_RESULT_CANCELLED : JOB_RESULT_FAILED,
                          _("The guest's QEMU process exited during the migration"));
}

void migration_job_on_event(Domain *d, const QemuEvent *event) {
        MigrationJob *job = d->job;

        /* Recovery has decided its end already (a cancelled stream reports). */
        if (job->end_when_heard)
                return;
        if (event->type == QEMU_EVENT_MIGRATION_PASS) {
                registry_emit_iteration(d->registry, d, (guint) CLAMP(event->pass, 0, G_MAXUINT32));
        } else if (event->type == QEMU_EVENT_MIGRATION) {
                const char *status = event->migration_status;
                /* A running incoming stream is progress: the deadline is for
                 * phases that do not come, not for a long transfer. */
                if (g_str_equal(status, "pre-switchover")) {
                        if (job->ops->pre_switchover)
                                job->ops->pre_switchover(d);
                        return;
                }
                if (g_str_equal(status, "active") && job->type == JOB_TYPE_MIGRATION_IN &&
                    job->phase == JOB_PHASE_PREPARE)
                        migration_job_disarm_deadline(job);
                if (!g_str_equal(status, "completed") && !g_str_equal(status, "failed") &&
                    !g_str_equal(status, "cancelled") && !g_str_equal(status, "postcopy-active") &&
                    !g_str_equal(status, "postcopy-paused"))
                        return;
                job->ops->stream_ended(d, status);
        } else if (event->type == QEMU_EVENT_BLOCK_JOB) {
                if (job->ops->block_job_event)
                        job->ops->block_job_event(d);
        } else if (event->type == QEMU_EVENT_STOP && job->type == JOB_TYPE_MIGRATION_OUT) {
                /* Wall clock: the destination computes the real downtime from it. */
                job->stop_time_ms = g_get_real_time() / 1000;
        }
}

/* Nobody drives the job now, but a phase in progress decides first; its
 * end arms the deadline of the unattended job. */
static void let_phase_finish(MigrationJob *job) {
        g_clear_pointer(&job->owner, g_free);
        job->unattended = TRUE;
}

/* The failure rules of libvirt's v3 when nobody drives the job any more:
 * before Perform the source simply lets go; a failed stream lets the guest
 * run again here; after a completed stream the outcome is unknown (the
 * destination may run the guest), so the guest stays paused here and the
 * job ends saying so; an incoming job kills its QEMU. Phases in progress
 * finish first and re-arm the deadline. */
void migration_job_abandon(Domain *d, const char *why) {
        MigrationJob *job = d->job;
        g_autofree char *msg = NULL;

        /* Recovery has decided its end already. */
        if (!job || job->end_when_heard)
                return;
        g_message("Migration job of '%s' abandoned in phase %s: %s", domain_name(d),
                  job_phase_to_string(job->phase), why);
        switch (job->phase) {
        case JOB_PHASE_BEGIN3:
                msg = g_strdup_printf(_("Migration cancelled: %s"), why);
                migration_job_end(d, JOB_RESULT_CANCELLED, msg);
                break;
        case JOB_PHASE_PERFORM3:
        case JOB_PHASE_PERFORM3_DONE:
                /* A running stream decides first; the deadline is armed when it ends. */
                if (job->phase == JOB_PHASE_PERFORM3 && !job->stream_failed) {
                        let_phase_finish(job);
                        break;
                }
                if (job->stream_failed) {
                        msg = job->error ? g_strdup_printf(_("Migration cancelled: %s; %s"), why, job->error)
                                         : g_strdup_printf(_("Migration cancelled: %s"), why);
                        if (job->ops->resume)
                                job->ops->resume(d);
                        migration_job_end(d, job->aborted ? JOB_RESULT_CANCELLED : JOB_RESULT_FAILED, msg);
                } else {
                        msg = g_strdup_printf(_("Migration outcome unknown: %s after the stream had "
                                                "completed; the guest stays paused here and may run "
                                                "on the destination; resume or destroy it here "
                                                "once you know"), why);
                        migration_job_end(d, JOB_RESULT_FAILED, msg);
                }
                break;
        case JOB_PHASE_FINISH3:
        case JOB_PHASE_FINISH2:
                /* Finish is resuming the guest: let it. (It waits for a stream
                 * that did not complete in time, or was restored: it ends.) */
                if (!job->finish && !job->stream_failed) {
                        let_phase_finish(job);
                        break;
                }
                G_GNUC_FALLTHROUGH;
        case JOB_PHASE_PREPARE:
        case JOB_PHASE_POSTCOPY:
                if (job->postcopy) {
                        /* The guest's newest state is here: keep it, paused. */
                        msg = g_strdup_printf(_("Post-copy migration abandoned (%s); the guest stays "
                                                "paused here (postcopy-failed)"), why);
                        domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
                        migration_job_end(d, JOB_RESULT_FAILED, msg);
                        break;
                }
                msg = g_strdup_printf(_("Incoming migration cancelled: %s"), why);
                migration_job_end(d, JOB_RESULT_CANCELLED, msg);
                domain_kill(d, "migration-canceled", 0);
                break;
        default:
                let_phase_finish(job);
                break;
        }
}

gboolean migration_job_get_stats(Domain *d, guint flags, const char **ret_type, GVariant **ret_stats,
                                 GError **error) {
        if (flags & ~1u) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, _("Unsupported flags 0x%x"), flags & ~1u);
                return FALSE;
        }
        if (flags & 1) {
                *ret_type = d->last_job_type ? d->last_job_type : "none";
                *ret_stats = d->last_job_stats ? g_variant_ref(d->last_job_stats)
                                               : g_variant_ref_sink(g_variant_new("a{sv}", NULL));
                return TRUE;
        }
        if (!d->job) {
                *ret_type = "none";
                *ret_stats = g_variant_ref_sink(g_variant_new("a{sv}", NULL));
                return TRUE;
        }
        *ret_type = "unbounded";
        *ret_stats = migration_job_stats(d->job, d->job->stats);
        return TRUE;
}

/* ---- A job restored from its journal (migration-journal.c) after a restart ---- */

/* Whether the owner is still on the bus is asked once the bus is up
 * (migration_jobs_watch_clients). */
MigrationJob *migration_job_restore(Domain *d, const MigrationJournal *j, const MigrationJobOps *ops,
                                    gboolean postcopy) {
        MigrationJob *job = g_new0(MigrationJob, 1);

        job->domain = d;
        job->ops = ops;
        job->type = j->type;
        job->phase = j->phase;
        job->params = g_new0(MigrationParams, 1);
        job->params->flags = j->flags;
        job->params->destination_name = g_strdup(j->destination_name);
        /* Removed if the job does not complete; a post-copy guest may run from them. */
        for (guint i = 0; !postcopy && j->storage_created && j->storage_created[i]; i++) {
                if (!job->storage_created)
                        job->storage_created = g_ptr_array_new_with_free_func(g_free);
                g_ptr_array_add(job->storage_created, g_strdup(j->storage_created[i]));
        }
        job->owner = g_strdup(j->owner);
        job->unattended = j->owner == NULL;
        job->restored = TRUE;
        job->postcopy = postcopy;
        job->postcopy_requested = j->postcopy_requested || postcopy;
        job->protocol = j->protocol;
        job->paused_before = j->paused_before;
        /* The journal does not say which settings the job changed: reset them all at its end. */
        job->qemu_configured = TRUE;
        job->start_ms = now_ms();
        job_progress_init(&job->progress, ram_bytes(d));
        job->progress.percent = j->progress;
        job_attach(d, job);
        g_message("Migration job of '%s' restored in phase %s; it waits for %s", domain_name(d),
                  job_phase_to_string(job->phase), job->owner ? job->owner : "a client (unattended)");
        registry_notify_changed(d->registry, d, "JobType", "JobPhase", "JobProgress", NULL);
        migration_job_arm_deadline(job);
        save_status(d);
        return job;
}
