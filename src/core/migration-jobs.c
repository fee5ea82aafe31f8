#define G_LOG_DOMAIN "migrationd"

#include "migration-job.h"
#include "migration-jobs.h"
#include "recovery.h"

static void count_job(Domain *d, gpointer user_data) {
        guint *n = user_data;

        *n += d->job != NULL;
}

guint migration_jobs_count(Registry *r) {
        guint n = 0;

        registry_foreach_domain(r, count_job, &n);
        return n;
}

typedef struct {
        const char *owner;        /* jobs this client drives ... */
        gboolean ended;           /* ... or the jobs recovery ended */
        GPtrArray *uuids;
} Collect;

static void collect_job(Domain *d, gpointer user_data) {
        Collect *c = user_data;

        if (!d->job)
                return;
        if (c->ended ? d->job->end_when_heard != NULL : g_strcmp0(d->job->owner, c->owner) == 0)
                g_ptr_array_add(c->uuids, g_strdup(domain_uuid(d)));
}

/* UUIDs, not domains: acting on one may remove another from the registry. */
static GPtrArray *collect_jobs(Registry *r, const char *owner, gboolean ended) {
        Collect c = { .owner = owner, .ended = ended, .uuids = g_ptr_array_new_with_free_func(g_free) };

        registry_foreach_domain(r, collect_job, &c);
        return c.uuids;
}

void migration_jobs_client_vanished(Registry *r, const char *name) {
        g_autoptr(GPtrArray) abandoned = collect_jobs(r, name, FALSE);

        for (guint i = 0; i < abandoned->len; i++) {
                Domain *d = registry_lookup_by_uuid(r, abandoned->pdata[i], NULL);
                if (d && d->job)
                        migration_job_abandon(d, "the client driving the migration left the bus");
        }
}

static void watch_owner(Domain *d, gpointer user_data) {
        if (d->job && d->job->owner)
                registry_watch_client(user_data, d->job->owner);
}

void migration_jobs_watch_clients(Registry *r) {
        registry_foreach_domain(r, watch_owner, r);
}

void migration_jobs_end_restored(Registry *r) {
        g_autoptr(GPtrArray) uuids = collect_jobs(r, NULL, TRUE);

        for (guint i = 0; i < uuids->len; i++) {
                Domain *d = registry_lookup_by_uuid(r, uuids->pdata[i], NULL);
                if (d)
                        recovery_end_restored(d);
        }
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

void migration_job_attach(Domain *d, MigrationJob *job) {
        d->job = job;
        domain_set_observer(d, job->type == JOB_TYPE_MIGRATION_OUT ? &outgoing_observer : &incoming_observer,
                            job);
}
