/* The destination side of a v3 migration: Prepare starts QEMU waiting for
 * the stream, Finish lets the guest run here or throws it away. */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#include "md-error.h"
#include "migration-dest.h"
#include "migration-setup.h"
#include "migration.h"
#include "qemu-command.h"

static gboolean is_wildcard(const char *address) {
        return !address || g_str_equal(address, "0.0.0.0") || g_str_equal(address, "::") ||
               g_str_equal(address, "[::]");
}

static char *uri_host(const char *host) {
        return strchr(host, ':') && host[0] != '[' ? g_strdup_printf("[%s]", host) : g_strdup(host);
}

static gboolean port_in_use_by_job(Registry *r, guint16 port) {
        g_autoptr(GPtrArray) domains = registry_list(r, DOMAIN_LIST_ACTIVE);

        for (guint i = 0; i < domains->len; i++) {
                Domain *d = domains->pdata[i];
                if (d->job && d->job->type == JOB_TYPE_MIGRATION_IN && d->job->port == port)
                        return TRUE;
        }
        return FALSE;
}

/* Whether QEMU will be able to listen there: bind it once ourselves, with
 * SO_REUSEADDR as QEMU does. */
static gboolean port_is_free(const char *address, guint16 port) {
        g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(
                is_wildcard(address) ? "0.0.0.0" : address);
        g_autoptr(GSocketAddress) sa = NULL;
        g_autoptr(GSocket) sock = NULL;

        if (!inet)
                return FALSE;
        sa = g_inet_socket_address_new(inet, port);
        sock = g_socket_new(g_inet_address_get_family(inet), G_SOCKET_TYPE_STREAM,
                            G_SOCKET_PROTOCOL_TCP, NULL);
        return sock && g_socket_bind(sock, sa, TRUE, NULL);
}

static gboolean choose_port(Registry *r, guint16 *ret_port, GError **error) {
        MdConfig *c = registry_get_config(r);

        for (guint port = c->port_min; port <= c->port_max; port++) {
                if (port_in_use_by_job(r, port) || !port_is_free(c->migration_address, port))
                        continue;
                *ret_port = port;
                return TRUE;
        }
        g_set_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                    "No free port for an incoming migration in [migration] port_min..port_max "
                    "(%u..%u)", c->port_min, c->port_max);
        return FALSE;
}

/* ---- Prepare ---- */

typedef struct {
        GTask *task;
        DomainRef *ref;
        DomainDef *def;          /* the incoming definition, for clean-up */
        char *listen_uri;
        char *uri_out;
        guint64 ram_kib;         /* the source's QEMU RAM size from its cookie; 0 = unknown */
} Prepare;

static void prepare_free(Prepare *p) {
        domain_ref_free(p->ref);
        domain_def_free(p->def);
        g_free(p->listen_uri);
        g_free(p->uri_out);
        g_free(p);
}

/* The incoming domain goes away again; the job says why. */
static void prepare_fail(Prepare *p, GError *error) {
        Domain *d = domain_ref_get(p->ref);

        /* A failed launch leaves an incoming domain without any definition;
         * it needs one for its name until it is gone. */
        if (d && !d->live && !d->def)
                d->live = domain_def_copy(p->def);
        if (d && d->job)
                migration_job_end(d, JOB_RESULT_FAILED, error->message);
        if (d && d->qemu) {
                domain_kill(d, "failed", 0);
        } else if (d && !d->qemu) {
                /* Never launched: a transient one has nothing left to show. */
                registry_domain_stopped(d->registry, d);
        }
        g_task_return_error(p->task, error);
        g_object_unref(p->task);
        prepare_free(p);
}

static void on_incoming_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        Prepare *p = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        Domain *d = domain_ref_get(p->ref);
        GBytes *bytes;

        if (!qemu_migration_setup_incoming_finish(result, &error))
                return prepare_fail(p, g_steal_pointer(&error));
        if (!d || !d->job)
                return prepare_fail(p, g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                                   "The incoming migration was cancelled during Prepare3"));
        cookie = migration_cookie_for_host(registry_get_config(d->registry), "prepare3", domain_name(d), domain_uuid(d));
        bytes = migration_cookie_encode(cookie, &error);
        if (!bytes)
                return prepare_fail(p, g_steal_pointer(&error));
        g_task_set_task_data(p->task, g_steal_pointer(&p->uri_out), g_free);
        g_task_return_pointer(p->task, bytes, (GDestroyNotify) g_bytes_unref);
        g_object_unref(p->task);
        prepare_free(p);
}

static void on_incoming_launched(GObject *source, GAsyncResult *result, gpointer user_data) {
        Prepare *p = user_data;
        g_autoptr(GError) error = NULL;
        QemuMigrationSettings settings;
        QemuMigrationTls tls = { 0 };
        g_autofree char *dir = NULL;
        Domain *d = domain_ref_get(p->ref);

        if (!d)
                return prepare_fail(p, g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                                   "The incoming domain disappeared during Prepare3"));
        if (!domain_launch_finish(d, result, &error))
                return prepare_fail(p, g_steal_pointer(&error));
        domain_set_state(d, DOMAIN_STATE_PAUSED, "migration");
        if (d->job) {
                migration_setup_settings(&settings, d->job->params, 0, 0);
                d->job->qemu_configured = TRUE;
        }
        if (d->job && (d->job->params->flags & MIGRATE_TLS)) {
                MdConfig *c = registry_get_config(d->registry);
                dir = migration_setup_tls_dir(registry_get_runtime_dir(d->registry), c->tls_ca, c->tls_cert,
                                              c->tls_key, &error);
                if (!dir)
                        return prepare_fail(p, g_steal_pointer(&error));
                d->job->tls_id = migration_job_new_tls_id();
                tls = (QemuMigrationTls) { .id = d->job->tls_id, .dir = dir };
        }
        qemu_migration_setup_incoming_async(qemu_process_get_qmp(d->qemu), d->job ? &settings : NULL,
                                            tls.id ? &tls : NULL, p->listen_uri, on_incoming_ready, p);
}

/* Where QEMU listens and what the source is told. */
static gboolean plan_uris(Registry *r, MigrationParams *params, Prepare *p, guint16 *ret_port,
                          GError **error) {
        const char *address = registry_get_config(r)->migration_address;
        g_autofree char *listen = NULL, *advertised = NULL;
        guint16 port;

        if (params->migrate_uri) {
                /* The caller chose: QEMU listens exactly there. */
                p->listen_uri = g_strdup(params->migrate_uri);
                p->uri_out = g_strdup(params->migrate_uri);
                *ret_port = 0;
                return TRUE;
        }
        if (!choose_port(r, &port, error))
                return FALSE;
        if (params->listen_address)
                address = params->listen_address;
        listen = uri_host(is_wildcard(address) ? "0.0.0.0" : address);
        advertised = uri_host(is_wildcard(address) ? registry_get_config(r)->hostname : address);
        p->listen_uri = g_strdup_printf("tcp:%s:%u", listen, port);
        p->uri_out = g_strdup_printf("tcp:%s:%u", advertised, port);
        *ret_port = port;
        return TRUE;
}

/* Protocol 2 has no Begin: no cookie comes from the source (@v2). */
static void prepare_run(Registry *r, MigrationParams *params, GBytes *cookie_in, gboolean v2, const char *owner,
                        GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(MigrationParams) mp = params;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        g_autoptr(DomainDef) def = NULL;
        Prepare *p;
        Domain *d, *by_name;
        guint16 port;

        cookie = v2 ? NULL : migration_cookie_from_peer(registry_get_config(r), cookie_in, NULL, &error);
        if (!v2 && !cookie) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (!mp->destination_xml) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                        "Prepare needs the domain XML (from Begin3, or the source's "
                                        "GetXMLDesc for protocol 2)");
                return;
        }
        def = domain_def_parse(mp->destination_xml, -1, &error);
        if (!def) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (mp->destination_name)
                domain_def_set_name(def, mp->destination_name);
        /* QEMU rounds -m to 8 KiB; the source may have added our TCG pad or not (an older daemon). */
        if (cookie && cookie->ram_kib &&
            cookie->ram_kib != (gint64) qemu_command_ram_kib(def->memory_kib, TRUE) &&
            cookie->ram_kib != (gint64) qemu_command_ram_kib(def->memory_kib, TRUE) + QEMU_TCG_RAM_PAD_KIB) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                                        "The migration cookie gives the guest %" G_GINT64_FORMAT " KiB of RAM, "
                                        "but its XML %" G_GUINT64_FORMAT " KiB", cookie->ram_kib,
                                        def->memory_kib);
                return;
        }
        if (cookie && !g_str_equal(def->uuid, cookie->uuid)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                                        "The migration cookie is for domain %s, but the XML describes %s",
                                        cookie->uuid, def->uuid);
                return;
        }
        /* The inactive definition for PERSIST_DEST: the caller's, or the
         * source's from the Begin cookie. Checked now, not when Finish has
         * the guest half-started. */
        if (!mp->persistent_xml && cookie && cookie->persistent_xml)
                mp->persistent_xml = g_strdup(cookie->persistent_xml);
        if (mp->persistent_xml && !migration_persistent_xml_check(mp->persistent_xml, def->name, def->uuid, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        d = registry_lookup_by_uuid(r, def->uuid, NULL);
        by_name = registry_lookup_by_name(r, def->name, NULL);
        if (by_name && by_name != d) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                                        "A domain named '%s' already exists here with UUID %s",
                                        def->name, domain_uuid(by_name));
                return;
        }
        if (d && (domain_is_active(d) || d->job)) {
                g_task_return_new_error(task, MD_ERROR,
                                        d->job ? MD_ERROR_JOB_ACTIVE : MD_ERROR_OPERATION_INVALID,
                                        "Domain '%s' is already %s on this host", domain_name(d),
                                        d->job ? "being migrated" : "running");
                return;
        }
        if (d && !g_str_equal(domain_name(d), def->name)) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                                        "Domain %s is defined here as '%s', not '%s'", def->uuid,
                                        domain_name(d), def->name);
                return;
        }
        if (mp->flags & MIGRATE_OFFLINE) {
                /* Only the definition moves, in Finish3: nothing to start here. */
                g_autoptr(MigrationCookie) ours = migration_cookie_for_host(registry_get_config(r), "prepare3", def->name, def->uuid);
                GBytes *bytes = migration_cookie_encode(ours, &error);
                if (!bytes) {
                        g_task_return_error(task, g_steal_pointer(&error));
                        return;
                }
                g_task_set_task_data(task, g_strdup(""), g_free);
                g_task_return_pointer(task, bytes, (GDestroyNotify) g_bytes_unref);
                return;
        }
        p = g_new0(Prepare, 1);
        if (!plan_uris(r, mp, p, &port, &error)) {
                prepare_free(p);
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (!d) {
                d = domain_new(r, NULL);
                d->live = domain_def_copy(def);
                registry_add_domain(r, d);
        }
        if (!migration_job_start(d, JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE, &migration_dest_ops,
                                 g_steal_pointer(&mp), owner, &error)) {
                p->task = g_steal_pointer(&task);
                p->ref = domain_ref_new(d);
                p->def = g_steal_pointer(&def);
                return prepare_fail(p, g_steal_pointer(&error));
        }
        d->job->port = port;
        p->task = g_steal_pointer(&task);
        p->ref = domain_ref_new(d);
        p->def = domain_def_copy(def);
        p->ram_kib = cookie ? (guint64) cookie->ram_kib : 0;
        domain_launch_async(d, g_steal_pointer(&def), "defer", p->ram_kib, on_incoming_launched, p);
}

void migration_prepare_async(Registry *r, MigrationParams *params, GBytes *cookie_in, const char *owner,
                             GAsyncReadyCallback callback, gpointer user_data) {
        prepare_run(r, params, cookie_in, FALSE, owner, callback, user_data);
}

void migration_prepare2_async(Registry *r, MigrationParams *params, const char *owner,
                              GAsyncReadyCallback callback, gpointer user_data) {
        prepare_run(r, params, NULL, TRUE, owner, callback, user_data);
}

gboolean migration_prepare_finish(GAsyncResult *result, GBytes **ret_cookie, char **ret_uri, GError **error) {
        GBytes *bytes = g_task_propagate_pointer(G_TASK(result), error);

        if (!bytes)
                return FALSE;
        *ret_cookie = bytes;
        *ret_uri = g_strdup(g_task_get_task_data(G_TASK(result)));
        return TRUE;
}

/* ---- Finish ---- */

static void finish_return(GTask *task, Domain *d) {
        g_autoptr(MigrationCookie) cookie = migration_cookie_for_host(registry_get_config(d->registry), "finish3", domain_name(d),
                                                                      domain_uuid(d));
        g_autoptr(GError) error = NULL;
        GBytes *bytes = migration_cookie_encode(cookie, &error);

        if (!bytes) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        g_task_set_task_data(task, bytes, (GDestroyNotify) g_bytes_unref);
        g_task_return_pointer(task, g_strdup(domain_uuid(d)), g_free);
}

/* Finish2 (protocol 2) or Finish3: libvirt's rules differ where the
 * source may already be gone (protocol 2 stops it before Finish2). */
static gboolean finish_is_v2(MigrationJob *job) {
        return job->finish && g_task_get_source_tag(job->finish) == (gpointer) migration_finish2_async;
}

/* PERSIST_DEST: the inactive definition that came with the migration
 * (persistent_xml, or the source's from the Begin cookie), else the live one. */
static gboolean finish_persist(Domain *d, GError **error) {
        MigrationParams *params = d->job->params;

        if (!(params->flags & MIGRATE_PERSIST_DEST))
                return TRUE;
        if (params->persistent_xml)
                return registry_persist_xml(d->registry, d, params->persistent_xml, error);
        return registry_persist(d->registry, d, error);
}

/* The guest runs here now (or waits, PAUSED): end the job with the real
 * downtime (source stop to our resume, wall clock). */
static void finish_complete(Domain *d, gboolean running) {
        MigrationJob *job = d->job;
        g_auto(GVariantDict) stats;
        GTask *task = g_steal_pointer(&job->finish);

        domain_set_state(d, running ? DOMAIN_STATE_RUNNING : DOMAIN_STATE_PAUSED,
                         running ? "migrated" : "migration");
        g_variant_dict_init(&stats, job->stats);
        if (job->source_stop_time_ms > 0)
                g_variant_dict_insert(&stats, "downtime", "t",
                                      (guint64) MAX(0, g_get_real_time() / 1000 - job->source_stop_time_ms));
        g_clear_pointer(&job->stats, g_variant_unref);
        job->stats = g_variant_ref_sink(g_variant_dict_end(&stats));
        migration_job_end(d, JOB_RESULT_COMPLETED, NULL);
        if (task) {
                finish_return(task, d);
                g_object_unref(task);
        }
}

/* Finish fails and the incoming guest goes: the source still has it
 * (paused), and Confirm cancelled lets it run there again. A definition
 * this Finish made persistent goes with it. */
static void finish_fail(Domain *d, const char *message, gboolean undo_persist) {
        g_autoptr(GError) error = NULL;

        migration_job_end(d, JOB_RESULT_FAILED, message);
        if (undo_persist && domain_is_persistent(d) && !registry_undefine(d->registry, d, 0, &error))
                g_warning("Failed to remove the definition of '%s' after a failed Finish: %s, ignoring",
                          domain_name(d), error->message);
        /* The reason of a failed Prepare: not "crashed", we killed it. */
        domain_kill(d, "failed", 0);
}

typedef struct {
        DomainRef *ref;
        gboolean undo_persist;       /* this Finish made the domain persistent */
} FinishResume;

static void on_finish_resumed(GObject *source, GAsyncResult *result, gpointer user_data) {
        FinishResume *fr = user_data;
        g_autoptr(DomainRef) ref = fr->ref;
        gboolean undo_persist = fr->undo_persist;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_ref_get(ref);
        g_autofree char *msg = NULL;

        g_free(fr);
        if (!d || !d->job || d->job->type != JOB_TYPE_MIGRATION_IN)
                return;
        if (ok) {
                finish_complete(d, TRUE);
                return;
        }
        if (finish_is_v2(d->job)) {
                /* libvirt's rule for protocol 2: the source may have stopped
                 * its guest already, so this paused one may be the only copy. */
                msg = g_strdup_printf("Failed to start the migrated guest: %s; it stays paused here, "
                                      "where it may be the only copy: resume or destroy it",
                                      error->message);
                migration_job_end(d, JOB_RESULT_FAILED, msg);
                return;
        }
        msg = g_strdup_printf("Failed to start the migrated guest: %s", error->message);
        finish_fail(d, msg, undo_persist);
}

/* The stream is complete and Finish has been asked for. */
static void finish_proceed(Domain *d) {
        MigrationJob *job = d->job;
        g_autoptr(GError) error = NULL;
        gboolean was_persistent = domain_is_persistent(d);
        FinishResume *fr;

        if (job->postcopy && d->state == DOMAIN_STATE_RUNNING) {
                /* The guest runs here already, and only here: nothing undoes that. */
                if (!finish_persist(d, &error))
                        g_warning("Failed to keep the definition of '%s' (PERSIST_DEST): %s", domain_name(d),
                                  error->message);
                finish_complete(d, TRUE);
                return;
        }
        /* libvirt's order: the definition is safe before the vCPUs run. In
         * protocol 3 a failure fails Finish while the source still holds
         * the guest; protocol 2 goes on, as libvirt does, since its source
         * may be gone. */
        if (!finish_persist(d, &error)) {
                g_autofree char *msg = g_strdup_printf("Failed to keep the definition of '%s' here (PERSIST_DEST): "
                                                       "%s", domain_name(d), error->message);
                if (!finish_is_v2(job)) {
                        finish_fail(d, msg, FALSE);
                        return;
                }
                g_warning("%s, ignoring (protocol 2)", msg);
        }
        if (job->params->flags & MIGRATE_PAUSED) {
                finish_complete(d, FALSE);
                return;
        }
        fr = g_new0(FinishResume, 1);
        fr->ref = domain_ref_new(d);
        fr->undo_persist = !was_persistent && domain_is_persistent(d);
        qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_finish_resumed, fr);
}

static void on_postcopy_running(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(DomainRef) ref = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        Domain *d = domain_ref_get(ref);

        if (!d)
                return;
        if (!ok) {
                g_warning("Failed to run '%s' in post-copy: %s", domain_name(d), error->message);
                return;
        }
        domain_set_state(d, DOMAIN_STATE_RUNNING, "postcopy");
}

/* The job's stream_ended (migration_dest_ops). */
static void migration_dest_stream_ended(Domain *d, const char *status) {
        MigrationJob *job = d->job;

        if (g_str_equal(status, "postcopy-active")) {
                /* The guest runs here from now on, fetching missing pages on
                 * demand: journaled first, so that a restart keeps it. */
                job->postcopy = TRUE;
                if (job->phase != JOB_PHASE_POSTCOPY)
                        migration_job_step(job, JOB_PHASE_POSTCOPY);
                migration_job_disarm_deadline(job);
                qemu_monitor_cont_async(qemu_process_get_qmp(d->qemu), on_postcopy_running, domain_ref_new(d));
                return;
        }
        if (job->postcopy && !g_str_equal(status, "completed")) {
                /* Never kill it: only this side has the guest's newest state. */
                job->stream_failed = TRUE;
                g_free(job->error);
                job->error = g_strdup_printf("The post-copy stream %s; the guest is paused here "
                                            "(postcopy-failed)", status);
                domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
                migration_job_end(d, JOB_RESULT_FAILED, job->error);
                return;
        }
        if (g_str_equal(status, "completed")) {
                job->incoming_done = TRUE;
                if (job->finish)
                        finish_proceed(d);
                else
                        migration_job_arm_deadline(job);
                return;
        }
        job->stream_failed = TRUE;
        g_free(job->error);
        job->error = g_strdup_printf("The incoming migration stream %s", status);
        if (job->finish) {
                migration_job_end(d, JOB_RESULT_FAILED, job->error);
                domain_kill(d, "failed", 0);
        }
}

/* OFFLINE: the definition in the Perform cookie becomes ours. */
static void finish_offline(Registry *r, MigrationParams *mp, MigrationCookie *cookie, GTask *task) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = NULL;
        g_autofree char *xml = NULL;
        Domain *d;

        if (!cookie->persistent_xml) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                                        "An offline migration's cookie must carry the definition; "
                                        "pass the cookie Perform3 returned");
                g_object_unref(task);
                return;
        }
        def = domain_def_parse(cookie->persistent_xml, -1, &error);
        if (def && mp->destination_name)
                domain_def_set_name(def, mp->destination_name);
        xml = def ? domain_def_format(def) : NULL;
        d = xml ? registry_define_xml(r, xml, &error) : NULL;
        if (!d) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        finish_return(task, d);
        g_object_unref(task);
}

static void on_cancelled_gone(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;

        g_task_return_pointer(task, NULL, NULL);
        g_object_unref(task);
}

/* Post-copy cancelled: the guest is stopped here, never killed (only this
 * side has its newest state). The job ends failed either way; Finish fails
 * when QEMU did not stop, because then the guest still runs. */
static void on_postcopy_stopped(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        g_autoptr(GError) error = NULL;
        gboolean ok = qemu_monitor_command_finish(result, &error);
        g_autoptr(DomainRef) ref = g_object_steal_data(G_OBJECT(task), "domain");
        Domain *d = domain_ref_get(ref);
        g_autofree char *msg = NULL;

        if (ok && d)
                domain_set_state(d, DOMAIN_STATE_PAUSED, "postcopy-failed");
        if (!ok)
                msg = g_strdup_printf("The source cancelled a post-copy migration, and pausing the "
                                      "guest here failed: %s", error->message);
        if (d && d->job && d->job->type == JOB_TYPE_MIGRATION_IN)
                migration_job_end(d, JOB_RESULT_FAILED,
                                  msg ? msg : "The source cancelled a post-copy migration; the guest "
                                              "stays paused here (postcopy-failed)");
        if (msg)
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_MIGRATION_FAILED, "%s", msg);
        else
                g_task_return_pointer(task, NULL, NULL);
        g_object_unref(task);
}

static void finish_cancelled(Domain *d, GTask *task) {
        GTask *waiter;

        if (!d || !d->job || d->job->type != JOB_TYPE_MIGRATION_IN) {
                /* Nothing here (a failed Prepare, or QEMU died already). */
                g_task_return_pointer(task, NULL, NULL);
                g_object_unref(task);
                return;
        }
        if (d->job->postcopy && d->qemu) {
                /* Not the task data: that is Finish's cookie. */
                g_object_set_data(G_OBJECT(task), "domain", domain_ref_new(d));
                qemu_monitor_stop_async(qemu_process_get_qmp(d->qemu), on_postcopy_stopped, task);
                return;
        }
        migration_job_end(d, JOB_RESULT_CANCELLED, "The source cancelled the migration");
        if (!d->qemu) {
                g_task_return_pointer(task, NULL, NULL);
                g_object_unref(task);
                return;
        }
        waiter = g_task_new(NULL, NULL, on_cancelled_gone, task);
        g_ptr_array_add(d->exit_waiters, waiter);
        domain_kill(d, "migration-canceled", 0);
}

/* Protocol 2 (@v2) sends no statistics: Finish2 gets only the name. */
static void finish_run(Registry *r, MigrationParams *params, GBytes *cookie_in, gboolean v2, gboolean cancelled,
                       GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(MigrationParams) mp = params;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        const char *name = mp->destination_name;
        JobPhase finish_phase = v2 ? JOB_PHASE_FINISH2 : JOB_PHASE_FINISH3;
        gboolean job_postcopy;
        MigrationJob *job;
        Domain *d;

        /* Which rules apply, for the steps that follow the stream. */
        g_task_set_source_tag(task, v2 ? (gpointer) migration_finish2_async : (gpointer) migration_finish_async);

        if (cancelled) {
                if (!name && cookie_in && g_bytes_get_size(cookie_in) > 0)
                        cookie = migration_cookie_from_peer(registry_get_config(r), cookie_in, NULL, NULL);
                if (!name && cookie)
                        name = cookie->name;
                finish_cancelled(name ? registry_lookup_by_name(r, name, NULL) : NULL, task);
                return;
        }
        if (v2 && !name) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                        "Finish2 needs the domain's name at the destination (dname)");
                g_object_unref(task);
                return;
        }
        cookie = v2 ? NULL : migration_cookie_from_peer(registry_get_config(r), cookie_in, NULL, &error);
        if (!v2 && !cookie) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        if (!name)
                name = cookie->name;
        if (cookie && (mp->flags & MIGRATE_OFFLINE)) {
                finish_offline(r, mp, cookie, task);
                return;
        }
        d = registry_lookup_by_name(r, name, NULL);
        job = d ? d->job : NULL;
        if (!job || job->type != JOB_TYPE_MIGRATION_IN ||
            !job_phase_check_transition(job->type, job->phase, finish_phase, &error)) {
                g_task_return_new_error(task, MD_ERROR, d ? MD_ERROR_OPERATION_INVALID : MD_ERROR_NO_SUCH_DOMAIN,
                                        "No incoming migration of '%s' waits for Finish%s%s", name,
                                        error ? ": " : "", error ? error->message : "");
                g_object_unref(task);
                return;
        }
        if (cookie && !g_str_equal(cookie->uuid, domain_uuid(d))) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                                        "The migration cookie is for domain %s, not %s", cookie->uuid,
                                        domain_uuid(d));
                g_object_unref(task);
                return;
        }
        job_postcopy = job->postcopy;
        job->params->flags |= mp->flags;
        job->source_stop_time_ms = cookie ? cookie->source_stop_time_ms : 0;
        if (cookie && cookie->stats) {
                g_clear_pointer(&job->stats, g_variant_unref);
                job->stats = g_variant_ref(cookie->stats);
        }
        migration_job_step(job, finish_phase);
        /* The stream may still be draining: wait for it, but not for ever. */
        migration_job_arm_stream_deadline(job);
        job->finish = task;
        if (job->stream_failed) {
                migration_job_end(d, JOB_RESULT_FAILED, job->error);
                /* After the switch to post-copy the newest state is here. */
                if (!job_postcopy)
                        domain_kill(d, "failed", 0);
                return;
        }
        if (job->incoming_done)
                finish_proceed(d);
}

void migration_finish_async(Registry *r, MigrationParams *params, GBytes *cookie_in, gboolean cancelled,
                            GAsyncReadyCallback callback, gpointer user_data) {
        finish_run(r, params, cookie_in, FALSE, cancelled, callback, user_data);
}

void migration_finish2_async(Registry *r, MigrationParams *params, int retcode, GAsyncReadyCallback callback,
                             gpointer user_data) {
        finish_run(r, params, NULL, TRUE, retcode != 0, callback, user_data);
}

char *migration_finish_finish(GAsyncResult *result, GBytes **ret_cookie, GError **error) {
        GTask *task = G_TASK(result);
        char *uuid = g_task_propagate_pointer(task, error);
        GBytes *cookie = g_task_get_task_data(task);

        *ret_cookie = cookie ? g_bytes_ref(cookie) : NULL;
        return uuid;
}

const MigrationJobOps migration_dest_ops = {
        .stream_ended = migration_dest_stream_ended,
};
