#define G_LOG_DOMAIN "migrationd"

/* A job's statistics and JobProgress: QEMU's polled, the disks' copy fed
 * in, and what the bus reads of them. */
#include "migration-job.h"
#include "registry.h"

/* libvirt's rate for statistics while a stream runs. */
#define POLL_INTERVAL_MS 250
#define EMIT_INTERVAL_MS 250

/* libvirt's virDomainJobOperation values for the "operation" key. */
#define JOB_OPERATION_MIGRATION_IN 4
#define JOB_OPERATION_MIGRATION_OUT 5

static gint64 now_ms(void) {
        return g_get_monotonic_time() / 1000;
}

/* libvirt's data_* are memory and disks together: the figures a client puts
 * next to JobProgress. */
static void add_disks_to_data(GVariantDict *dict, const MigrationJob *job) {
        guint64 total = 0, processed = 0, remaining = 0;

        (void) g_variant_dict_lookup(dict, "memory_total", "t", &total);
        (void) g_variant_dict_lookup(dict, "memory_processed", "t", &processed);
        (void) g_variant_dict_lookup(dict, "memory_remaining", "t", &remaining);
        g_variant_dict_insert(dict, "data_total", "t", total + job->disk_total);
        g_variant_dict_insert(dict, "data_processed", "t", processed + job->disk_processed);
        g_variant_dict_insert(dict, "data_remaining", "t", remaining + job->disk_total - job->disk_processed);
}

GVariant *migration_job_stats(MigrationJob *job, GVariant *base) {
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
        g_variant_dict_insert(&dict, "progress", "d", job->progress.percent);
        g_variant_dict_insert(&dict, "time_elapsed", "t", (guint64) (now_ms() - job->start_ms));
        if (job->disk_total) {
                g_variant_dict_insert(&dict, "disk_total", "t", job->disk_total);
                g_variant_dict_insert(&dict, "disk_processed", "t", job->disk_processed);
                g_variant_dict_insert(&dict, "disk_remaining", "t", job->disk_total - job->disk_processed);
                g_variant_dict_insert(&dict, "disk_bps", "t", job->disk_bps);
                add_disks_to_data(&dict, job);
        }
        return g_variant_ref_sink(g_variant_dict_end(&dict));
}

void migration_job_set_disk_stats(MigrationJob *job, guint64 total, guint64 processed) {
        Domain *d = job->domain;
        gint64 now = now_ms();
        GVariant *before = job->stats;
        double percent = job->progress.percent;

        processed = MIN(processed, total);
        if (job->disk_sample_ms && now > job->disk_sample_ms && processed >= job->disk_processed)
                job->disk_bps = (processed - job->disk_processed) * 1000 / (guint64) (now - job->disk_sample_ms);
        job->disk_sample_ms = now;
        job->disk_total = total;
        job->disk_processed = processed;
        job_progress_update_disks(&job->progress, total, processed);
        job->stats = migration_job_stats(job, before);
        if (job->progress.percent != percent)
                registry_notify_changed(d->registry, d, "JobProgress", NULL);
        g_clear_pointer(&before, g_variant_unref);
        if (now - job->last_emit_ms >= EMIT_INTERVAL_MS) {
                job->last_emit_ms = now;
                registry_emit_job_stats(d->registry, d, job->stats);
        }
}

void migration_job_take_downtime(MigrationJob *job, GVariant *destination_stats) {
        guint64 downtime;

        if (!destination_stats || !g_variant_lookup(destination_stats, "downtime", "t", &downtime))
                return;
        g_auto(GVariantDict) dict;

        g_variant_dict_init(&dict, job->stats);
        g_variant_dict_insert(&dict, "downtime", "t", downtime);
        g_clear_pointer(&job->stats, g_variant_unref);
        job->stats = g_variant_ref_sink(g_variant_dict_end(&dict));
}

void migration_job_update_stats(MigrationJob *job, const QemuMigrationInfo *query_migrate) {
        Domain *d = job->domain;
        double before = job->progress.percent;
        gint64 now = now_ms();
        g_autoptr(GVariant) qemu = NULL;

        /* What QEMU may send with the guest stopped ends the passes. */
        job->progress.downtime_ms = d->max_downtime_ms;
        qemu = g_variant_ref_sink(qemu_migration_info_stats(query_migrate, &job->progress, now,
                                                            now - job->start_ms));

        g_clear_pointer(&job->stats, g_variant_unref);
        job->stats = migration_job_stats(job, qemu);
        if (job->progress.percent != before)
                registry_notify_changed(d->registry, d, "JobProgress", NULL);
        /* Rate-bounded: a bar needs no more, and the bus should not drown. */
        if (now - job->last_emit_ms >= EMIT_INTERVAL_MS) {
                job->last_emit_ms = now;
                registry_emit_job_stats(d->registry, d, job->stats);
        }
}

static void on_poll_reply(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(QemuMigrationInfo) reply = qemu_monitor_query_migrate_finish(result, NULL);
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
                qemu_monitor_query_migrate_async(qemu_process_get_qmp(d->qemu), on_poll_reply, domain_ref_new(d));
        }
        return G_SOURCE_CONTINUE;
}

void migration_job_start_polling(MigrationJob *job) {
        if (!job->poll_timer)
                job->poll_timer = g_timeout_add(POLL_INTERVAL_MS, on_poll, job);
}

double migration_job_progress(Domain *d) {
        double percent = 0;

        if (d->job)
                return d->job->progress.percent;
        /* Clients that look after the end see how it ended; a new job
         * starts again from 0. */
        if (d->last_job_stats)
                (void) g_variant_lookup(d->last_job_stats, "progress", "d", &percent);
        return percent;
}
