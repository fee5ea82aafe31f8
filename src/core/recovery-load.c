#define G_LOG_DOMAIN "migrationd"

#include "migration-job.h"
#include "migration-storage.h"
#include "recovery-load.h"
#include "recovery.h"

typedef struct {
        Registry *registry;
        StatusFile *file;         /* as saved: state and reason kept if QEMU agrees */
        MigrationJournal journal; /* the job the guest was in; type none if none */
} Recovery;

static void recovery_free(Recovery *rec) {
        migration_journal_clear(&rec->journal);
        status_file_free(rec->file);
        g_free(rec);
}

static const char *recovery_uuid(const Recovery *rec) {
        return rec->file->live->uuid;
}

static void load_step_done(GTask *task) {
        guint *pending = g_task_get_task_data(task);

        if (--*pending == 0) {
                g_task_return_boolean(task, TRUE);
        }
        g_object_unref(task);
}

static void recovery_give_up(Registry *r, const char *uuid, const char *why, const char *reason) {
        Domain *d = registry_lookup_by_uuid(r, uuid, NULL);

        g_message("Guest %s did not survive: %s", uuid, why);
        state_store_remove_status(registry_get_store(r), uuid);
        if (d && !domain_is_active(d))
                domain_set_state(d, DOMAIN_STATE_SHUTOFF, reason);
}

typedef struct {
        GTask *load;
        Registry *registry;
        StatusFile *file;
        MigrationJournal journal;
} Unstarted;

static void unstarted_done(Unstarted *u, const char *what) {
        g_autofree char *why = g_strdup_printf("its QEMU had not finished starting; %s", what);

        /* Its job, if any, was an incoming one in Prepare: the guest never
         * ran here, and the images Prepare created for it go (once its QEMU
         * no longer holds them), as at any failed Prepare. */
        if (u->journal.type == JOB_TYPE_MIGRATION_IN && u->journal.storage_created)
                migration_storage_remove_created((const char *const *) u->journal.storage_created,
                                                 g_strv_length(u->journal.storage_created));
        recovery_give_up(u->registry, u->file->live->uuid, why, "failed");
        load_step_done(u->load);
        migration_journal_clear(&u->journal);
        status_file_free(u->file);
        g_free(u);
}

static void on_unstarted_killed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;
        gboolean killed = FALSE;

        if (!qemu_process_kill_stale_finish(result, &killed, &error))
                g_warning("%s; if it still runs, kill it by hand", error->message);
        unstarted_done(user_data, error ? "it could not be killed" : killed ? "killed" : "it had gone already");
}

/* As libvirt ("wasn't fully started yet"): a QEMU whose monitor had not
 * greeted when the daemon died (or, start_unfinished(), that Start had not
 * yet resumed) holds no guest yet. Attaching to it would make the
 * half-done Start or Prepare look done; it is killed instead, the domain
 * left shut off (StateReason "failed"). A record without a pid is a
 * Prepare's that died creating its images: there is nothing to kill. A
 * pid that runs another program than the guest's QEMU is left alone: it
 * may be the child the daemon had forked but not yet let exec
 * (qemu-spawn-gate.c), which exits by itself when its gate closes with
 * the daemon. */
static void recover_unstarted(Registry *r, GTask *load, StatusFile *file) {
        Unstarted *u = g_new0(Unstarted, 1);

        u->load = g_object_ref(load);
        u->registry = r;
        u->file = file;
        migration_journal_read(&u->journal, file->object);
        (*(guint *) g_task_get_task_data(load))++;
        if (file->pid == 0) {
                unstarted_done(u, "none had been spawned");
                return;
        }
        qemu_process_kill_stale_async((pid_t) file->pid, file->live->uuid, on_unstarted_killed, u);
}

typedef struct {
        GTask *load;
        Recovery *rec;
        QemuProcess *qemu;
        char *qemu_status;        /* query-status' "status", for a job's recovery */
} Attached;

static void attached_free(Attached *a) {
        load_step_done(a->load);
        recovery_free(a->rec);
        g_free(a->qemu_status);
        g_free(a);
}

/* A job's recovery needs QEMU's migration status too: the journal may lag
 * behind it (docs/recovery.md). */
static void on_recovered_migration(GObject *source, GAsyncResult *result, gpointer user_data) {
        Attached *a = user_data;
        Registry *r = a->rec->registry;
        g_autoptr(GError) error = NULL;
        g_autoptr(QemuMigrationInfo) reply = qemu_monitor_query_migrate_finish(result, &error);
        Domain *d = registry_lookup_by_uuid(r, recovery_uuid(a->rec), NULL);

        if (!reply)
                g_warning("query-migrate failed while recovering %s: %s; going by the journal",
                          recovery_uuid(a->rec), error->message);
        if (d)
                recovery_recover_domain(d, &a->rec->journal, a->qemu_status,
                                        reply ? reply->status : NULL);
        attached_free(a);
}

/* The full record is written once QEMU's monitor is up, with the state
 * still shutoff; Start saves another when it resumes (or pauses) the
 * guest, as Prepare does at once. A record that still says shutoff
 * belongs to a start that had not finished (libvirt's check). A job's
 * recovery has its own rules (a Prepare's QEMU is killed by them). */
static gboolean start_unfinished(const Recovery *rec) {
        return g_strcmp0(rec->file->state, domain_state_to_string(DOMAIN_STATE_SHUTOFF)) == 0 &&
               rec->journal.type == JOB_TYPE_NONE;
}

static const char *found_reason(const Recovery *rec, DomainState state) {
        /* QEMU knows the state; only the saved reason can say why. */
        if (g_strcmp0(rec->file->state, domain_state_to_string(state)) == 0 && rec->file->reason)
                return rec->file->reason;
        /* Start's cont reached QEMU, its record did not: libvirt's "finished booting". */
        if (state == DOMAIN_STATE_RUNNING && start_unfinished(rec))
                return "booted";
        return "unknown";
}

static void on_recovered_status(GObject *source, GAsyncResult *result, gpointer user_data) {
        Attached *a = user_data;
        Registry *r = a->rec->registry;
        g_autoptr(GError) error = NULL;
        g_autoptr(QemuRunState) reply = qemu_monitor_query_status_finish(result, &error);
        Domain *d;
        DomainState state;
        const char *reason;

        if (!reply) {
                recovery_give_up(r, recovery_uuid(a->rec), error ? error->message : "bad query-status reply",
                                 "crashed");
                qemu_process_free(a->qemu);
                goto out;
        }
        if (!reply->running && start_unfinished(a->rec)) {
                /* Detached, not killed: recover_unstarted kills it and waits. */
                qemu_process_free(a->qemu);
                recover_unstarted(r, a->load, g_steal_pointer(&a->rec->file));
                goto out;
        }
        state = reply->running ? DOMAIN_STATE_RUNNING : DOMAIN_STATE_PAUSED;
        reason = found_reason(a->rec, state);
        d = registry_lookup_by_uuid(r, recovery_uuid(a->rec), NULL);
        if (!d) {
                d = domain_new(registry_domain_host(r), NULL);
                d->live = domain_def_copy(a->rec->file->live);
                registry_add_domain(r, d);
        }
        domain_adopt_process(d, domain_def_copy(a->rec->file->live), a->qemu, state, reason);
        domain_learn_ram_size(d);
        g_debug("Found guest '%s' again (QEMU %d, %s)", domain_name(d), qemu_process_get_pid(a->qemu),
                domain_state_to_string(d->state));
        if (a->rec->journal.type != JOB_TYPE_NONE) {
                a->qemu_status = g_strdup(reply->status);
                qemu_monitor_query_migrate_async(qemu_process_get_qmp(d->qemu), on_recovered_migration, a);
                return;
        }
out:
        attached_free(a);
}

static void on_recovered_attach(GObject *source, GAsyncResult *result, gpointer user_data) {
        Attached *a = user_data;
        g_autoptr(GError) error = NULL;

        a->qemu = qemu_process_attach_finish(result, &error);
        if (!a->qemu) {
                recovery_give_up(a->rec->registry, recovery_uuid(a->rec), error->message, "crashed");
                attached_free(a);
                return;
        }
        qemu_monitor_query_status_async(qemu_process_get_qmp(a->qemu), on_recovered_status, a);
}

static void recover_guest(Registry *r, GTask *load, StatusFile *file) {
        g_autofree char *monitor = registry_monitor_path(r, file->live->uuid);
        Recovery *rec = g_new0(Recovery, 1);
        Attached *a;

        rec->registry = r;
        rec->file = file;
        migration_journal_read(&rec->journal, file->object);
        a = g_new0(Attached, 1);
        a->load = g_object_ref(load);
        a->rec = rec;
        (*(guint *) g_task_get_task_data(load))++;
        qemu_process_attach_async((pid_t) file->pid, recovery_uuid(rec), monitor, NULL, on_recovered_attach, a);
}

static void load_definitions(Registry *r) {
        g_autoptr(GPtrArray) defs = state_store_load_definitions(registry_get_store(r));

        for (guint i = 0; i < defs->len; i++) {
                DomainDef *def = defs->pdata[i];

                if (registry_lookup_by_uuid(r, def->uuid, NULL) || registry_lookup_by_name(r, def->name, NULL)) {
                        g_warning("Definition of domain '%s' repeats another, ignoring", def->name);
                        continue;
                }
                registry_add_domain(r, domain_new(registry_domain_host(r), g_steal_pointer(&defs->pdata[i])));
        }
}

void recovery_load_async(Registry *r, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(GPtrArray) files = NULL;

        /* One count for this function itself, so that fast failures cannot
         * complete the load before every guest has been looked at. */
        g_task_set_task_data(task, g_new0(guint, 1), g_free);
        (*(guint *) g_task_get_task_data(task))++;
        load_definitions(r);
        files = state_store_load_status(registry_get_store(r));
        for (guint i = 0; i < files->len; i++) {
                StatusFile *file = g_steal_pointer(&files->pdata[i]);

                if (file->starting)
                        recover_unstarted(r, task, file);
                else
                        recover_guest(r, task, file);
        }
        load_step_done(task);
}

gboolean recovery_load_finish(Registry *r, GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}
