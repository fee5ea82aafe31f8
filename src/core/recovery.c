/* The recovery rules after a daemon restart (docs/recovery.md): one
 * function per direction, a switch on the journal's phase (read back
 * through the phase table, migration-phase.c), never on a string. */
#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "migration-dest.h"
#include "migration-source.h"
#include "migration-storage.h"
#include "recovery.h"
#include "registry.h"

static const MigrationJobOps *ops_for(JobType type) {
        return type == JOB_TYPE_MIGRATION_OUT ? &migration_source_ops : &migration_dest_ops;
}

static MigrationJob *job_restore(Domain *d, const MigrationJournal *j, gboolean postcopy) {
        MigrationJob *job = migration_job_restore(d, j, ops_for(j->type), postcopy);

        /* Its end cancels the mirrors a storage copy may have left. */
        migration_storage_restore_source(job);
        return job;
}

/* A job the old instance had and recovery ends (the message, one whole
 * sentence, says how): restored until clients can hear its JobCompleted. */
G_GNUC_PRINTF(4, 5)
static void job_restore_to_end(Domain *d, const MigrationJournal *j, gboolean kill_qemu, const char *format, ...) {
        /* No postcopy: a post-copy job is never ended by recovery. */
        MigrationJob *job = job_restore(d, j, FALSE);
        va_list args;

        /* It ends as soon as the name is ours, not by a deadline. */
        migration_job_disarm_deadline(job);
        va_start(args, format);
        job->end_when_heard = g_strdup_vprintf(format, args);
        va_end(args);
        job->kill_at_end = kill_qemu;
}

void recovery_end_restored(Domain *d) {
        MigrationJob *job = d->job;
        g_autofree char *errmsg = NULL;
        gboolean kill_qemu;

        if (!job || !job->end_when_heard)
                return;
        errmsg = g_steal_pointer(&job->end_when_heard);
        kill_qemu = job->kill_at_end;
        migration_job_end(d, JOB_RESULT_FAILED, errmsg);
        /* After JobCompleted: a transient domain goes away with its QEMU. */
        if (kill_qemu)
                domain_kill(d, "migration-canceled", 0);
}

static void on_recovery_command(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;
        Domain *d = domain_ref_get(ref);

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("Recovery of '%s' failed: %s", d ? domain_name(d) : ref->uuid, error->message);
}

typedef void (*MonitorCommand)(QmpClient *monitor, GAsyncReadyCallback callback, gpointer user_data);

static void recovery_command(Domain *d, MonitorCommand command) {
        command(qemu_process_get_qmp(d->qemu), on_recovery_command, domain_ref_new(d));
}

/* libvirt's rule: resume only a guest the migration paused, never one the
 * user had paused (or one whose reason is lost with a running QEMU). */
static void recovery_resume(Domain *d, const MigrationJournal *j) {
        /* The guest stays on this QEMU: the next job must start clean (libvirt
         * resets the migration parameters in recovery too). A restored job
         * does so at its end, later: after the stream's cancel, which QEMU
         * must finish before it takes new settings. */
        if (!d->job)
                migration_job_reset_qemu(d);
        if (d->state != DOMAIN_STATE_PAUSED || j->paused_before ||
            (g_strcmp0(d->state_reason, "migration") != 0 && g_strcmp0(d->state_reason, "unknown") != 0))
                return;
        migration_source_resume(d);
}

/* Post-copy and a restart of this daemon (on the @source, or on the
 * destination): only the destination has the newest state of some pages,
 * only the source of others; neither may run from what it has alone, and
 * neither is killed. Paused, postcopy-failed, as libvirt. */
static void recovery_postcopy_failed(Domain *d, const MigrationJournal *j, gboolean source) {
        MigrationJob *job;

        if (d->state == DOMAIN_STATE_RUNNING)
                recovery_command(d, qemu_monitor_stop_async);
        domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        job = job_restore(d, j, TRUE);
        job->stream_failed = TRUE;
        job->error = g_strdup_printf(source
                                     ? _("The post-copy migration of '%s' was interrupted (the source daemon "
                                         "restarted during post-copy); the guest stays paused "
                                         "(postcopy-failed) on both hosts, killed on neither")
                                     : _("The post-copy migration of '%s' was interrupted (the destination "
                                         "daemon restarted during post-copy); the guest stays paused "
                                         "(postcopy-failed) on both hosts, killed on neither"),
                                     domain_name(d));
}

/* QEMU's migration states in which a stream still runs (or is about to). */
static gboolean stream_still_running(const char *migration_status) {
        static const char *const ended[] = { "none", "completed", "failed", "cancelled", NULL };

        return !migration_status || !g_strv_contains(ended, migration_status);
}

/* libvirt's PERFORM2: under managed protocol 2 the client saw Perform2 fail
 * with the daemon and calls Finish2 with a failure, which kills the
 * destination's copy; this one is the guest. */
static void recovery_perform2(Domain *d, const MigrationJournal *j, const char *migration_status) {
        gboolean running = stream_still_running(migration_status);

        /* First: the cancelled stream's events then find a job that has ended. */
        if (running)
                job_restore_to_end(d, j, FALSE,
                                   _("The daemon restarted during phase %s; the stream was cancelled and the "
                                     "guest resumed here (unless it was paused before the migration)"),
                                   job_phase_to_string(j->phase));
        else
                job_restore_to_end(d, j, FALSE,
                                   _("The daemon restarted during phase %s; the guest resumed here (unless it "
                                     "was paused before the migration)"), job_phase_to_string(j->phase));
        if (running)
                recovery_command(d, qemu_monitor_migrate_cancel_async);
        recovery_resume(d, j);
}

static void recover_outgoing(Domain *d, const MigrationJournal *j, gboolean postcopy,
                             const char *migration_status) {
        g_autoptr(GError) error = NULL;
        /* Peer-to-peer protocol 2 is driven by this daemon (no owner), which
         * may have had Finish2's success: the destination may run the guest. */
        gboolean managed_v2 = j->protocol == 2 && j->owner != NULL;

        switch (j->phase) {
        case JOB_PHASE_BEGIN3:
                /* Nothing happened to the guest yet: forget the job. */
                job_restore_to_end(d, j, FALSE,
                                   _("The daemon restarted during phase %s; the job was forgotten and the "
                                     "guest left as it was"), job_phase_to_string(j->phase));
                break;
        case JOB_PHASE_PERFORM3:
                if (postcopy) {
                        recovery_postcopy_failed(d, j, TRUE);
                        break;
                }
                /* The stream still ran, or ended unseen: the client saw Perform3
                 * fail with the daemon, so it will not Finish; the guest stays here. */
                recovery_perform2(d, j, migration_status);
                break;
        case JOB_PHASE_PERFORM3_DONE:
                if (managed_v2 && !postcopy) {
                        recovery_perform2(d, j, migration_status);
                        break;
                }
                /* The destination may run the guest or not: only the client,
                 * which has Finish3's answer, can tell. Wait for its Confirm3. */
                job_restore(d, j, postcopy);
                break;
        case JOB_PHASE_CONFIRM3:
                if (managed_v2 && !postcopy) {
                        /* Perform2 had not answered yet: the client fails Finish2. */
                        recovery_perform2(d, j, migration_status);
                        break;
                }
                /* Confirm3 of a success had begun: finish its work. */
                domain_kill(d, "migrated", 0);
                if ((j->flags & MIGRATE_UNDEFINE_SOURCE) && domain_is_persistent(d) &&
                    !registry_undefine(d->registry, d, 0, &error))
                        g_warning("Failed to undefine '%s' after migrating it: %s", domain_name(d),
                                  error->message);
                break;
        case JOB_PHASE_CONFIRM3_CANCELLED:
                /* The job ended before its clean-up could run. */
                migration_storage_recover_source(d, j->flags, j->phase);
                if (postcopy)
                        domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
                else
                        recovery_resume(d, j);
                break;
        default:
                g_warning("Migration job of '%s' in an unknown phase; the guest stays as it is: "
                          "resume or destroy it once you know where it runs", domain_name(d));
                break;
        }
}

static void on_finish2_recovered(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_ref_get(ref);

        if (!d)
                return;
        if (!ok) {
                g_warning("Failed to resume '%s' after Finish2 was interrupted: %s; it stays paused here",
                          domain_name(d), error->message);
                return;
        }
        domain_set_state(d, DOMAIN_STATE_RUNNING, "migrated");
}

/* libvirt's FINISH2: protocol 2 stopped (and may have undefined) the source
 * before Finish2, so this copy is the only one. Do what Finish2 would have
 * done (persist as the flags ask, then resume); if that fails, the guest
 * stays paused here, never killed. */
static void recovery_finish2(Domain *d, const MigrationJournal *j, const char *migration_status) {
        g_autoptr(GError) error = NULL;

        migration_job_reset_qemu(d);
        if (g_strcmp0(migration_status, "failed") == 0 || g_strcmp0(migration_status, "cancelled") == 0) {
                g_warning("The incoming stream of '%s' %s before Finish2 was interrupted; the guest stays "
                          "paused here", domain_name(d), migration_status);
                return;
        }
        if ((j->flags & MIGRATE_PERSIST_DEST) && !registry_persist(d->registry, d, &error)) {
                g_warning("Failed to make '%s' persistent after Finish2 was interrupted: %s; it stays "
                          "paused here", domain_name(d), error->message);
                return;
        }
        if (d->state == DOMAIN_STATE_RUNNING) {
                domain_set_state(d, DOMAIN_STATE_RUNNING, "migrated");
                return;
        }
        if (j->flags & MIGRATE_PAUSED) {
                domain_set_state(d, DOMAIN_STATE_PAUSED, "migration");
                return;
        }
        qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_finish2_recovered, domain_ref_new(d));
}

static void recover_incoming(Domain *d, const MigrationJournal *j, gboolean postcopy,
                             const char *migration_status) {
        if (postcopy) {
                switch (j->phase) {
                case JOB_PHASE_PREPARE:
                case JOB_PHASE_POSTCOPY:
                case JOB_PHASE_FINISH3:
                case JOB_PHASE_FINISH2:
                        recovery_postcopy_failed(d, j, FALSE);
                        break;
                default:
                        /* No phase to restore the job in, but never kill a post-copy guest. */
                        if (d->state == DOMAIN_STATE_RUNNING)
                                recovery_command(d, qemu_monitor_stop_async);
                        domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
                        break;
                }
                return;
        }
        if (j->phase == JOB_PHASE_FINISH2) {
                recovery_finish2(d, j, migration_status);
                return;
        }
        /* Prepare (the guest never ran here), or a Finish3 whose answer the
         * client never got: it confirms the source cancelled, which resumes
         * the guest there; it must not run here too. Killed once the job's
         * end has been heard. */
        if (j->phase == _JOB_PHASE_INVALID)
                job_restore_to_end(d, j, TRUE, "%s",
                                   _("The daemon restarted during phase (unreadable); the incoming QEMU was "
                                     "killed and the guest stays on the source"));
        else
                job_restore_to_end(d, j, TRUE,
                                   _("The daemon restarted during phase %s; the incoming QEMU was killed and "
                                     "the guest stays on the source"), job_phase_to_string(j->phase));
}

void recovery_recover_domain(Domain *d, const MigrationJournal *j, const char *qemu_status,
                             const char *migration_status) {
        /* The journal may lag behind QEMU (the daemon died between
         * migrate-start-postcopy and saving the switch): QEMU's own migration
         * status counts too, as libvirt's qemuMigrationAnyRefreshStatus. */
        gboolean postcopy = j->postcopy || j->postcopy_requested || j->phase == JOB_PHASE_POSTCOPY ||
                            g_strcmp0(d->state_reason, "postcopy") == 0 ||
                            g_strcmp0(d->state_reason, "postcopy-failed") == 0 ||
                            (migration_status && g_str_has_prefix(migration_status, "postcopy-"));

        g_message("Guest '%s' was in a %s job, phase %s%s, when the daemon stopped (QEMU: %s, migration: %s)",
                  domain_name(d), job_type_to_string(j->type), job_phase_to_string(j->phase),
                  postcopy ? " (post-copy)" : "", qemu_status, migration_status ? migration_status : "unknown");
        if (!d->qemu)
                return;
        if (j->type == JOB_TYPE_MIGRATION_IN)
                recover_incoming(d, j, postcopy, migration_status);
        else if (j->type == JOB_TYPE_MIGRATION_OUT)
                recover_outgoing(d, j, postcopy, migration_status);
        else
                g_warning("Guest '%s' was in a job of an unknown type; it stays as it is", domain_name(d));
}
