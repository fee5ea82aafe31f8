/* The destination side of a v3 migration: Prepare starts QEMU waiting for
 * the stream (Finish, which lets the guest run here or throws it away, is
 * in migration-finish.c). */
#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#include "i18n.h"
#include "md-error.h"
#include "migration-dest.h"
#include "migration-setup.h"
#include "migration-disks-uri.h"
#include "migration-storage.h"
#include "migration.h"
#include "qemu-command.h"
#include "userfaultfd.h"

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
                MigrationJob *job = migration_job_of(domains->pdata[i], JOB_TYPE_MIGRATION_IN);

                if (job && job->port == port)
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

guint migration_free_ports(Registry *r) {
        MdConfig *c = registry_get_config(r);
        guint n = 0;

        for (guint port = c->port_min; port <= c->port_max; port++)
                if (!port_in_use_by_job(r, port) && port_is_free(c->migration_address, port))
                        n++;
        return n;
}

/* A free port of [migration] port_min..port_max other than @avoid (the
 * NBD server's port the caller asked for in disks_port; 0 = none). */
static gboolean choose_port(Registry *r, guint16 avoid, guint16 *ret_port, GError **error) {
        MdConfig *c = registry_get_config(r);

        for (guint port = c->port_min; port <= c->port_max; port++) {
                if (port == avoid || port_in_use_by_job(r, port) || !port_is_free(c->migration_address, port))
                        continue;
                *ret_port = port;
                return TRUE;
        }
        g_set_error(error, MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                    _("No free port for an incoming migration in [migration] port_min..port_max "
                      "(%u..%u)"), c->port_min, c->port_max);
        return FALSE;
}

/* ---- Prepare ----
 *
 * Ownership of a call's GTask as in migration-source.c: a g_autoptr(GTask)
 * in the function that creates or receives it, handed on with
 * g_steal_pointer() to the step it waits for. The call's state is a typed
 * Prepare as task data; the URI for the source is a field of it, read by
 * migration_prepare_finish() next to the task's result (the cookie). */

typedef struct {
        DomainRef *ref;          /* by UUID: after an abort, another Prepare's domain may answer */
        guint64 job_serial;      /* the job this Prepare started (0: none) */
        DomainDef *def;          /* the incoming definition, for clean-up */
        char *listen_uri;
        char *uri_out;
        guint64 ram_kib;         /* the source's QEMU RAM size from its cookie; 0 = unknown */
        GStrv storage_targets;   /* storage migration: the disks to export over NBD, or NULL */
        char *nbd_host;          /* ... where the NBD server listens: TCP (port 0 = to choose) */
        guint16 nbd_port;
        char *nbd_socket;        /* ... or this UNIX socket (disks_uri) */
} Prepare;

static void prepare_free(Prepare *p) {
        if (!p)
                return;
        domain_ref_free(p->ref);
        domain_def_free(p->def);
        g_free(p->listen_uri);
        g_free(p->uri_out);
        g_strfreev(p->storage_targets);
        g_free(p->nbd_host);
        g_free(p->nbd_socket);
        g_free(p);
}

/* The incoming domain goes away again; the job says why. */
static void prepare_fail(GTask *task /* consumed */, GError *error) {
        g_autoptr(GTask) owned = task;
        Prepare *p = g_task_get_task_data(task);
        Domain *d = domain_ref_get(p->ref);
        /* A job that ended already (AbortJob, ...) killed QEMU with its own
         * reason, which the exit must keep. */
        gboolean ended_before = d && !d->job && d->exit_reason;

        /* Ours ended, and another Prepare of the guest has started since:
         * the domain is that one's now. */
        if (d && d->job && d->job->serial != p->job_serial) {
                g_task_return_error(task, error);
                return;
        }
        /* A failed launch leaves an incoming domain without any definition;
         * it needs one for its name until it is gone. */
        if (d && !d->live && !d->def)
                d->live = domain_def_copy(p->def);
        if (d && d->job)
                migration_job_end(d, JOB_RESULT_FAILED, error->message);
        if (d && d->qemu) {
                domain_kill(d, ended_before ? NULL : "failed", 0);
        } else if (d && !d->qemu) {
                /* Never launched: a transient one has nothing left to show. */
                registry_domain_stopped(d->registry, d);
        }
        g_task_return_error(task, error);
}

/* Whether Prepare's job has ended meanwhile (AbortJob, AbortIncoming, the
 * driving client or the peer's link gone, QEMU exited; @d nullable; a job
 * there now may be another Prepare's, by its serial), then
 * with Prepare's error: the job's own message, MigrationAborted if it was
 * cancelled. Checked before each step's own result, which that end may
 * have caused (a launch cancelled, a killed QEMU's monitor). */
static gboolean prepare_job_ended(Domain *d, Prepare *p, GError **error) {
        MigrationJob *job = migration_job_of(d, JOB_TYPE_MIGRATION_IN);
        const char *why = NULL;
        gboolean cancelled;

        if (job && job->serial == p->job_serial)
                return FALSE;
        if (d && d->last_job_stats)
                g_variant_lookup(d->last_job_stats, "errmsg", "&s", &why);
        cancelled = d && g_strcmp0(d->last_job_type, "cancelled") == 0;
        g_set_error(error, MD_ERROR, cancelled ? MD_ERROR_MIGRATION_ABORTED : MD_ERROR_MIGRATION_FAILED,
                    _("The incoming migration of '%s' ended during Prepare: %s"), p->def->name,
                    why && *why ? why : _("its domain went away"));
        return TRUE;
}

/* libvirt's graphics cookie: the display QEMU has here, a wildcard listen
 * address replaced by the host the source migrates to. */
static MigrationCookieGraphics *display_for_cookie(Domain *d, const char *uri) {
        g_autofree char *host = NULL;

        if (!uri || !migration_uri_parse(uri, &host, NULL, NULL))
                host = g_strdup(registry_get_config(d->registry)->hostname);
        return migration_cookie_graphics_from_def(d->live, host);
}

/* Prepare's answer: our cookie (with the NBD port of a storage migration). */
static void prepare_answer(GTask *task /* consumed */) {
        g_autoptr(GTask) owned = task;
        Prepare *p = g_task_get_task_data(task);
        Domain *d = domain_ref_get(p->ref);
        g_autoptr(MigrationCookie) cookie = NULL;
        g_autoptr(GError) error = NULL;
        GBytes *bytes;

        cookie = migration_cookie_for_host(registry_get_config(d->registry), "prepare3", domain_name(d), domain_uuid(d));
        cookie->graphics = display_for_cookie(d, p->uri_out);
        cookie->nbd_port = p->nbd_port;
        bytes = migration_cookie_encode(cookie, &error);
        if (!bytes)
                return prepare_fail(g_steal_pointer(&owned), g_steal_pointer(&error));
        g_task_return_pointer(task, bytes, (GDestroyNotify) g_bytes_unref);
}

static void on_exported(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Prepare *p = g_task_get_task_data(task);
        Domain *d = domain_ref_get(p->ref);
        g_autoptr(GError) error = NULL;

        if (prepare_job_ended(d, p, &error))
                return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
        if (!migration_storage_export_finish(result, &error))
                return prepare_fail(g_steal_pointer(&task),
                                    g_error_new(MD_ERROR, MD_ERROR_MIGRATION_FAILED,
                                                "Cannot export the disks for the storage copy: %s",
                                                error->message));
        prepare_answer(g_steal_pointer(&task));
}

/* Post-copy needs QEMU here to get a userfaultfd that handles kernel
 * faults (userfaultfd.h). Before QEMU runs (@qemu_version 0) refused only
 * where no QEMU could get one; once it runs, by the way its version asks. */
static gboolean postcopy_possible(const char *name, guint qemu_version, GError **error) {
        UserfaultfdAccess access = userfaultfd_probe();

        if (access == USERFAULTFD_SYSCALL ||
            (access == USERFAULTFD_DEVICE_ONLY &&
             (!qemu_version || qemu_version >= USERFAULTFD_QEMU_DEVICE_VERSION)))
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                    _("Cannot migrate '%s' with POSTCOPY into this host: QEMU here cannot get a "
                      "userfaultfd that handles kernel page faults (migrationd has no CAP_SYS_PTRACE and "
                      "vm.unprivileged_userfaultfd is 0). Set vm.unprivileged_userfaultfd=1 on this host "
                      "or give migrationd CAP_SYS_PTRACE (README, \"Post-copy under the unit\"), or "
                      "migrate without POSTCOPY"), name);
        return FALSE;
}

static void on_incoming_ready(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Prepare *p = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        Domain *d = domain_ref_get(p->ref);

        if (prepare_job_ended(d, p, &error))
                return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
        if (!qemu_migration_setup_incoming_finish(result, &error)) {
                /* Prepare's early check let it through: /dev/userfaultfd
                 * works here, which QEMU before 8.1 does not use. */
                g_autoptr(GError) uffd_error = NULL;

                if ((d->job->params->flags & MIGRATE_POSTCOPY) &&
                    !postcopy_possible(p->def->name, d->qemu ? qemu_process_get_qemu_version(d->qemu) : 0,
                                       &uffd_error)) {
                        g_debug("Prepare of '%s': %s", p->def->name, error->message);
                        g_clear_error(&error);
                        error = g_steal_pointer(&uffd_error);
                }
                return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
        }
        if (p->storage_targets) {
                if (!p->nbd_socket && !p->nbd_port && !choose_port(d->registry, 0, &p->nbd_port, &error))
                        return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
                migration_storage_export_async(d, p->nbd_host, p->nbd_port, p->nbd_socket, p->storage_targets,
                                               on_exported, g_steal_pointer(&task));
                return;
        }
        prepare_answer(g_steal_pointer(&task));
}

static void on_incoming_launched(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Prepare *p = g_task_get_task_data(task);
        g_autoptr(GError) error = NULL;
        QemuMigrationSettings settings;
        QemuMigrationTls tls = { 0 };
        g_autofree char *dir = NULL;
        Domain *d = domain_ref_get(p->ref);

        /* A job ended while QEMU was starting cancelled the launch (domain_kill). */
        if (prepare_job_ended(d, p, &error) || !domain_launch_finish(d, result, &error))
                return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
        domain_set_state(d, DOMAIN_STATE_PAUSED, "migration");
        migration_setup_settings(&settings, d->job->params, 0, 0);
        d->job->qemu_configured = TRUE;
        if (d->job->params->flags & MIGRATE_TLS) {
                MdConfig *c = registry_get_config(d->registry);
                dir = migration_setup_tls_dir(registry_get_runtime_dir(d->registry), c->tls_ca, c->tls_cert,
                                              c->tls_key, &error);
                if (!dir)
                        return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
                tls = (QemuMigrationTls) { .dir = dir };
        }
        qemu_migration_setup_incoming_async(qemu_process_get_qmp(d->qemu), &settings,
                                            tls.dir ? &tls : NULL, p->listen_uri, on_incoming_ready,
                                            g_steal_pointer(&task));
}

/* Storage migration: the images the source copies exist here; QEMU may open them. */
static void on_images_created(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Prepare *p = g_task_get_task_data(task);
        Domain *d = domain_ref_get(p->ref);
        g_autoptr(GError) error = NULL;

        if (prepare_job_ended(d, p, &error) || !migration_storage_create_finish(result, &error))
                return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
        domain_launch_async(d, domain_def_copy(p->def), "defer", p->ram_kib, on_incoming_launched,
                            g_steal_pointer(&task));
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
        if (!choose_port(r, params->has_disks_port ? (guint16) params->disks_port : 0, &port, error))
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

/* Where the NBD server listens: disks_uri (tcp: its host, and its port if
 * given; unix: its socket), else the migration's address on disks_port;
 * a port still 0 is chosen once QEMU listens for the stream. */
static gboolean nbd_address(const MigrationParams *params, const char *address, Prepare *p, GError **error) {
        MigrationDisksUri uri;

        if (!params->disks_uri) {
                p->nbd_host = g_strdup(is_wildcard(address) ? "0.0.0.0" : address);
                p->nbd_port = params->has_disks_port ? (guint16) params->disks_port : 0;
                return TRUE;
        }
        if (!migration_disks_uri_parse(params->disks_uri, &uri, error))
                return FALSE;
        p->nbd_host = g_steal_pointer(&uri.host);
        p->nbd_port = uri.port;
        p->nbd_socket = g_steal_pointer(&uri.socket);
        return TRUE;
}

/* Storage migration: the disks to export once QEMU listens
 * (on_incoming_ready); the images are created before it starts
 * (on_images_created). */
static gboolean prepare_storage(Registry *r, Domain *d, const DomainDef *def, const MigrationCookie *cookie,
                                Prepare *p, GError **error) {
        const char *address = d->job->params->listen_address ? d->job->params->listen_address
                                                            : registry_get_config(r)->migration_address;
        g_autoptr(GStrvBuilder) targets = g_strv_builder_new();

        if (!cookie) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            "Copying non-shared storage needs the source's list of disks (the Begin cookie)");
                return FALSE;
        }
        /* No list: the guest has no disk to copy. */
        for (guint i = 0; cookie->nbd_disks && i < cookie->nbd_disks->len; i++)
                g_strv_builder_add(targets, ((MigrationCookieDisk *) cookie->nbd_disks->pdata[i])->target);
        p->storage_targets = g_strv_builder_end(targets);
        return nbd_address(d->job->params, address, p, error);
}

/* The guest's definition here, from the XML Prepare got, checked against
 * the source's cookie (NULL for protocol 2). Also takes the inactive
 * definition for PERSIST_DEST into @mp. */
static DomainDef *incoming_def(MigrationParams *mp, const MigrationCookie *cookie, GError **error) {
        g_autoptr(DomainDef) def = NULL;

        if (!mp->destination_xml) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Prepare needs the domain XML (from Begin3, or the source's "
                              "GetXMLDesc for protocol 2)"));
                return NULL;
        }
        def = domain_def_parse(mp->destination_xml, -1, error);
        if (!def)
                return NULL;
        if (mp->destination_name)
                domain_def_set_name(def, mp->destination_name);
        /* QEMU rounds -m to 8 KiB; the source may have added our TCG pad or not (an older daemon). */
        if (cookie && cookie->ram_kib &&
            cookie->ram_kib != (gint64) qemu_command_ram_kib(def->memory_kib, TRUE) &&
            cookie->ram_kib != (gint64) qemu_command_ram_kib(def->memory_kib, TRUE) + QEMU_TCG_RAM_PAD_KIB) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                            _("The migration cookie gives the guest %lld KiB of RAM, "
                              "but its XML %llu KiB"), (long long) cookie->ram_kib,
                            (unsigned long long) def->memory_kib);
                return NULL;
        }
        if (cookie && !g_str_equal(def->uuid, cookie->uuid)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_COOKIE,
                            _("The migration cookie is for domain %s, but the XML describes %s"),
                            cookie->uuid, def->uuid);
                return NULL;
        }
        /* The inactive definition for PERSIST_DEST: the caller's, or the
         * source's from the Begin cookie. Checked now, not when Finish has
         * the guest half-started. */
        if (!mp->persistent_xml && cookie && cookie->persistent_xml)
                mp->persistent_xml = g_strdup(cookie->persistent_xml);
        if (mp->persistent_xml && !migration_persistent_xml_check(mp->persistent_xml, def->name, def->uuid, error))
                return NULL;
        return g_steal_pointer(&def);
}

/* The domain @def already is here (*@ret_d, NULL if none): FALSE when
 * another one has its name, or it runs or migrates. */
static gboolean check_existing(Registry *r, const DomainDef *def, Domain **ret_d, GError **error) {
        Domain *d = registry_lookup_by_uuid(r, def->uuid, NULL);
        Domain *by_name = registry_lookup_by_name(r, def->name, NULL);

        if (by_name && by_name != d) {
                g_set_error(error, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                            _("A domain named '%s' already exists here with UUID %s"),
                            def->name, domain_uuid(by_name));
                return FALSE;
        }
        if (d && (domain_is_active(d) || d->job)) {
                g_set_error(error, MD_ERROR, d->job ? MD_ERROR_JOB_ACTIVE : MD_ERROR_OPERATION_INVALID,
                            d->job ? _("Domain '%s' is already being migrated on this host")
                                   : _("Domain '%s' is already running on this host"),
                            domain_name(d));
                return FALSE;
        }
        if (d && !g_str_equal(domain_name(d), def->name)) {
                g_set_error(error, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                            _("Domain %s is defined here as '%s', not '%s'"), def->uuid,
                            domain_name(d), def->name);
                return FALSE;
        }
        *ret_d = d;
        return TRUE;
}

/* Only the definition moves, in Finish3: nothing to start here. */
static void prepare_offline(Registry *r, const DomainDef *def, GTask *task_in /* consumed */) {
        g_autoptr(GTask) task = task_in;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) ours = migration_cookie_for_host(registry_get_config(r), "prepare3", def->name, def->uuid);
        GBytes *bytes = migration_cookie_encode(ours, &error);
        Prepare *p;

        if (!bytes) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        p = g_new0(Prepare, 1);
        p->uri_out = g_strdup("");
        g_task_set_task_data(task, p, (GDestroyNotify) prepare_free);
        g_task_return_pointer(task, bytes, (GDestroyNotify) g_bytes_unref);
}

/* A live migration: starts the incoming job on @d (created if NULL) and
 * launches its QEMU to listen. */
static void prepare_live(Registry *r, Domain *d, DomainDef *def_in /* consumed */, MigrationParams *mp_in /* consumed */,
                         const MigrationCookie *cookie, const char *owner, GTask *task_in /* consumed */) {
        g_autoptr(GTask) task = task_in;
        g_autoptr(DomainDef) def = def_in;
        g_autoptr(MigrationParams) mp = mp_in;
        g_autoptr(GError) error = NULL;
        Prepare *p = g_new0(Prepare, 1);
        guint16 port;

        g_task_set_task_data(task, p, (GDestroyNotify) prepare_free);
        if (!plan_uris(r, mp, p, &port, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (!d) {
                d = domain_new(registry_domain_host(r), NULL);
                d->live = domain_def_copy(def);
                registry_add_domain(r, d);
        }
        if (!migration_job_start(d, JOB_TYPE_MIGRATION_IN, JOB_PHASE_PREPARE, &migration_dest_ops,
                                 g_steal_pointer(&mp), owner, &error)) {
                p->ref = domain_ref_new(d);
                p->def = g_steal_pointer(&def);
                return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
        }
        d->job->port = port;
        p->job_serial = d->job->serial;
        p->ref = domain_ref_new(d);
        p->def = domain_def_copy(def);
        p->ram_kib = cookie ? (guint64) cookie->ram_kib : 0;
        if (migration_storage_requested(d->job->params)) {
                if (!prepare_storage(r, d, def, cookie, p, &error))
                        return prepare_fail(g_steal_pointer(&task), g_steal_pointer(&error));
                migration_storage_create_async(d, def, cookie, on_images_created, g_steal_pointer(&task));
                return;
        }
        domain_launch_async(d, g_steal_pointer(&def), "defer", p->ram_kib, on_incoming_launched,
                            g_steal_pointer(&task));
}

/* Protocol 2 has no Begin: no cookie comes from the source (@v2). */
static void prepare_run(Registry *r, MigrationParams *params, GBytes *cookie_in, gboolean v2, const char *owner,
                        GAsyncReadyCallback callback, gpointer user_data) {
        g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
        g_autoptr(MigrationParams) mp = params;
        g_autoptr(GError) error = NULL;
        g_autoptr(MigrationCookie) cookie = NULL;
        g_autoptr(DomainDef) def = NULL;
        Domain *d = NULL;

        cookie = v2 ? NULL : migration_cookie_from_peer(registry_get_config(r), cookie_in, NULL, &error);
        if (!v2 && !cookie) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        def = incoming_def(mp, cookie, &error);
        if (!def || !check_existing(r, def, &d, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        if (mp->flags & MIGRATE_OFFLINE) {
                prepare_offline(r, def, g_steal_pointer(&task));
                return;
        }
        /* Refused before anything is created here when no QEMU could do it. */
        if ((mp->flags & MIGRATE_POSTCOPY) && !postcopy_possible(def->name, 0, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                return;
        }
        prepare_live(r, d, g_steal_pointer(&def), g_steal_pointer(&mp), cookie, owner, g_steal_pointer(&task));
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
        *ret_uri = g_strdup(((Prepare *) g_task_get_task_data(G_TASK(result)))->uri_out);
        return TRUE;
}
