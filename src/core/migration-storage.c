/* Storage migration over NBD: see migration-storage.h. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "i18n.h"
#include "md-error.h"
#include "migration-disks-uri.h"
#include "migration-job.h"
#include "migration-storage.h"
#include "migration-storage-private.h"
#include "qemu-monitor.h"
#include "qemu-migration-params.h"
#include "qemu-monitor-block.h"
#include "storage-image.h"

#define READY_POLL_MS 200

gboolean migration_storage_requested(const MigrationParams *p) {
        return (p->flags & (MIGRATE_NON_SHARED_DISK | MIGRATE_NON_SHARED_INC)) != 0;
}

static gboolean copyable(const DomainDisk *disk) {
        return disk->source_file && !disk->readonly && !disk->shareable && g_strcmp0(disk->device, "cdrom") != 0 &&
               g_strcmp0(disk->device, "floppy") != 0;
}

/* "diskN", the -drive id of the disk at @index (qemu-command-disks.c). */
static char *drive_id(guint index) {
        return g_strdup_printf("disk%u", index);
}

static int disk_index(const DomainDef *def, const char *target) {
        for (guint i = 0; i < def->disks->len; i++)
                if (g_strcmp0(((DomainDisk *) def->disks->pdata[i])->target_dev, target) == 0)
                        return (int) i;
        return -1;
}

GArray *migration_storage_disks(const DomainDef *def, const MigrationParams *p, GError **error) {
        g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(guint));

        if (!p->migrate_disks) {
                for (guint i = 0; i < def->disks->len; i++)
                        if (copyable(def->disks->pdata[i]))
                                g_array_append_val(out, i);
                return g_steal_pointer(&out);
        }
        for (guint i = 0; p->migrate_disks[i]; i++) {
                int index = disk_index(def, p->migrate_disks[i]);

                if (index < 0 || !copyable(def->disks->pdata[index])) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    "migrate_disks names '%s', which is no writable disk with an image of "
                                    "domain '%s'", p->migrate_disks[i], def->name);
                        return NULL;
                }
                g_array_append_val(out, index);
        }
        return g_steal_pointer(&out);
}

gboolean migration_storage_describe(const DomainDef *def, GArray *disks, gboolean top_only, GPtrArray *images,
                                    const GError *query_error, MigrationCookie *cookie, GError **error) {
        for (guint i = 0; i < disks->len; i++) {
                guint index = g_array_index(disks, guint, i);
                const DomainDisk *disk = def->disks->pdata[index];
                g_autofree char *device = drive_id(index);

                if (!images) {
                        g_set_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                    _("Cannot read the virtual size of image %s: %s"), disk->source_file,
                                    query_error ? query_error->message : "");
                        return FALSE;
                }
                if (!storage_image_describe(disk, qemu_block_images_find(images, device), top_only, cookie, error))
                        return FALSE;
        }
        return TRUE;
}

/* The images Prepare creates, one after the other. */
typedef struct {
        DomainRef *ref;
        DomainDef *def;         /* the incoming definition, for the early record */
        guint64 job_serial;     /* the Prepare's job (another may have the domain by now) */
        MigrationCookie *todo;  /* nbd_disks: the disks whose images are missing here */
        GPtrArray *paths;       /* char*: their images, in the same order */
        guint next;
        gboolean top_only;
} Creations;

static void creations_free(Creations *c) {
        domain_ref_free(c->ref);
        domain_def_free(c->def);
        migration_cookie_free(c->todo);
        g_ptr_array_unref(c->paths);
        g_free(c);
}

static void create_next(GTask *task /* consumed */);

static void on_image_created(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Creations *c = g_task_get_task_data(task);
        const char *path = c->paths->pdata[c->next];
        MigrationJob *job = migration_job_of(domain_ref_get(c->ref), JOB_TYPE_MIGRATION_IN);
        g_autoptr(GError) error = NULL;

        if (!storage_image_create_finish(result, &error))
                return g_task_return_error(task, g_steal_pointer(&error));
        if (!job || job->serial != c->job_serial || job->phase != JOB_PHASE_PREPARE) {
                /* The job ended meanwhile and cannot remove what it never heard of;
                 * but the image of another Prepare of the guest, started
                 * since, is that one's (at the same path). */
                if ((!job || job->serial == c->job_serial) && g_unlink(path) < 0 && errno != ENOENT)
                        g_warning("Cannot remove image %s that the ended migration created: %s", path,
                                  g_strerror(errno));
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                               _("The incoming migration ended while its images were being "
                                                 "created"));
        }
        /* Listed in job->storage_created already (record_creation()). */
        c->next++;
        create_next(g_steal_pointer(&task));
}

/* Takes back record_creation()'s entry: that creation never began, and
 * what may be at its path is not this Prepare's to remove. */
static void forget_creation(MigrationJob *job) {
        g_ptr_array_remove_index(job->storage_created, job->storage_created->len - 1);
}

/* Before its qemu-img create: the image goes into the job's list and its
 * early record (no pid: QEMU is not spawned yet), so that a daemon killed
 * before the spawn leaves nothing that no record names; the restart
 * removes them (recovery-load.c), as the job's end does. One at a time:
 * an image whose creation has not begun is not this Prepare's to remove
 * (a file may appear there meanwhile). Nothing to create, nothing
 * written. */
static gboolean record_creation(Domain *d, const DomainDef *def, const char *path, GError **error) {
        MigrationJob *job = d->job;

        if (!job->storage_created)
                job->storage_created = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(job->storage_created, g_strdup(path));
        if (!domain_save_unspawned_status(d, def, error)) {
                forget_creation(job);
                return FALSE;
        }
        return TRUE;
}

static void create_next(GTask *task) {
        Creations *c = g_task_get_task_data(task);
        GError *error = NULL;

        if (c->next == c->paths->len) {
                g_task_return_boolean(task, TRUE);
                g_object_unref(task);
                return;
        }
        /* The job is the Prepare's: checked by on_image_created(). */
        if (!record_creation(domain_ref_get(c->ref), c->def, c->paths->pdata[c->next], &error)) {
                g_task_return_error(task, error);
                g_object_unref(task);
                return;
        }
        if (!storage_image_create_async(c->paths->pdata[c->next], c->todo->nbd_disks->pdata[c->next],
                                        c->top_only, on_image_created, task, &error)) {
                forget_creation(domain_ref_get(c->ref)->job);
                g_task_return_error(task, error);
                g_object_unref(task);
        }
}

void migration_storage_create_async(Domain *d, const DomainDef *def, const MigrationCookie *cookie,
                                    GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, NULL, callback, user_data);
        Creations *c = g_new0(Creations, 1);

        c->ref = domain_ref_new(d);
        c->def = domain_def_copy(def);
        c->job_serial = d->job->serial;
        c->todo = migration_cookie_new();
        c->paths = g_ptr_array_new_with_free_func(g_free);
        c->top_only = (d->job->params->flags & MIGRATE_NON_SHARED_INC) != 0;
        g_task_set_task_data(task, c, (GDestroyNotify) creations_free);
        for (guint i = 0; cookie->nbd_disks && i < cookie->nbd_disks->len; i++) {
                const MigrationCookieDisk *cd = cookie->nbd_disks->pdata[i];
                int index = disk_index(def, cd->target);
                const DomainDisk *disk = index >= 0 ? def->disks->pdata[index] : NULL;

                if (!disk || !copyable(disk)) {
                        g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                                _("The source copies disk %s, which the destination XML lacks or "
                                                  "does not make a writable disk with an image"), cd->target);
                        g_object_unref(task);
                        return;
                }
                if (g_file_test(disk->source_file, G_FILE_TEST_EXISTS))
                        continue;
                migration_cookie_set_nbd_backing(migration_cookie_add_nbd_disk(c->todo, cd->target, cd->format,
                                                                               cd->capacity),
                                                 cd->backing, cd->backing_format);
                g_ptr_array_add(c->paths, g_strdup(disk->source_file));
        }
        create_next(task);
}

gboolean migration_storage_create_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}

static void builder_take(GStrvBuilder *b, char *s /* consumed */) {
        g_strv_builder_add(b, s);
        g_free(s);
}

/* "diskN", the -drive id of each target (qemu-command-disks.c). */
static GStrv drive_ids(const DomainDef *def, char **targets) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();

        for (guint i = 0; targets[i]; i++)
                builder_take(b, drive_id((guint) disk_index(def, targets[i])));
        return g_strv_builder_end(b);
}

void migration_storage_export_async(Domain *d, const char *host, guint16 port, const char *socket, char **targets,
                                    GAsyncReadyCallback callback, gpointer user_data) {
        g_auto(GStrv) devices = drive_ids(d->live, targets);
        /* With TLS the server takes the stream's credentials (endpoint server). */
        QemuNbdServer server = { .host = host, .port = port, .socket = socket,
                                 .tls_creds = d->job && (d->job->params->flags & MIGRATE_TLS) ? QEMU_MIGRATION_TLS_ID
                                                                                              : NULL };

        qemu_monitor_nbd_export_drives_async(qemu_process_get_qmp(d->qemu), &server, (const char *const *) devices,
                                             (const char *const *) targets, callback, user_data);
}

gboolean migration_storage_export_finish(GAsyncResult *result, GError **error) {
        return qemu_monitor_command_finish(result, error);
}

/* ---- Source ---- */

gboolean migration_storage_check_cookie(const MigrationParams *p, const MigrationParams *more, gint64 nbd_port,
                                        GError **error) {
        const char *uri = p->disks_uri ? p->disks_uri : more ? more->disks_uri : NULL;
        MigrationDisksUri parsed = { 0 };
        gboolean addressed = uri && migration_disks_uri_parse(uri, &parsed, NULL) && (parsed.socket || parsed.port);

        migration_disks_uri_clear(&parsed);
        if (nbd_port || addressed)
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                    _("The destination's cookie names no NBD server for copying the disks (an older destination?)"));
        return FALSE;
}

/* Where the mirrors write: disks_uri's socket, or its host (and port, if it
 * has one), else the host of the migration URI and the cookie's port. */
static gboolean nbd_target(MigrationJob *job, const char *migrate_uri, MigrationDisksUri *ret, GError **error) {
        const MigrationParams *p = job->params;

        if (p->disks_uri) {
                if (!migration_disks_uri_parse(p->disks_uri, ret, error))
                        return FALSE;
                if (!ret->socket && !ret->port)
                        ret->port = job->storage_port;
                return TRUE;
        }
        *ret = (MigrationDisksUri) { .port = job->storage_port };
        return migration_uri_parse(migrate_uri, &ret->host, NULL, error);
}

/* MiB/s as QEMU's block job speed (bytes/s; 0: no limit). */
static guint64 speed_bytes(guint64 mib) {
        return MIN(mib, MIGRATION_BANDWIDTH_MAX_MIB) * 1024 * 1024;
}

/* libvirt's rule: the mirrors run at the migration's bandwidth (MiB/s;
 * QEMU's speed is bytes/s), the parameter or the domain's max speed. */
static guint64 mirror_speed(Domain *d, const MigrationParams *p) {
        return speed_bytes(p->has_bandwidth ? p->bandwidth : d->max_speed_mib);
}

static void on_speed_set(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                g_warning("Failed to change the disk mirrors' speed: %s, ignoring", error->message);
}

void migration_storage_set_speed(Domain *d, guint64 mib_s) {
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        if (!job || !job->storage_jobs || !d->qemu)
                return;
        qemu_monitor_block_jobs_set_speed_async(qemu_process_get_qmp(d->qemu),
                                                (const char *const *) job->storage_jobs, speed_bytes(mib_s),
                                                on_speed_set, NULL);
}

static MigrationJob *task_job(GTask *task) {
        Domain *d = domain_ref_get(g_task_get_task_data(task));
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        return job && d->qemu ? job : NULL;
}

static void poll_ready(GTask *task);

static void on_jobs(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) jobs = qemu_monitor_query_block_jobs_finish(result, &error);
        MigrationJob *job = task_job(task);
        guint ready = 0;
        guint64 total = 0, processed = 0;

        if (!job)
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                               "The migration ended while its disks were being copied");
        if (!jobs)
                return g_task_return_error(task, g_steal_pointer(&error));
        if (job->aborted)
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_ABORTED,
                                               "The migration was aborted");
        for (guint i = 0; job->storage_jobs[i]; i++) {
                const QemuBlockJob *found = NULL;

                for (guint k = 0; k < jobs->len; k++)
                        if (g_str_equal(((QemuBlockJob *) jobs->pdata[k])->id, job->storage_jobs[i]))
                                found = jobs->pdata[k];
                if (!found || found->error)
                        return g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                                       "Copying a disk to the destination failed (job %s: %s)",
                                                       job->storage_jobs[i],
                                                       found ? found->error : "gone");
                ready += found->ready;
                total += found->len;
                processed += found->offset;
        }
        migration_job_set_disk_stats(job, total, processed);
        if (ready == g_strv_length(job->storage_jobs))
                return g_task_return_boolean(task, TRUE);
        poll_ready(g_steal_pointer(&task));
}

/* The wait between two polls. Its task is answered however the wait ends:
 * the timer fires, or the job's end removes it (the task's caller holds
 * Perform's call, which would be lost with it). */
typedef struct {
        GTask *task;                 /* NULL once the timer has fired */
} PollWait;

static void poll_wait_free(PollWait *w) {
        if (w->task) {
                g_task_return_new_error(w->task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                        "The migration ended while its disks were being copied");
                g_object_unref(w->task);
        }
        g_free(w);
}

static gboolean on_poll_timer(gpointer user_data) {
        PollWait *w = user_data;
        GTask *task = g_steal_pointer(&w->task);
        MigrationJob *job = task_job(task);

        if (!job) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                        "The migration ended while its disks were being copied");
                g_object_unref(task);
                return G_SOURCE_REMOVE;
        }
        job->storage_timer = 0;
        qemu_monitor_query_block_jobs_async(qemu_process_get_qmp(job->domain->qemu), on_jobs, task);
        return G_SOURCE_REMOVE;
}

/* The delay of the next poll (migration-storage-private.h). */
guint migration_storage_poll_delay(MigrationJob *job, guint ms) {
        if (!job->storage_event)
                return ms;
        job->storage_event = FALSE;
        return 0;
}

static void poll_ready(GTask *task /* consumed */) {
        MigrationJob *job = task_job(task);
        PollWait *w;

        if (!job) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                        "The migration ended while its disks were being copied");
                g_object_unref(task);
                return;
        }
        w = g_new0(PollWait, 1);
        w->task = task;
        job->storage_timer = g_timeout_add_full(G_PRIORITY_DEFAULT, migration_storage_poll_delay(job, READY_POLL_MS),
                                                on_poll_timer, w, (GDestroyNotify) poll_wait_free);
}

static void on_mirrors_started(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GError) error = NULL;

        if (!qemu_monitor_command_finish(result, &error))
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                               "Cannot start copying the disks to the destination: %s",
                                               error->message);
        poll_ready(g_steal_pointer(&task));
}

void migration_storage_mirror_async(Domain *d, const char *migrate_uri, const char *tls_hostname,
                                    GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) disks = migration_storage_disks(d->live, d->job->params, &error);
        g_autoptr(GStrvBuilder) targets = g_strv_builder_new(), devices = g_strv_builder_new();
        g_autoptr(GStrvBuilder) ids = g_strv_builder_new();
        g_auto(GStrv) target_v = NULL, device_v = NULL;
        g_auto(MigrationDisksUri) where = { 0 };
        QemuNbdServer server;

        g_task_set_task_data(task, domain_ref_new(d), (GDestroyNotify) domain_ref_free);
        if (!disks || !nbd_target(d->job, migrate_uri, &where, &error))
                return g_task_return_error(task, g_steal_pointer(&error));
        /* With TLS the client takes the stream's credentials (endpoint client) and
         * checks the server's certificate against the stream's host name. */
        server = (QemuNbdServer) { .host = where.host, .port = where.port, .socket = where.socket,
                                   .tls_creds = (d->job->params->flags & MIGRATE_TLS) ? QEMU_MIGRATION_TLS_ID : NULL,
                                   .tls_hostname = tls_hostname };
        for (guint i = 0; i < disks->len; i++) {
                guint index = g_array_index(disks, guint, i);
                const DomainDisk *disk = d->live->disks->pdata[index];

                g_strv_builder_add(targets, disk->target_dev);
                builder_take(devices, drive_id(index));
                builder_take(ids, qemu_monitor_mirror_job_id(disk->target_dev));
        }
        target_v = g_strv_builder_end(targets);
        device_v = g_strv_builder_end(devices);
        g_strfreev(d->job->storage_jobs);
        d->job->storage_jobs = g_strv_builder_end(ids);
        g_strfreev(d->job->storage_nodes);
        d->job->storage_nodes = g_strdupv(d->job->storage_jobs);
        qemu_monitor_mirror_drives_async(qemu_process_get_qmp(d->qemu), &server, (const char *const *) device_v,
                                         (const char *const *) target_v,
                                         (d->job->params->flags & MIGRATE_NON_SHARED_INC) != 0,
                                         mirror_speed(d, d->job->params), on_mirrors_started, g_steal_pointer(&task));
}

gboolean migration_storage_mirror_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}

