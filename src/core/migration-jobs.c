#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "migration-job.h"
#include "migration-jobs.h"
#include "recovery.h"

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
                        migration_job_abandon(d, _("the client driving the migration left the bus"));
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
