#define G_LOG_DOMAIN "migrationd"

#include "domain-private.h"
#include "domain-devices.h"
#include "domain-storage.h"
#include "md-error.h"
#include "i18n.h"
#include "qemu-command.h"

static const char *const state_names[_DOMAIN_STATE_MAX] = {
        [DOMAIN_STATE_SHUTOFF] = "shutoff",
        [DOMAIN_STATE_RUNNING] = "running",
        [DOMAIN_STATE_PAUSED] = "paused",
};

const char *domain_state_to_string(DomainState state) {
        return (unsigned) state < _DOMAIN_STATE_MAX ? state_names[state] : "unknown";
}

char *domain_host_monitor_path(const DomainHost *host, const char *uuid) {
        g_autofree char *file = g_strconcat(uuid, ".qmp", NULL);
        return g_build_filename(host->runtime_dir, file, NULL);
}

char *domain_host_log_path(const DomainHost *host, const char *name) {
        g_autofree char *file = g_strconcat(name, ".log", NULL);
        return g_build_filename(host->log_dir, file, NULL);
}

Domain *domain_new(const DomainHost *host, DomainDef *def) {
        Domain *d = g_new0(Domain, 1);

        d->host = host;
        d->registry = host->registry;
        d->def = def;
        d->state = DOMAIN_STATE_SHUTOFF;
        d->state_reason = g_strdup("unknown");
        d->exit_waiters = g_ptr_array_new();
        /* QEMU's own default; MaxSpeed 0 means unlimited, as libvirt's default. */
        d->max_downtime_ms = 300;
        return d;
}

void domain_free(Domain *d) {
        if (!d)
                return;
        for (guint i = 0; i < d->exit_waiters->len; i++) {
                GTask *task = d->exit_waiters->pdata[i];
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                                        _("The daemon is shutting down"));
                g_object_unref(task);
        }
        g_ptr_array_unref(d->exit_waiters);
        g_clear_object(&d->launching);
        qemu_process_free(d->qemu);
        domain_def_free(d->def);
        domain_def_free(d->live);
        g_free(d->state_reason);
        g_free(d->exit_reason);
        g_free(d->last_job_type);
        if (d->observer && d->observer->free)
                d->observer->free(d->observer_data);
        if (d->last_job_stats)
                g_variant_unref(d->last_job_stats);
        g_free(d);
}

const DomainDef *domain_current_def(const Domain *d) {
        return d->live ? d->live : d->def;
}

const char *domain_name(const Domain *d) { return domain_current_def(d)->name; }
const char *domain_uuid(const Domain *d) { return domain_current_def(d)->uuid; }
gboolean domain_is_active(const Domain *d) { return d->live != NULL; }
gboolean domain_is_persistent(const Domain *d) { return d->def != NULL; }

void domain_set_state(Domain *d, DomainState state, const char *reason) {
        gboolean state_changed = d->state != state;
        gboolean reason_changed = g_strcmp0(d->state_reason, reason) != 0;

        if (!state_changed && !reason_changed)
                return;
        g_debug("Domain %s: %s (%s)", domain_name(d), domain_state_to_string(state), reason);
        d->state = state;
        g_free(d->state_reason);
        d->state_reason = g_strdup(reason);
        /* The reason survives a daemon restart only if it is on disk. */
        if (d->qemu && state != DOMAIN_STATE_SHUTOFF) {
                g_autoptr(GError) error = NULL;
                if (!domain_save_status(d, &error))
                        g_warning("%s, ignoring", error->message);
        }
        d->host->changed(d->registry, d, (const char *const[]) { "State", "StateReason", NULL });
}

void domain_kill(Domain *d, const char *reason, guint grace_ms) {
        if (!d->qemu && !d->launching)
                return;
        if (reason) {
                g_free(d->exit_reason);
                d->exit_reason = g_strdup(reason);
        }
        if (d->qemu)
                qemu_process_kill(d->qemu, grace_ms);
        else
                g_cancellable_cancel(d->launching);
}

void domain_abandon_launch(Domain *d) {
        if (d->launching)
                g_cancellable_cancel(d->launching);
}

void domain_set_observer(Domain *d, const DomainObserver *observer, gpointer user_data) {
        g_return_if_fail(!observer || !d->observer);
        d->observer = observer;
        d->observer_data = user_data;
}

static void write_journal(JsonBuilder *builder, gconstpointer data) {
        const Domain *d = data;

        d->observer->write_journal(builder, d->observer_data);
}

static gboolean save_status(Domain *d, const DomainDef *live, pid_t pid, gboolean starting, GError **error) {
        StatusRecord record = {
                .pid = pid,
                .state = domain_state_to_string(d->state),
                .reason = d->state_reason,
                .live = live,
                .starting = starting,
        };

        if (d->observer && d->observer->write_journal) {
                record.write_journal = write_journal;
                record.journal_data = d;
        }
        return state_store_save_status(d->host->store, domain_uuid(d), &record, error);
}

gboolean domain_save_status(Domain *d, GError **error) {
        return save_status(d, d->live, qemu_process_get_pid(d->qemu), FALSE, error);
}

gboolean domain_save_unspawned_status(Domain *d, const DomainDef *live, GError **error) {
        return save_status(d, live, 0, TRUE, error);
}

DomainRef *domain_ref_new(Domain *d) {
        DomainRef *ref = g_new0(DomainRef, 1);

        ref->host = d->host;
        ref->uuid = g_strdup(domain_uuid(d));
        return ref;
}

Domain *domain_ref_get(DomainRef *ref) {
        return ref->host->lookup(ref->host->registry, ref->uuid);
}

void domain_ref_free(DomainRef *ref) {
        if (!ref)
                return;
        g_free(ref->uuid);
        g_free(ref);
}

gboolean domain_check_flags(guint flags, guint allowed, GError **error) {
        if (flags & ~allowed) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("Unsupported flags 0x%x"), flags & ~allowed);
                return FALSE;
        }
        return TRUE;
}

gboolean require_no_job(Domain *d, GError **error) {
        const char *kind = "migration", *phase = "unknown";

        if (!d->observer)
                return TRUE;
        if (d->observer->describe)
                d->observer->describe(d->observer_data, &kind, &phase);
        g_set_error(error, MD_ERROR, MD_ERROR_JOB_ACTIVE,
                    _("Domain '%s' has a %s job in phase %s; a migration holds it until the job "
                      "ends (Destroy ends the job at once)"),
                    domain_name(d), kind, phase);
        return FALSE;
}

/* As libvirt's VIR_JOB_MODIFY, for the whole job and both directions: a
 * definition changed under a migration would not be the one that moves. */
gboolean domain_check_changeable(Domain *d, GError **error) {
        return require_no_job(d, error);
}

/* Operations keep only a reference by UUID: a transient domain may be gone
 * by the time QEMU answers. */
GTask *domain_operation_new(Domain *d, gpointer tag, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, NULL, callback, user_data);

        g_task_set_source_tag(task, tag);
        g_task_set_task_data(task, domain_ref_new(d), (GDestroyNotify) domain_ref_free);
        return task;
}

/* The operation's domain, or NULL after failing @task because it has gone. */
Domain *domain_task_domain(GTask *task) {
        DomainRef *ref = g_task_get_task_data(task);
        Domain *d = domain_ref_get(ref);

        if (!d)
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN,
                                        _("Domain %s went away during the operation"), ref->uuid);
        return d;
}

gboolean domain_operation_finish(Domain *d, GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- QEMU events and exit ---- */

static void on_qemu_event(const QemuEvent *event, gpointer user_data) {
        Domain *d = user_data;
        /* Taken before the observer hears the event: it may end the job. */
        const DomainObserver *o = d->observer;
        const char *stop_reason = o && o->stop_reason ? o->stop_reason : "unknown";
        const char *resume_reason = o && o->resume_reason ? o->resume_reason : "unpaused";
        gboolean owns_resume = o && o->owns_resume;

        if (o && o->qemu_event)
                o->qemu_event(d, event, d->observer_data);
        if (event->type == QEMU_EVENT_STOP) {
                if (d->state == DOMAIN_STATE_RUNNING)
                        domain_set_state(d, DOMAIN_STATE_PAUSED, stop_reason);
        } else if (event->type == QEMU_EVENT_RESUME) {
                if (d->state == DOMAIN_STATE_PAUSED && !owns_resume)
                        domain_set_state(d, DOMAIN_STATE_RUNNING, resume_reason);
        } else if (event->type == QEMU_EVENT_SHUTDOWN) {
                d->guest_shutdown = TRUE;
        }
}

static void on_qemu_exit(QemuProcess *process, gpointer user_data) {
        Domain *d = user_data;
        g_autofree char *reason = g_strdup(d->exit_reason ? d->exit_reason
                                           : d->destroying ? "destroyed"
                                           : d->guest_shutdown ? "shutdown" : "crashed");
        g_autoptr(GPtrArray) waiters = g_steal_pointer(&d->exit_waiters);

        g_debug("Domain %s: QEMU has gone (%s)", domain_name(d), reason);
        d->exit_waiters = g_ptr_array_new();
        g_clear_pointer(&d->qemu, qemu_process_free);
        state_store_remove_status(d->host->store, domain_uuid(d));
        d->destroying = FALSE;
        d->guest_shutdown = FALSE;
        g_clear_pointer(&d->exit_reason, g_free);
        /* A job cannot outlive its QEMU: the failure rules run now. */
        if (d->observer && d->observer->process_exited)
                d->observer->process_exited(d, d->observer_data);
        domain_set_state(d, DOMAIN_STATE_SHUTOFF, reason);
        for (guint i = 0; i < waiters->len; i++) {
                g_task_return_boolean(waiters->pdata[i], TRUE);
                g_object_unref(waiters->pdata[i]);
        }
        /* Last: a transient domain is freed here. */
        d->host->stopped(d->registry, d);
}

static void attach_process(Domain *d, QemuProcess *qemu) {
        d->qemu = qemu;
        qemu_process_set_exit_func(qemu, on_qemu_exit, d);
        qemu_process_set_event_func(qemu, on_qemu_event, d);
}

void domain_adopt_process(Domain *d, DomainDef *live, QemuProcess *qemu, DomainState state,
                          const char *reason) {
        domain_def_free(d->live);
        d->live = live;
        attach_process(d, qemu);
        domain_set_state(d, state, reason);
}

/* ---- RAM size ---- */

static void on_ram_size(GObject *source, GAsyncResult *result, gpointer user_data) {
        guint64 bytes = 0;
        Domain *d = domain_ref_get(user_data);

        (void) qemu_monitor_query_memory_size_finish(result, &bytes, NULL);
        if (d && d->qemu) {
                /* 0 when QEMU said none: unknown. */
                d->ram_kib = bytes / 1024;
                g_debug("Domain %s: QEMU has %" G_GUINT64_FORMAT " KiB of RAM", domain_name(d), d->ram_kib);
        }
        domain_ref_free(user_data);
}

void domain_learn_ram_size(Domain *d) {
        /* Unknown (0, which the safety check refuses) until QEMU answers. */
        d->ram_kib = 0;
        qemu_monitor_query_memory_size_async(qemu_process_get_qmp(d->qemu), on_ram_size, domain_ref_new(d));
}

/* ---- Launch ---- */

void domain_destroy_launch(Domain *d, GTask *task) {
        d->destroying = TRUE;
        g_ptr_array_add(d->exit_waiters, task);
        /* The QEMU is dead when this returns; the launch fails from an idle. */
        domain_kill(d, "destroyed", 0);
        /* A job cannot outlive its QEMU: Destroy ends it, as for a running guest. */
        if (d->observer && d->observer->process_exited)
                d->observer->process_exited(d, d->observer_data);
}

/* The launch's end answers the Destroys that cancelled it (before the
 * domain may go). */
static void answer_destroys(Domain *d) {
        g_autoptr(GPtrArray) waiters = g_steal_pointer(&d->exit_waiters);

        d->exit_waiters = g_ptr_array_new();
        d->destroying = FALSE;
        for (guint i = 0; i < waiters->len; i++) {
                g_task_return_boolean(waiters->pdata[i], TRUE);
                g_object_unref(waiters->pdata[i]);
        }
}

static GError *destroyed_error(Domain *d) {
        return g_error_new(MD_ERROR, MD_ERROR_OPERATION_INVALID,
                           _("Domain '%s' was destroyed while it was starting"), domain_name(d));
}

/* The launch failed (or was cancelled): @task fails with @error. A domain
 * undefined while it started (a Start; an incoming job's Prepare removes
 * its domain itself) has nothing left: it goes, its definition kept for its
 * name until then. */
static void launch_failed(Domain *d, GTask *task /* consumed */, GError *error /* consumed */) {
        const DomainHost *host = d->host;
        g_autofree char *uuid = g_strdup(domain_uuid(d));
        gboolean forget = !domain_is_persistent(d) && !d->job;

        /* Killed while starting (domain_kill): its reason, as if it had exited. */
        if (d->exit_reason && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                domain_set_state(d, DOMAIN_STATE_SHUTOFF, d->exit_reason);
        if (d->destroying) {
                g_clear_error(&error);
                error = destroyed_error(d);
        }
        g_clear_pointer(&d->exit_reason, g_free);
        /* The early one, if QEMU got as far as its pid: it is gone now. */
        state_store_remove_status(host->store, uuid);
        answer_destroys(d);
        if (!forget)
                g_clear_pointer(&d->live, domain_def_free);
        g_task_return_error(task, error);
        g_object_unref(task);
        /* The callback may have removed it already. */
        d = forget ? host->lookup(host->registry, uuid) : NULL;
        if (d && !d->starting && !d->qemu && !domain_is_persistent(d))
                host->stopped(host->registry, d);
}

static void on_launched(GObject *source, GAsyncResult *result, gpointer user_data) {
        GTask *task = user_data;
        g_autoptr(GError) error = NULL;
        QemuProcess *qemu = qemu_process_launch_finish(result, &error);
        Domain *d = domain_task_domain(task);

        if (!d) {
                DomainRef *ref = g_task_get_task_data(task);

                if (qemu) {
                        qemu_process_kill(qemu, 0);
                        qemu_process_free(qemu);
                }
                state_store_remove_status(ref->host->store, ref->uuid);
                g_object_unref(task);
                return;
        }
        if (d->launching == g_task_get_cancellable(G_TASK(result)))
                g_clear_object(&d->launching);
        d->starting = FALSE;
        if (!qemu)
                return launch_failed(d, task, g_steal_pointer(&error));
        attach_process(d, qemu);
        if (d->destroying) {
                /* Up before the Destroy's cancel reached it: it goes now. */
                domain_kill(d, NULL, 0);
                g_task_return_error(task, destroyed_error(d));
                g_object_unref(task);
                return;
        }
        domain_devices_set_passwords(qemu_process_get_qmp(qemu), d->live);
        /* Queued before anyone can ask for a migration: Start and Prepare
         * complete only after later commands on the same monitor. */
        domain_learn_ram_size(d);
        if (!domain_save_status(d, &error)) {
                /* Without a status file a restart would lose this guest. */
                domain_kill(d, NULL, 0);
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
}

static gboolean display_port_taken(int port, const DomainDef *self, gpointer user_data) {
        const DomainHost *host = user_data;

        return host->display_port_taken(host->registry, port, self);
}

/* Whether this host can run @def: KVM when it asks for it (*@ret_kvm), huge
 * pages (*@ret_hugepage_path), and everything it describes. */
static gboolean check_runnable(const DomainHost *host, const DomainDef *def, gboolean *ret_kvm,
                               char **ret_hugepage_path, GError **error) {
        g_autofree char *unsupported = NULL;

        if (g_str_equal(def->virt_type, "kvm")) {
                if (!host->kvm_usable) {
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("Domain '%s' needs KVM, but /dev/kvm is not usable "
                                      "on this host; define it with type='qemu' to "
                                      "run it under TCG"), def->name);
                        return FALSE;
                }
                *ret_kvm = TRUE;
        }
        /* Accepted in a definition, but a guest without it would not be what the XML says. */
        if (domain_def_has_unsupported_runtime(def, &unsupported)) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("Domain '%s' cannot be started: the QEMU driver does not "
                              "implement %s"), def->name, unsupported);
                return FALSE;
        }
        return domain_devices_hugepage_path(host->config, def, ret_hugepage_path, error);
}

/* libvirt's early status file: a daemon killed before QEMU's monitor is up
 * finds this QEMU at its restart, and kills it (recovery-load.c). */
static gboolean on_spawned(pid_t pid, gpointer user_data, GError **error) {
        Domain *d = user_data;

        return save_status(d, d->live, pid, TRUE, error);
}

void domain_launch_async(Domain *d, DomainDef *live, const char *incoming, guint64 ram_kib,
                         GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = domain_operation_new(d, domain_launch_async, callback, user_data);
        const DomainHost *host = d->host;
        g_autoptr(DomainDef) owned = live;
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = NULL;
        g_autofree char *monitor = NULL, *log = NULL, *hugepage_path = NULL;
        g_autoptr(DomainDevices) devices = NULL;
        QemuCommandOptions options = {
                .binary = host->config->qemu_binary,
                .monitor_fd = QEMU_MONITOR_FD,
                .incoming = incoming,
                .ram_kib = ram_kib,
        };

        if (!check_runnable(host, owned, &options.kvm, &hugepage_path, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        devices = domain_devices_prepare(&(DomainDevicesContext) {
                                                 .config = host->config,
                                                 .runtime_dir = host->runtime_dir,
                                                 .port_taken = display_port_taken,
                                                 .user_data = (gpointer) host,
                                         }, owned, &error);
        if (devices) {
                options.net_fds = devices->net_fds;
                options.n_net_fds = devices->n_nets;
                options.hugepage_path = hugepage_path;
                argv = qemu_command_build(owned, &options, &error);
        }
        if (!argv || !domain_storage_check(owned, &error)) {
                g_task_return_error(task, g_steal_pointer(&error));
                g_object_unref(task);
                return;
        }
        domain_def_free(d->live);
        d->live = g_steal_pointer(&owned);
        d->starting = TRUE;
        d->guest_shutdown = FALSE;
        g_clear_pointer(&d->exit_reason, g_free);
        g_clear_object(&d->launching);
        d->launching = g_cancellable_new();
        monitor = domain_host_monitor_path(host, domain_uuid(d));
        log = domain_host_log_path(host, domain_name(d));
        /* QEMU inherits the taps at once; the daemon's copies close on return. */
        qemu_process_launch_async(&(QemuLaunch) { .argv = argv, .monitor_path = monitor, .log_path = log,
                                                  .extra_fds = (const int *) devices->fds->data,
                                                  .n_extra_fds = devices->fds->len,
                                                  .spawned = on_spawned, .spawned_data = d },
                                  d->launching, on_launched, task);
}

gboolean domain_launch_finish(Domain *d, GAsyncResult *result, GError **error) {
        return g_task_propagate_boolean(G_TASK(result), error);
}

char *domain_get_xml(Domain *d, guint flags, GError **error) {
        if (!domain_check_flags(flags, DOMAIN_XML_SECURE | DOMAIN_XML_INACTIVE, error))
                return NULL;
        /* libvirt shows display passwords for SECURE on an authenticated
         * connection only; GetXMLDesc asks for no authorization, so never. */
        if ((flags & DOMAIN_XML_INACTIVE) && d->def)
                return domain_def_format_public(d->def);
        return domain_def_format_public(domain_current_def(d));
}
