/* Storage migration over NBD, the source's end of the mirrors: the
 * switch-over and the clean-up when a job ends (see migration-storage.h). */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <glib/gstdio.h>

#include "migration-job.h"
#include "migration-storage.h"
#include "migration-storage-private.h"
#include "qemu-monitor.h"
#include "qemu-monitor-block.h"
#include "registry.h"

#define GONE_POLL_MS 50

/* ---- Switch-over ---- */

static void on_continued(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("migrate-continue failed: %s", error->message);
}

static void on_cancel_failed_stream(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("migrate_cancel failed: %s", error->message);
}

static void switchover_failed(Domain *d, const char *why) {
        g_warning("Domain %s: ending the disk mirrors failed (%s): cancelling the migration", domain_name(d), why);
        qemu_monitor_migrate_cancel_async(qemu_process_get_qmp(d->qemu), on_cancel_failed_stream, NULL);
}

static void wait_mirrors_gone(DomainRef *ref);

static void on_jobs_after_cancel(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) jobs = qemu_monitor_query_block_jobs_finish(result, &error);
        Domain *d = domain_ref_get(ref);
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        if (!job || !d->qemu)
                return;
        if (!jobs)
                return switchover_failed(d, error->message);
        for (guint k = 0; k < jobs->len; k++)
                if (g_strv_contains((const char *const *) job->storage_jobs, ((QemuBlockJob *) jobs->pdata[k])->id))
                        return wait_mirrors_gone(g_steal_pointer(&ref));
        g_clear_pointer(&job->storage_jobs, g_strfreev);
        qemu_monitor_migrate_continue_async(qemu_process_get_qmp(d->qemu), "pre-switchover", on_continued,
                                            g_steal_pointer(&ref));
}

static void query_mirrors_gone(DomainRef *ref /* consumed */) {
        Domain *d = domain_ref_get(ref);

        if (!d || !d->qemu) {
                domain_ref_free(ref);
                return;
        }
        qemu_monitor_query_block_jobs_async(qemu_process_get_qmp(d->qemu), on_jobs_after_cancel, ref);
}

static gboolean on_gone_timer(gpointer user_data) {
        DomainRef *ref = user_data;
        Domain *d = domain_ref_get(ref);
        MigrationJob *job = d ? migration_job_of(d, JOB_TYPE_MIGRATION_OUT) : NULL;

        if (job && job->storage_gone_timer == g_source_get_id(g_main_current_source()))
                job->storage_gone_timer = 0;
        query_mirrors_gone(ref);
        return G_SOURCE_REMOVE;
}

/* The guest is paused meanwhile: BLOCK_JOB_COMPLETED cuts the wait short
 * (migration_storage_block_job_event). */
static void wait_mirrors_gone(DomainRef *ref /* consumed */) {
        Domain *d = domain_ref_get(ref);
        MigrationJob *job = d ? migration_job_of(d, JOB_TYPE_MIGRATION_OUT) : NULL;
        guint delay = job ? migration_storage_poll_delay(job, GONE_POLL_MS) : GONE_POLL_MS;
        guint id = g_timeout_add(delay, on_gone_timer, ref);

        if (job)
                job->storage_gone_timer = id;
}

static void on_mirrors_cancelled(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;
        Domain *d = domain_ref_get(ref);

        if (!qemu_monitor_command_finish(result, &error)) {
                if (d && d->qemu)
                        switchover_failed(d, error->message);
                return;
        }
        /* Usually gone by the reply already. */
        query_mirrors_gone(g_steal_pointer(&ref));
}

void migration_storage_switchover(Domain *d) {
        MigrationJob *job = d->job;

        if (!job->storage_jobs) {
                qemu_monitor_migrate_continue_async(qemu_process_get_qmp(d->qemu), "pre-switchover", on_continued,
                                                    domain_ref_new(d));
                return;
        }
        qemu_monitor_cancel_block_jobs_async(qemu_process_get_qmp(d->qemu), (const char *const *) job->storage_jobs,
                                             on_mirrors_cancelled, domain_ref_new(d));
}

/* A pending poll's timer fires now. */
static void hurry(guint timer) {
        GSource *source = timer ? g_main_context_find_source_by_id(NULL, timer) : NULL;

        if (source)
                g_source_set_ready_time(source, 0);
}

void migration_storage_block_job_event(Domain *d) {
        MigrationJob *job = d->job;

        if (job->type != JOB_TYPE_MIGRATION_OUT)
                return;
        /* QEMU may send the event before the reply to a query it answered
         * earlier: then no timer is armed yet, and the next one fires at once. */
        if (!job->storage_timer && !job->storage_gone_timer)
                job->storage_event = TRUE;
        hurry(job->storage_timer);
        hurry(job->storage_gone_timer);
}

/* ---- The end ---- */

static void on_cleanup_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_debug("Storage migration clean-up: %s", error->message);
}

/* A failed job's mirrors on the source: cancelled, then, once QEMU lists
 * none of them (a cancelled mirror lingers a moment), their NBD client
 * nodes deleted, so that the next migration finds the names free and QEMU
 * keeps no connection to the destination. One command per name, each
 * refusal ignored: a mirror that failed or ended, or (after a restart) a
 * name that never was, is simply not there. */
typedef struct {
        DomainRef *ref;
        GStrv jobs, nodes;
        guint next;             /* the job or node of the command in flight */
        guint polls;
} SourceCleanup;

#define CLEANUP_POLL_MS 100
#define CLEANUP_POLLS_MAX 300

static void source_cleanup_free(SourceCleanup *c) {
        domain_ref_free(c->ref);
        g_strfreev(c->jobs);
        g_strfreev(c->nodes);
        g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SourceCleanup, source_cleanup_free)

/* The domain's QMP client, NULL once the domain or its QEMU has gone. */
static QmpClient *cleanup_monitor(SourceCleanup *c) {
        Domain *d = domain_ref_get(c->ref);

        return d && d->qemu ? qemu_process_get_qmp(d->qemu) : NULL;
}

static const char *cleanup_name(SourceCleanup *c) {
        Domain *d = domain_ref_get(c->ref);

        return d ? domain_name(d) : c->ref->uuid;
}

static void delete_next_node(SourceCleanup *c /* consumed */);

static void on_node_deleted(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(SourceCleanup) c = user_data;
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_debug("Domain %s: blockdev-del %s: %s", cleanup_name(c), c->nodes[c->next], error->message);
        c->next++;
        delete_next_node(g_steal_pointer(&c));
}

static void delete_next_node(SourceCleanup *c) {
        QmpClient *mon = cleanup_monitor(c);

        if (!mon || !c->nodes[c->next]) {
                if (mon)
                        g_info("Domain %s: the disk mirrors and their NBD nodes are gone", cleanup_name(c));
                source_cleanup_free(c);
                return;
        }
        qemu_monitor_blockdev_del_async(mon, c->nodes[c->next], on_node_deleted, c);
}

static gboolean on_cleanup_poll(gpointer user_data);

static void on_cleanup_jobs(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(SourceCleanup) c = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) jobs = qemu_monitor_query_block_jobs_finish(result, &error);

        if (!cleanup_monitor(c))
                return;
        if (!jobs) {
                g_warning("Domain %s: query-block-jobs failed while ending the disk mirrors: %s", cleanup_name(c),
                          error->message);
                return;
        }
        for (guint k = 0; k < jobs->len; k++)
                if (g_strv_contains((const char *const *) c->jobs, ((QemuBlockJob *) jobs->pdata[k])->id)) {
                        if (++c->polls > CLEANUP_POLLS_MAX) {
                                g_warning("Domain %s: disk mirror %s does not end", cleanup_name(c),
                                          ((QemuBlockJob *) jobs->pdata[k])->id);
                                return;
                        }
                        g_timeout_add(CLEANUP_POLL_MS, on_cleanup_poll, g_steal_pointer(&c));
                        return;
                }
        c->next = 0;
        delete_next_node(g_steal_pointer(&c));
}

static gboolean on_cleanup_poll(gpointer user_data) {
        g_autoptr(SourceCleanup) c = user_data;
        QmpClient *mon = cleanup_monitor(c);

        if (mon)
                qemu_monitor_query_block_jobs_async(mon, on_cleanup_jobs, g_steal_pointer(&c));
        return G_SOURCE_REMOVE;
}

static void cancel_next_job(SourceCleanup *c /* consumed */);

static void on_job_cancelled(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(SourceCleanup) c = user_data;
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_debug("Domain %s: block-job-cancel %s: %s", cleanup_name(c), c->jobs[c->next], error->message);
        c->next++;
        cancel_next_job(g_steal_pointer(&c));
}

static void cancel_next_job(SourceCleanup *c) {
        QmpClient *mon = cleanup_monitor(c);

        if (mon && c->jobs[c->next]) {
                qemu_monitor_block_job_cancel_async(mon, c->jobs[c->next], on_job_cancelled, c);
                return;
        }
        on_cleanup_poll(c);
}

/* @jobs: the mirrors to cancel (consumed, nullable: none left), @nodes
 * their NBD client nodes (consumed); the job ids are the node names. */
static void source_cleanup(Domain *d, GStrv jobs, GStrv nodes) {
        SourceCleanup *c = g_new0(SourceCleanup, 1);

        c->ref = domain_ref_new(d);
        c->jobs = jobs ? jobs : g_strdupv(nodes);
        c->nodes = nodes;
        if (jobs)
                cancel_next_job(c);
        else
                on_cleanup_poll(c);
}

void migration_storage_job_ended(Domain *d, gboolean completed) {
        MigrationJob *job = d->job;

        g_clear_handle_id(&job->storage_timer, g_source_remove);
        if (job->type == JOB_TYPE_MIGRATION_OUT && job->storage_nodes && d->qemu && !completed)
                source_cleanup(d, g_steal_pointer(&job->storage_jobs), g_steal_pointer(&job->storage_nodes));
        if (job->type == JOB_TYPE_MIGRATION_IN && completed && d->qemu &&
            migration_storage_requested(job->params))
                qemu_monitor_nbd_server_stop_async(qemu_process_get_qmp(d->qemu), on_cleanup_done, NULL);
        if (job->type == JOB_TYPE_MIGRATION_IN && !completed && job->storage_created) {
                migration_storage_remove_created((const char *const *) job->storage_created->pdata,
                                                 job->storage_created->len);
                g_clear_pointer(&job->storage_created, g_ptr_array_unref);
                /* Prepare's early record that listed them, if no QEMU was
                 * spawned: a launch or a QEMU removes its own. */
                if (!d->qemu && !d->starting)
                        state_store_remove_status(registry_get_store(d->registry), domain_uuid(d));
        }
}

void migration_storage_remove_created(const char *const *paths, guint n) {
        for (guint i = 0; i < n; i++) {
                /* Listed before it was created: it may never have been. */
                if (g_unlink(paths[i]) == 0)
                        g_info("Removed image %s that the failed migration created", paths[i]);
                else if (errno != ENOENT)
                        g_warning("Cannot remove image %s that the failed migration created: %s", paths[i],
                                  g_strerror(errno));
        }
}

/* ---- After a restart of the source daemon ---- */

/* The names the mirrors of @def's disks have (and their NBD nodes), for
 * every disk that has an image: the journal does not say which were copied. */
static GStrv mirror_names(const DomainDef *def) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();

        for (guint i = 0; i < def->disks->len; i++) {
                const DomainDisk *disk = def->disks->pdata[i];

                g_autofree char *id = NULL;

                if (!disk->source_file || !disk->target_dev)
                        continue;
                id = qemu_monitor_mirror_job_id(disk->target_dev);
                g_strv_builder_add(b, id);
        }
        return g_strv_builder_end(b);
}

static gboolean copied_storage(Domain *d, guint flags, JobPhase phase) {
        /* Begin starts no mirror; Perform may have. */
        return d->qemu && d->live && (flags & (MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC)) &&
               phase != JOB_PHASE_BEGIN3;
}

void migration_storage_restore_source(MigrationJob *job) {
        Domain *d = job->domain;

        if (job->type != JOB_TYPE_MIGRATION_OUT || !copied_storage(d, job->params->flags, job->phase))
                return;
        g_strfreev(job->storage_jobs);
        job->storage_jobs = mirror_names(d->live);
        g_strfreev(job->storage_nodes);
        job->storage_nodes = mirror_names(d->live);
}

void migration_storage_recover_source(Domain *d, guint flags, JobPhase phase) {
        if (copied_storage(d, flags, phase))
                source_cleanup(d, mirror_names(d->live), mirror_names(d->live));
}
