/* All domains of this host: the index (by name and UUID), the paths of
 * their monitors and logs, and the listener through which the bus layer
 * hears of domains appearing, disappearing and changing. What is kept on
 * disk is the state store's (state-store.h); finding guests again after a
 * restart is recovery-load.h's. */
#pragma once

#include <gio/gio.h>

#include "domain.h"
#include "md-config.h"
#include "state-store.h"

typedef struct {
        void (*domain_added)(Domain *domain, gpointer user_data);
        void (*domain_removed)(Domain *domain, gpointer user_data);
        /* @properties: NULL-terminated bus property names. */
        void (*domain_changed)(Domain *domain, const char *const *properties, gpointer user_data);
        /* Migration signals; @stats is a{sv}. */
        void (*job_stats_updated)(Domain *domain, GVariant *stats, gpointer user_data);
        void (*job_completed)(Domain *domain, GVariant *stats, gpointer user_data);
        void (*migration_iteration)(Domain *domain, guint iteration, gpointer user_data);
        /* Is the client @name (a unique bus name) still on the bus? If not,
         * the listener calls migration_jobs_client_vanished(). */
        void (*watch_client)(const char *name, gpointer user_data);
} RegistryListener;

typedef struct {
        const char *state_dir;
        const char *runtime_dir;
        const char *log_dir;
} RegistryDirs;

/* Opaque: the index is reached through the functions below. */
Registry *registry_new(MdConfig *config, const RegistryDirs *dirs, GError **error);
void registry_free(Registry *registry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Registry, registry_free)

/* The daemon's configuration (borrowed from main). */
MdConfig *registry_get_config(Registry *registry);
/* Where definitions and status records are kept. */
StateStore *registry_get_store(Registry *registry);
/* Sockets (monitors, TLS credentials) of running guests. */
const char *registry_get_runtime_dir(Registry *registry);
gboolean registry_kvm_usable(Registry *registry);

void registry_set_listener(Registry *registry, const RegistryListener *listener, gpointer user_data);

/* @error may be NULL for a plain look-up. */
Domain *registry_lookup_by_name(Registry *registry, const char *name, GError **error);
Domain *registry_lookup_by_uuid(Registry *registry, const char *uuid, GError **error);
/* Sorted by name; filtered by DOMAIN_LIST_* flags (0 = all). */
GPtrArray *registry_list(Registry *registry, guint flags);
guint registry_count(Registry *registry);
/* Calls @func for every domain, in no order; @func must not add or remove
 * domains (collect them first, as registry_list() does). */
void registry_foreach_domain(Registry *registry, void (*func)(Domain *domain, gpointer user_data),
                             gpointer user_data);

/* Defines a new domain or updates the definition of an existing one with the
 * same name and UUID. */
Domain *registry_define_xml(Registry *registry, const char *xml, GError **error);
gboolean registry_undefine(Registry *registry, Domain *domain, guint flags, GError **error);

/* What the registry gives each domain it keeps (domain_new()). */
const DomainHost *registry_domain_host(Registry *registry);

/* The domain's guest stopped (DomainHost.stopped); a transient one goes away. */
void registry_domain_stopped(Registry *registry, Domain *domain);

/* The daemon stops: every QEMU still starting is killed and reaped now
 * (domain_abandon_launch()); running guests stay. */
void registry_end_launches(Registry *registry);

/* Paths of a guest's QMP socket and QEMU log. */
char *registry_monitor_path(Registry *registry, const char *uuid);
char *registry_log_path(Registry *registry, const char *name);

void registry_emit_job_stats(Registry *registry, Domain *domain, GVariant *stats);
void registry_emit_job_completed(Registry *registry, Domain *domain, GVariant *stats);
void registry_emit_iteration(Registry *registry, Domain *domain, guint iteration);
/* Adds a domain created by an incoming migration (transient until Finish). */
void registry_add_domain(Registry *registry, Domain *domain);
/* Makes @xml (persistent_xml of PERSIST_DEST) the definition of @domain,
 * which must have the same name and UUID; no job check: the incoming job
 * itself calls it. */
gboolean registry_persist_xml(Registry *registry, Domain *domain, const char *xml, GError **error);

/* Makes the running definition persistent (PERSIST_DEST). */
gboolean registry_persist(Registry *registry, Domain *domain, GError **error);
/* Asks the listener whether @name is still on the bus (it may have left
 * before its job existed, or while the daemon was down). */
void registry_watch_client(Registry *registry, const char *name);

void registry_notify_changed(Registry *registry, Domain *domain, ...) G_GNUC_NULL_TERMINATED;
