/* All domains of this host: definitions on disk (STATE/domains/NAME.xml),
 * live status of running guests (STATE/status/UUID.json), paths of their
 * monitors and logs, and the listener through which the bus layer hears of
 * domains appearing, disappearing and changing. */
#pragma once

#include <gio/gio.h>

#include "domain.h"
#include "md-config.h"

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
         * the listener calls registry_client_vanished(). */
        void (*watch_client)(const char *name, gpointer user_data);
} RegistryListener;

typedef struct {
        const char *state_dir;
        const char *runtime_dir;
        const char *log_dir;
} RegistryDirs;

struct Registry {
        MdConfig *config;         /* borrowed */
        char *domains_dir;
        char *status_dir;
        char *runtime_dir;
        char *log_dir;
        gboolean kvm_usable;
        GHashTable *by_uuid;      /* uuid -> Domain* (owned) */
        GHashTable *by_name;      /* name -> Domain* */
        const RegistryListener *listener;
        gpointer listener_data;
};

Registry *registry_new(MdConfig *config, const RegistryDirs *dirs, GError **error);
void registry_free(Registry *registry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Registry, registry_free)

void registry_set_listener(Registry *registry, const RegistryListener *listener, gpointer user_data);

/* Loads the definitions and finds running guests again; completes when every
 * guest's monitor has answered or the guest was found gone. */
void registry_load_async(Registry *registry, GAsyncReadyCallback callback, gpointer user_data);
gboolean registry_load_finish(Registry *registry, GAsyncResult *result, GError **error);

Domain *registry_lookup_by_name(Registry *registry, const char *name, GError **error);
Domain *registry_lookup_by_uuid(Registry *registry, const char *uuid, GError **error);
/* Sorted by name; filtered by DOMAIN_LIST_* flags (0 = all). */
GPtrArray *registry_list(Registry *registry, guint flags);

/* Defines a new domain or updates the definition of an existing one with the
 * same name and UUID. */
Domain *registry_define_xml(Registry *registry, const char *xml, GError **error);
gboolean registry_undefine(Registry *registry, Domain *domain, guint flags, GError **error);

/* Called by the domain: its guest stopped; a transient one goes away. */
void registry_domain_stopped(Registry *registry, Domain *domain);

char *registry_monitor_path(Registry *registry, Domain *domain);
char *registry_log_path(Registry *registry, Domain *domain);
gboolean registry_save_status(Registry *registry, Domain *domain, GError **error);
void registry_remove_status(Registry *registry, Domain *domain);

void registry_emit_job_stats(Registry *registry, Domain *domain, GVariant *stats);
void registry_emit_job_completed(Registry *registry, Domain *domain, GVariant *stats);
void registry_emit_iteration(Registry *registry, Domain *domain, guint iteration);
guint registry_count_jobs(Registry *registry);
/* Adds a domain created by an incoming migration (transient until Finish). */
void registry_add_domain(Registry *registry, Domain *domain);
/* Makes @xml (persistent_xml of PERSIST_DEST) the definition of @domain,
 * which must have the same name and UUID; no job check: the incoming job
 * itself calls it. */
gboolean registry_persist_xml(Registry *registry, Domain *domain, const char *xml, GError **error);

/* Makes the running definition persistent (PERSIST_DEST). */
gboolean registry_persist(Registry *registry, Domain *domain, GError **error);
/* The client @name left the bus: jobs it drove are abandoned. */
void registry_client_vanished(Registry *registry, const char *name);
/* Asks the listener whether @name is still on the bus (it may have left
 * before its job existed, or while the daemon was down). */
void registry_watch_client(Registry *registry, const char *name);
/* After the listener is set: the same for the driving client of every job
 * restored from the journal. */
void registry_watch_job_clients(Registry *registry);
/* Once the bus name is ours: the jobs recovery ended end now, so that
 * clients hear their JobCompleted (migration_job_end_restored). */
void registry_end_restored_jobs(Registry *registry);

void registry_notify_changed(Registry *registry, Domain *domain, ...) G_GNUC_NULL_TERMINATED;
