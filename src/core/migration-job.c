#define G_LOG_DOMAIN "migrationd"

#include "md-error.h"
#include "migration-job.h"
#include "migration-setup.h"
#include "registry.h"

/* libvirt's rate for statistics while a stream runs. */
#define POLL_INTERVAL_MS 250
#define EMIT_INTERVAL_MS 250

/* libvirt's virDomainJobOperation values for the "operation" key. */
#define JOB_OPERATION_MIGRATION_IN 4
#define JOB_OPERATION_MIGRATION_OUT 5

static const char *const job_type_names[_JOB_TYPE_MAX] = {
        [JOB_TYPE_NONE] = "none",
        [JOB_TYPE_MIGRATION_OUT] = "migration-out",
        [JOB_TYPE_MIGRATION_IN] = "migration-in",
};

static const char *const job_phase_names[_JOB_PHASE_MAX] = {
        [JOB_PHASE_NONE] = "none",
        [JOB_PHASE_BEGIN3] = "begin3",
        [JOB_PHASE_PERFORM3] = "perform3",
        [JOB_PHASE_PERFORM3_DONE] = "perform3_done",
        [JOB_PHASE_CONFIRM3] = "confirm3",
        [JOB_PHASE_CONFIRM3_CANCELLED] = "confirm3_cancelled",
        [JOB_PHASE_PREPARE] = "prepare",
        [JOB_PHASE_FINISH3] = "finish3",
};

const char *job_type_to_string(JobType type) {
        return (unsigned) type < _JOB_TYPE_MAX ? job_type_names[type] : "none";
}

const char *job_phase_to_string(JobPhase phase) {
        return (unsigned) phase < _JOB_PHASE_MAX ? job_phase_names[phase] : "none";
}

const char *migration_job_describe(const MigrationJob *job) {
        return job_phase_to_string(job->phase);
}

/* The job is part of the live status: a restart must know it. */
static void save_status(Domain *d) {
        g_autoptr(GError) error = NULL;

        if (d->qemu && d->live && !registry_save_status(d->registry, d, &error))
                g_warning("%s, ignoring", error->message);
}

static gint64 now_ms(void) {
        return g_get_monotonic_time() / 1000;
}

DomainRef *domain_ref_new(Domain *d) {
        DomainRef *ref = g_new0(DomainRef, 1);

        ref->registry = d->registry;
        ref->uuid = g_strdup(domain_uuid(d));
        return ref;
}

Domain *domain_ref_get(DomainRef *ref) {
        return g_hash_table_lookup(ref->registry->by_uuid, ref->uuid);
}

void domain_ref_free(DomainRef *ref) {
        if (!ref)
                return;
        g_free(ref->uuid);
        g_free(ref);
}

void migration_job_free(MigrationJob *job) {
        if (!job)
                return;
        g_clear_handle_id(&job->phase_timer, g_source_remove);
        g_clear_handle_id(&job->poll_timer, g_source_remove);
        g_clear_pointer(&job->params, migration_params_free);
        g_clear_pointer(&job->stats, g_variant_unref);
        g_clear_pointer(&job->setup_stats, g_variant_unref);
        g_free(job->owner);
        g_free(job->error);
        g_free(job->tls_id);
        g_free(job);
}

MigrationJob *migration_job_start(Domain *d, JobType type, JobPhase phase, MigrationParams *params,
                                  const char *owner, GError **error) {
        g_autoptr(MigrationParams) owned = params;
        Registry *r = d->registry;
        MigrationJob *job;
        guint running;

        if (!require_no_job(d, error))
                return NULL;
        running = registry_count_jobs(r);
        if (running >= r->config->max_jobs) {
                g_set_error(error, MD_ERROR, MD_ERROR_JOB_ACTIVE,
                            "This host runs %u migration jobs already ([migration] max_jobs=%u); "
                            "try again when one has finished", running, r->config->max_jobs);
                return NULL;
        }
        job = g_new0(MigrationJob, 1);
        job->domain = d;
        job->type = type;
        job->phase = phase;
        job->params = g_steal_pointer(&owned);
        job->owner = g_strdup(owner);
        job->start_ms = now_ms();
        migration_progress_init(&job->progress);
        d->job = job;
        g_debug("Domain %s: %s job starts in phase %s", domain_name(d), job_type_to_string(type),
                job_phase_to_string(phase));
        registry_notify_changed(r, d, "JobType", "JobPhase", "JobProgress", NULL);
        migration_job_arm_deadline(job);
        save_status(d);
        return job;
}

void migration_job_set_phase(MigrationJob *job, JobPhase phase) {
        if (job->phase == phase)
                return;
        job->phase = phase;
        registry_notify_changed(job->domain->registry, job->domain, "JobPhase", NULL);
        save_status(job->domain);
}

static gboolean on_deadline(gpointer user_data) {
        MigrationJob *job = user_data;
        g_autofree char *why = g_strdup_printf("no next migration phase arrived within %u s",
                                               job->domain->registry->config->phase_timeout_s);

        job->phase_timer = 0;
        migration_job_abandon(job->domain, why);
        return G_SOURCE_REMOVE;
}

void migration_job_arm_deadline(MigrationJob *job) {
        migration_job_disarm_deadline(job);
        job->phase_timer = g_timeout_add_seconds(job->domain->registry->config->phase_timeout_s,
                                                 on_deadline, job);
}

void migration_job_disarm_deadline(MigrationJob *job) {
        g_clear_handle_id(&job->phase_timer, g_source_remove);
}

/* ---- Statistics ---- */

static GVariant *job_stats_build(MigrationJob *job, GVariant *base) {
        g_auto(GVariantDict) dict;

        g_variant_dict_init(&dict, base);
        if (job->setup_stats) {
                GVariantIter iter;
                const char *key;
                GVariant *value;

                g_variant_iter_init(&iter, job->setup_stats);
                while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
                        g_variant_dict_insert_value(&dict, key, value);
        }
        g_variant_dict_insert(&dict, "operation", "i",
                              job->type == JOB_TYPE_MIGRATION_OUT ? JOB_OPERATION_MIGRATION_OUT
                                                                  : JOB_OPERATION_MIGRATION_IN);
        g_variant_dict_insert(&dict, "phase", "s", job_phase_to_string(job->phase));
        g_variant_dict_insert(&dict, "progress", "d", job->progress.progress);
        g_variant_dict_insert(&dict, "time_elapsed", "t", (guint64) (now_ms() - job->start_ms));
        return g_variant_ref_sink(g_variant_dict_end(&dict));
}

void migration_job_update_stats(MigrationJob *job, JsonNode *query_migrate) {
        Domain *d = job->domain;
        double before = job->progress.progress;
        gint64 now = now_ms();
        g_autoptr(GVariant) qemu = g_variant_ref_sink(
                qemu_migration_stats(query_migrate, &job->progress, now, now - job->start_ms));

        g_clear_pointer(&job->stats, g_variant_unref);
        job->stats = job_stats_build(job, qemu);
        if (job->progress.progress != before)
                registry_notify_changed(d->registry, d, "JobProgress", NULL);
        /* Rate-bounded: a bar needs no more, and the bus should not drown. */
        if (now - job->last_emit_ms >= EMIT_INTERVAL_MS) {
                job->last_emit_ms = now;
                registry_emit_job_stats(d->registry, d, job->stats);
        }
}

static void on_poll_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, NULL);
        Domain *d = domain_ref_get(ref);

        if (!d || !d->job)
                return;
        d->job->poll_in_flight = FALSE;
        /* Stats from a stream that has ended meanwhile would run backwards. */
        if (reply && d->job->phase == JOB_PHASE_PERFORM3 && d->job->poll_timer)
                migration_job_update_stats(d->job, reply);
}

static gboolean on_poll(gpointer user_data) {
        MigrationJob *job = user_data;
        Domain *d = job->domain;

        if (!job->poll_in_flight && d->qemu) {
                job->poll_in_flight = TRUE;
                qmp_client_execute_async(qemu_process_get_qmp(d->qemu), "query-migrate", NULL, NULL,
                                         on_poll_reply, domain_ref_new(d));
        }
        return G_SOURCE_CONTINUE;
}

void migration_job_start_polling(MigrationJob *job) {
        if (!job->poll_timer)
                job->poll_timer = g_timeout_add(POLL_INTERVAL_MS, on_poll, job);
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
        g_autoptr(JsonNode) reply = qemu_command_list_run_finish(result, &error);

        if (!reply)
                g_warning("Failed to reset QEMU's migration settings: %s, ignoring", error->message);
}

/* The guest stays on a QEMU that has the job's capabilities: the next job
 * must start clean. */
char *migration_job_new_tls_id(void) {
        static guint counter;

        return g_strdup_printf("md-migration-tls-%u", ++counter);
}

static void reset_qemu(Domain *d, const char *tls_id) {
        g_autoptr(QemuCommandList) commands = qemu_command_list_new();

        if (tls_id)
                migration_setup_add_tls_reset(commands, tls_id);
        migration_setup_add_reset(commands);
        qemu_command_list_run_async(qemu_process_get_qmp(d->qemu), g_steal_pointer(&commands), NULL,
                                    on_reset_done, NULL);
}

void migration_job_end(Domain *d, JobResult result, const char *errmsg) {
        MigrationJob *job = d->job;
        Registry *r = d->registry;
        g_auto(GVariantDict) dict;
        g_autoptr(GVariant) stats = NULL;

        if (!job)
                return;
        g_clear_handle_id(&job->phase_timer, g_source_remove);
        g_clear_handle_id(&job->poll_timer, g_source_remove);
        /* A QEMU that keeps the guest (a failed source, a successful
         * destination) will be a source itself one day; the others are
         * about to be killed. */
        bool keeps_guest = (job->type == JOB_TYPE_MIGRATION_OUT) != (result == JOB_RESULT_COMPLETED);
        if (job->qemu_configured && d->qemu && keeps_guest)
                reset_qemu(d, job->tls_id);
        if (result == JOB_RESULT_COMPLETED)
                job->progress.progress = 100.0;
        stats = job_stats_build(job, job->stats);
        g_variant_dict_init(&dict, stats);
        g_variant_dict_insert(&dict, "success", "b", result == JOB_RESULT_COMPLETED);
        g_variant_dict_insert(&dict, "errmsg", "s", errmsg ? errmsg : "");
        g_clear_pointer(&stats, g_variant_unref);
        stats = g_variant_ref_sink(g_variant_dict_end(&dict));

        g_debug("Domain %s: %s job %s%s%s", domain_name(d), job_type_to_string(job->type),
                job_result_to_string(result), errmsg ? ": " : "", errmsg ? errmsg : "");
        if (job->perform) {
                g_task_return_new_error(job->perform, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "%s",
                                        errmsg ? errmsg : "The migration ended");
                g_clear_object(&job->perform);
        }
        if (job->finish) {
                g_task_return_new_error(job->finish, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "%s",
                                        errmsg ? errmsg : "The migration ended");
                g_clear_object(&job->finish);
        }
        g_clear_pointer(&d->last_job_stats, g_variant_unref);
        d->last_job_stats = g_variant_ref(stats);
        g_free(d->last_job_type);
        d->last_job_type = g_strdup(job_result_to_string(result));
        d->job = NULL;
        migration_job_free(job);
        save_status(d);
        registry_notify_changed(r, d, "JobType", "JobPhase", "JobProgress", NULL);
        registry_emit_job_completed(r, d, stats);
}

void migration_job_on_qemu_exit(Domain *d) {
        MigrationJob *job = d->job;

        job->stream_failed = TRUE;
        migration_job_end(d, job->aborted ? JOB_RESULT_CANCELLED : JOB_RESULT_FAILED,
                          "The guest's QEMU process exited during the migration");
}

void migration_job_on_event(Domain *d, const char *event, JsonObject *data) {
        MigrationJob *job = d->job;

        if (g_str_equal(event, "MIGRATION_PASS")) {
                gint64 pass = data ? json_object_get_int_member_with_default(data, "pass", 0) : 0;
                registry_emit_iteration(d->registry, d, (guint) CLAMP(pass, 0, G_MAXUINT32));
        } else if (g_str_equal(event, "MIGRATION")) {
                const char *status = data ? json_object_get_string_member_with_default(data, "status", "") : "";
                /* A running incoming stream is progress: the deadline is for
                 * phases that do not come, not for a long transfer. */
                if (g_str_equal(status, "active") && job->type == JOB_TYPE_MIGRATION_IN &&
                    job->phase == JOB_PHASE_PREPARE)
                        migration_job_disarm_deadline(job);
                if (!g_str_equal(status, "completed") && !g_str_equal(status, "failed") &&
                    !g_str_equal(status, "cancelled") && !g_str_equal(status, "postcopy-active") &&
                    !g_str_equal(status, "postcopy-paused"))
                        return;
                if (job->type == JOB_TYPE_MIGRATION_OUT)
                        migration_source_stream_ended(d, status);
                else
                        migration_dest_stream_ended(d, status);
        } else if (g_str_equal(event, "STOP") && job->type == JOB_TYPE_MIGRATION_OUT) {
                /* Wall clock: the destination computes the real downtime from it. */
                job->stop_time_ms = g_get_real_time() / 1000;
        }
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

        if (!job)
                return;
        g_message("Migration job of '%s' abandoned in phase %s: %s", domain_name(d),
                  job_phase_to_string(job->phase), why);
        switch (job->phase) {
        case JOB_PHASE_BEGIN3:
                msg = g_strdup_printf("Migration cancelled: %s", why);
                migration_job_end(d, JOB_RESULT_CANCELLED, msg);
                break;
        case JOB_PHASE_PERFORM3:
        case JOB_PHASE_PERFORM3_DONE:
                /* A running stream decides first; the deadline is armed when it ends. */
                if (job->phase == JOB_PHASE_PERFORM3 && !job->stream_failed) {
                        g_clear_pointer(&job->owner, g_free);
                        break;
                }
                if (job->stream_failed) {
                        msg = g_strdup_printf("Migration cancelled: %s", why);
                        migration_source_resume(d);
                        migration_job_end(d, job->aborted ? JOB_RESULT_CANCELLED : JOB_RESULT_FAILED, msg);
                } else {
                        msg = g_strdup_printf("Migration outcome unknown: %s after the stream had "
                                              "completed; the guest stays paused here and may run "
                                              "on the destination; resume or destroy it here "
                                              "once you know", why);
                        migration_job_end(d, JOB_RESULT_FAILED, msg);
                }
                break;
        case JOB_PHASE_FINISH3:
                /* Finish waits for a stream that did not complete in time. */
                if (!job->finish) {
                        g_clear_pointer(&job->owner, g_free);
                        break;
                }
                G_GNUC_FALLTHROUGH;
        case JOB_PHASE_PREPARE:
                if (job->postcopy) {
                        /* The guest's newest state is here: keep it, paused. */
                        msg = g_strdup_printf("Post-copy migration abandoned (%s); the guest stays "
                                              "paused here (postcopy-failed)", why);
                        domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
                        migration_job_end(d, JOB_RESULT_FAILED, msg);
                        break;
                }
                msg = g_strdup_printf("Incoming migration cancelled: %s", why);
                migration_job_end(d, JOB_RESULT_CANCELLED, msg);
                if (d->qemu) {
                        d->exit_reason = g_strdup("migration-canceled");
                        qemu_process_kill(d->qemu, 0);
                }
                break;
        default:
                g_clear_pointer(&job->owner, g_free);
                break;
        }
}

gboolean migration_job_get_stats(Domain *d, guint flags, const char **ret_type, GVariant **ret_stats,
                                 GError **error) {
        if (flags & ~1u) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, "Unsupported flags 0x%x", flags & ~1u);
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
        *ret_stats = job_stats_build(d->job, d->job->stats);
        return TRUE;
}

static void on_recovery_command(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonNode) reply = qmp_client_execute_finish(NULL, result, &error);
        Domain *d = domain_ref_get(ref);

        if (!reply) {
                g_warning("Recovery of '%s' failed: %s", d ? domain_name(d) : ref->uuid, error->message);
                return;
        }
        if (d && d->state == DOMAIN_STATE_PAUSED && d->qemu)
                migration_source_resume(d);
}

void migration_job_recover(Domain *d, const char *job_type, const char *job_phase, const char *qemu_status) {
        g_message("Guest '%s' was in a %s job, phase %s, when the daemon stopped (QEMU: %s)",
                  domain_name(d), job_type, job_phase ? job_phase : "?", qemu_status);
        if (g_str_equal(job_type, "migration-in")) {
                /* An incoming guest that Finish3 never released must not run twice. */
                if (d->qemu) {
                        d->exit_reason = g_strdup("migration-canceled");
                        qemu_process_kill(d->qemu, 0);
                }
                return;
        }
        if (g_strcmp0(job_phase, "perform3_done") == 0 || g_strcmp0(job_phase, "confirm3") == 0 ||
            g_str_equal(qemu_status, "postmigrate")) {
                /* The stream completed: the destination may run the guest. */
                g_warning("Migration outcome of '%s' unknown; it stays paused here: resume or destroy "
                          "it once you know where the guest runs", domain_name(d));
                return;
        }
        /* Begin3, a stream that was still running, or a cancel under way:
         * the guest stays here. */
        if (d->qemu)
                qmp_client_execute_async(qemu_process_get_qmp(d->qemu), "migrate_cancel", NULL, NULL,
                                         on_recovery_command, domain_ref_new(d));
}
