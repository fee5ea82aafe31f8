/* The source side of a v3 migration: Begin, which checks the guest can go,
 * describes it for the destination and starts the outgoing job (Perform is
 * in migration-source.c). */
#define G_LOG_DOMAIN "migrationd"

#include "i18n.h"
#include "md-error.h"
#include "migration-safety.h"
#include "migration-setup.h"
#include "migration-source.h"
#include "migration-storage.h"
#include "migration.h"
#include "qemu-monitor-block.h"

static DomainDef *destination_def(Domain *d, MigrationParams *p, GError **error) {
        const char *name = p->destination_name ? p->destination_name : domain_name(d);
        g_autoptr(DomainDef) def = NULL;

        if (!p->destination_xml) {
                def = domain_def_copy(d->live ? d->live : d->def);
                domain_def_set_name(def, name);
                return g_steal_pointer(&def);
        }
        def = domain_def_parse(p->destination_xml, -1, error);
        if (!def)
                return NULL;
        if (!g_str_equal(def->uuid, domain_uuid(d))) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("destination_xml describes domain %s, not %s"), def->uuid, domain_uuid(d));
                return NULL;
        }
        if (!g_str_equal(def->name, name)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("destination_xml names the domain '%s'; use destination_name to "
                              "rename it to something other than '%s'"), def->name, name);
                return NULL;
        }
        return g_steal_pointer(&def);
}

/* What PERSIST_DEST makes the destination's definition, as libvirt's
 * "persistent" cookie data: persistent_xml when given, else the inactive
 * definition (which DefineXML may have changed while the guest runs), under
 * the destination's name. NULL for a transient domain: the destination then
 * keeps the live definition. */
static char *persistent_definition(Domain *d, MigrationParams *p, const char *name, GError **error) {
        g_autoptr(DomainDef) def = NULL;

        if (p->persistent_xml)
                return migration_persistent_xml_check(p->persistent_xml, name, domain_uuid(d), error)
                        ? g_strdup(p->persistent_xml) : NULL;
        if (!d->def)
                return NULL;
        def = domain_def_copy(d->def);
        domain_def_set_name(def, name);
        return domain_def_format(def);
}


/* Whether @d can go at all: a live migration needs it running (or paused),
 * an offline one a definition to move. */
static gboolean check_migratable(Domain *d, MigrationParams *p, GError **error) {
        if (!require_no_job(d, error))
                return FALSE;
        if (p->flags & MIGRATE_OFFLINE) {
                if (!domain_is_persistent(d)) {
                        g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                    _("Domain '%s' is transient: an offline migration moves the "
                                      "definition, and it has none"), domain_name(d));
                        return FALSE;
                }
        } else if (!domain_is_active(d) || d->starting || d->destroying) {
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            _("Domain '%s' is not running; only a running or paused domain can be "
                              "migrated live (use OFFLINE with PERSIST_DEST to move its definition)"),
                            domain_name(d));
                return FALSE;
        }
        return migration_check_safe(d, p, error);
}

/* The Begin3 cookie for the destination's definition @def, but for the
 * disks a storage migration copies (described once QEMU has answered). */
static MigrationCookie *begin_cookie(Domain *d, MigrationParams *p, DomainDef *def, GError **error) {
        g_autoptr(MigrationCookie) cookie = NULL;

        cookie = migration_cookie_for_host(registry_get_config(d->registry), "begin3", def->name, def->uuid);
        cookie->ram_kib = (gint64) d->ram_kib;
        if (p->persistent_xml || (p->flags & MIGRATE_PERSIST_DEST)) {
                g_autoptr(GError) local = NULL;
                cookie->persistent_xml = persistent_definition(d, p, def->name, &local);
                if (local) {
                        g_propagate_error(error, g_steal_pointer(&local));
                        return NULL;
                }
                /* A destination that would keep the live definition instead must refuse. */
                if (cookie->persistent_xml)
                        migration_cookie_add_feature(cookie, "persistent-xml", TRUE);
        }
        return g_steal_pointer(&cookie);
}

/* ---- QEMU's settings before the job (migration-source.h) ---- */

/* The two queries of migration_source_query_initial(), in flight. */
typedef struct {
        DomainRef *ref;
        guint64 job_serial;          /* the job that asked (a later job asks again) */
        GVariant *caps;              /* nullable */
        guint pending;               /* replies still to come */
} InitialQuery;

static void initial_query_unref(InitialQuery *q) {
        if (--q->pending)
                return;
        domain_ref_free(q->ref);
        g_clear_pointer(&q->caps, g_variant_unref);
        g_free(q);
}

/* QEMU answers in order: the capabilities came first. */
static void on_initial_params(GObject *source, GAsyncResult *result, gpointer user_data) {
        InitialQuery *q = user_data;
        g_autoptr(GVariant) params = qemu_monitor_query_migrate_parameters_finish(result, NULL);
        Domain *d = domain_ref_get(q->ref);
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);

        if (job && job->serial == q->job_serial)
                migration_setup_merge_stats(&job->setup_stats, migration_setup_initial_stats(q->caps, params));
        initial_query_unref(q);
}

static void on_initial_caps(GObject *source, GAsyncResult *result, gpointer user_data) {
        InitialQuery *q = user_data;

        q->caps = qemu_monitor_query_migrate_capabilities_finish(result, NULL);
        initial_query_unref(q);
}

void migration_source_query_initial(Domain *d) {
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);
        InitialQuery *q;

        if (!job || job->initial_queried || !d->qemu)
                return;
        job->initial_queried = TRUE;
        q = g_new0(InitialQuery, 1);
        q->ref = domain_ref_new(d);
        q->job_serial = job->serial;
        q->pending = 2;
        qemu_monitor_query_migrate_capabilities_async(qemu_process_get_qmp(d->qemu), on_initial_caps, q);
        qemu_monitor_query_migrate_parameters_async(qemu_process_get_qmp(d->qemu), on_initial_params, q);
}

/* A failed migration leaves the guest as the user had it (libvirt's
 * pre-migration state); the journal keeps it for a restart. */
static void remember_paused(Domain *d) {
        g_autoptr(GError) save_error = NULL;

        d->job->paused_before = TRUE;
        d->job->paused_reason_before = g_strdup(d->state_reason);
        if (!domain_save_status(d, &save_error))
                g_warning("%s, ignoring", save_error->message);
}

/* ---- Begin ----
 *
 * A storage migration describes its disks as the source QEMU has them
 * open (query-block), which Begin waits for with the job started: the job
 * holds the call as job->begin, so an abort, the client leaving or QEMU
 * going away answers it (migration_job_end()) and the reply, when it
 * comes, finds no job waiting for it. */

typedef struct {
        DomainRef *ref;
        DomainDef *def;                 /* the destination's */
        MigrationCookie *cookie;
        GArray *disks;                  /* storage: indices into d->live's disks; NULL: no copy */
        guint64 job_serial;             /* the job it started (0: none) */
} BeginCall;

static void begin_call_free(BeginCall *call) {
        domain_ref_free(call->ref);
        g_clear_pointer(&call->def, domain_def_free);
        g_clear_pointer(&call->cookie, migration_cookie_free);
        g_clear_pointer(&call->disks, g_array_unref);
        g_free(call);
}

typedef struct {
        char *xml;
        GBytes *cookie;
} BeginResult;

static void begin_result_free(BeginResult *r) {
        g_free(r->xml);
        g_clear_pointer(&r->cookie, g_bytes_unref);
        g_free(r);
}

/* The job's cookie is complete: Begin answers, or its job ends. */
static void begin_answer(GTask *task /* consumed */, Domain *d) {
        g_autoptr(GTask) owned = task;
        BeginCall *call = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) bytes = migration_cookie_encode(call->cookie, &error);
        BeginResult *r;

        if (!bytes) {
                migration_job_end(d, JOB_RESULT_FAILED, error->message);
                return g_task_return_error(task, g_steal_pointer(&error));
        }
        r = g_new0(BeginResult, 1);
        r->xml = domain_def_format(call->def);
        r->cookie = g_steal_pointer(&bytes);
        g_task_return_pointer(task, r, (GDestroyNotify) begin_result_free);
}

static void on_block_images(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        BeginCall *call = g_task_get_task_data(task);
        Domain *d = domain_ref_get(call->ref);
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_OUT);
        g_autoptr(GError) query_error = NULL, error = NULL;
        g_autoptr(GPtrArray) images = qemu_monitor_query_block_finish(result, &query_error);

        /* The job ended meanwhile and answered the call. */
        if (!job || job->begin != task)
                return;
        g_clear_object(&job->begin);
        if (!migration_storage_describe(d->live, call->disks, (job->params->flags & MIGRATE_NON_SHARED_INC) != 0,
                                        images, query_error, call->cookie, &error)) {
                g_debug("Begin of '%s': %s", domain_name(d), error->message);
                migration_job_end(d, JOB_RESULT_FAILED, error->message);
                return g_task_return_error(task, g_steal_pointer(&error));
        }
        begin_answer(g_steal_pointer(&task), d);
}

/* What Begin checks and builds before its job starts. */
static gboolean begin_prepare(Domain *d, MigrationParams *p, BeginCall *call, GError **error) {
        if (!check_migratable(d, p, error))
                return FALSE;
        call->def = destination_def(d, p, error);
        if (!call->def)
                return FALSE;
        call->cookie = begin_cookie(d, p, call->def, error);
        if (!call->cookie)
                return FALSE;
        if (migration_storage_requested(p)) {
                if (!d->qemu) {
                        g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID, _("Domain '%s' is not running"),
                                    domain_name(d));
                        return FALSE;
                }
                call->disks = migration_storage_disks(d->live, p, error);
                if (!call->disks)
                        return FALSE;
        }
        return TRUE;
}

void migration_begin_async(Domain *d, MigrationParams *params, const char *owner, GAsyncReadyCallback callback,
                           gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(MigrationParams) p = params;
        BeginCall *call = g_new0(BeginCall, 1);
        g_autoptr(GError) error = NULL;
        gboolean paused;

        call->ref = domain_ref_new(d);
        g_task_set_task_data(task, call, (GDestroyNotify) begin_call_free);
        if (!begin_prepare(d, p, call, &error))
                return g_task_return_error(task, g_steal_pointer(&error));
        paused = d->state == DOMAIN_STATE_PAUSED;
        if (!migration_job_start(d, JOB_TYPE_MIGRATION_OUT, JOB_PHASE_BEGIN3, &migration_source_ops,
                                 g_steal_pointer(&p), owner, &error))
                return g_task_return_error(task, g_steal_pointer(&error));
        call->job_serial = d->job->serial;
        if (paused)
                remember_paused(d);
        if (!(d->job->params->flags & MIGRATE_OFFLINE))
                migration_source_query_initial(d);
        if (!call->disks || !call->disks->len)
                return begin_answer(g_steal_pointer(&task), d);
        d->job->begin = g_object_ref(task);
        qemu_monitor_query_block_async(qemu_process_get_qmp(d->qemu), on_block_images, g_steal_pointer(&task));
}

guint64 migration_begin_job_serial(GAsyncResult *result) {
        BeginCall *call = g_task_get_task_data(G_TASK(result));

        return call->job_serial;
}

gboolean migration_begin_finish(GAsyncResult *result, char **ret_xml, GBytes **ret_cookie, GError **error) {
        BeginResult *r = g_task_propagate_pointer(G_TASK(result), error);

        if (!r)
                return FALSE;
        *ret_xml = g_steal_pointer(&r->xml);
        *ret_cookie = g_steal_pointer(&r->cookie);
        begin_result_free(r);
        return TRUE;
}
