#define G_LOG_DOMAIN "migrationd"

#include <errno.h>

#include "i18n.h"
#include "md-error.h"
#include "registry.h"

struct Registry {
        DomainHost host;          /* what each domain is given */
        MdConfig *config;         /* borrowed */
        StateStore *store;
        char *runtime_dir;
        char *log_dir;
        gboolean kvm_usable;
        GHashTable *by_uuid;      /* uuid -> Domain* (owned) */
        GHashTable *by_name;      /* name -> Domain* */
        const RegistryListener *listener;
        gpointer listener_data;
};

static void host_changed(Registry *r, Domain *d, const char *const *properties) {
        if (r->listener && r->listener->domain_changed)
                r->listener->domain_changed(d, properties, r->listener_data);
}

static Domain *host_lookup(Registry *r, const char *uuid) {
        return registry_lookup_by_uuid(r, uuid, NULL);
}

typedef struct {
        const DomainDef *self;
        int port;
        gboolean taken;
} PortQuery;

static void check_domain_port(Domain *d, gpointer user_data) {
        PortQuery *q = user_data;

        if (!d->live || d->live == q->self)
                return;
        for (guint i = 0; i < d->live->graphics->len; i++)
                if (((DomainGraphics *) d->live->graphics->pdata[i])->port == q->port)
                        q->taken = TRUE;
}

static gboolean host_display_port_taken(Registry *r, int port, const DomainDef *self) {
        PortQuery q = { .self = self, .port = port };

        registry_foreach_domain(r, check_domain_port, &q);
        return q.taken;
}

Registry *registry_new(MdConfig *config, const RegistryDirs *dirs, GError **error) {
        g_autoptr(Registry) r = g_new0(Registry, 1);

        /* The paths go into definitions' text (sockets, logs): XML must hold them. */
        for (const char *const *dir = (const char *const[]) { dirs->state_dir, dirs->runtime_dir, dirs->log_dir, NULL };
             *dir; dir++) {
                if (!g_path_is_absolute(*dir) || !g_utf8_validate(*dir, -1, NULL)) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                                    _("The directory %s must be an absolute path in UTF-8"), *dir);
                        return NULL;
                }
        }
        r->config = config;
        r->runtime_dir = g_strdup(dirs->runtime_dir);
        r->log_dir = g_strdup(dirs->log_dir);
        r->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) domain_free);
        r->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        r->store = state_store_new(dirs->state_dir, error);
        if (!r->store || !state_store_make_dir(r->runtime_dir, error) || !state_store_make_dir(r->log_dir, error))
                return NULL;
        r->kvm_usable = qemu_kvm_usable();
        r->host = (DomainHost) {
                .registry = r,
                .config = r->config,
                .store = r->store,
                .kvm_usable = r->kvm_usable,
                .runtime_dir = r->runtime_dir,
                .log_dir = r->log_dir,
                .changed = host_changed,
                .stopped = registry_domain_stopped,
                .lookup = host_lookup,
                .display_port_taken = host_display_port_taken,
        };
        return g_steal_pointer(&r);
}

void registry_free(Registry *r) {
        if (!r)
                return;
        g_clear_pointer(&r->by_name, g_hash_table_unref);
        g_clear_pointer(&r->by_uuid, g_hash_table_unref);
        state_store_free(r->store);
        g_free(r->runtime_dir);
        g_free(r->log_dir);
        g_free(r);
}

const DomainHost *registry_domain_host(Registry *r) {
        return &r->host;
}

MdConfig *registry_get_config(Registry *r) {
        return r->config;
}

StateStore *registry_get_store(Registry *r) {
        return r->store;
}

const char *registry_get_runtime_dir(Registry *r) {
        return r->runtime_dir;
}

gboolean registry_kvm_usable(Registry *r) {
        return r->kvm_usable;
}

void registry_set_listener(Registry *r, const RegistryListener *listener, gpointer user_data) {
        r->listener = listener;
        r->listener_data = user_data;
}

void registry_notify_changed(Registry *r, Domain *d, ...) {
        const char *names[16];
        guint n = 0;
        va_list ap;

        va_start(ap, d);
        for (const char *p; (p = va_arg(ap, const char *)) && n < G_N_ELEMENTS(names) - 1;)
                names[n++] = p;
        va_end(ap);
        names[n] = NULL;
        host_changed(r, d, names);
}

void registry_emit_job_stats(Registry *r, Domain *d, GVariant *stats) {
        if (r->listener && r->listener->job_stats_updated)
                r->listener->job_stats_updated(d, stats, r->listener_data);
}

void registry_emit_job_completed(Registry *r, Domain *d, GVariant *stats) {
        if (r->listener && r->listener->job_completed)
                r->listener->job_completed(d, stats, r->listener_data);
}

void registry_emit_iteration(Registry *r, Domain *d, guint iteration) {
        if (r->listener && r->listener->migration_iteration)
                r->listener->migration_iteration(d, iteration, r->listener_data);
}

void registry_watch_client(Registry *r, const char *name) {
        if (r->listener && r->listener->watch_client)
                r->listener->watch_client(name, r->listener_data);
}

static void add_domain(Registry *r, Domain *d) {
        g_hash_table_insert(r->by_uuid, g_strdup(domain_uuid(d)), d);
        g_hash_table_insert(r->by_name, g_strdup(domain_name(d)), d);
        if (r->listener && r->listener->domain_added)
                r->listener->domain_added(d, r->listener_data);
}

static void remove_domain(Registry *r, Domain *d) {
        if (r->listener && r->listener->domain_removed)
                r->listener->domain_removed(d, r->listener_data);
        g_hash_table_remove(r->by_name, domain_name(d));
        g_hash_table_remove(r->by_uuid, domain_uuid(d));
}

void registry_add_domain(Registry *r, Domain *d) {
        add_domain(r, d);
}

Domain *registry_lookup_by_name(Registry *r, const char *name, GError **error) {
        Domain *d = g_hash_table_lookup(r->by_name, name);

        if (!d)
                g_set_error(error, MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN, _("No domain named '%s'"), name);
        return d;
}

Domain *registry_lookup_by_uuid(Registry *r, const char *uuid, GError **error) {
        g_autofree char *lower = g_ascii_strdown(uuid, -1);
        Domain *d = g_hash_table_lookup(r->by_uuid, lower);

        if (!d)
                g_set_error(error, MD_ERROR, MD_ERROR_NO_SUCH_DOMAIN, _("No domain with UUID '%s'"), uuid);
        return d;
}

static gint compare_by_name(gconstpointer a, gconstpointer b) {
        return g_strcmp0(domain_name(*(Domain **) a), domain_name(*(Domain **) b));
}

GPtrArray *registry_list(Registry *r, guint flags) {
        GPtrArray *list = g_ptr_array_new();
        guint activity = flags & (DOMAIN_LIST_ACTIVE | DOMAIN_LIST_INACTIVE);
        guint persistence = flags & (DOMAIN_LIST_PERSISTENT | DOMAIN_LIST_TRANSIENT);
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, r->by_uuid);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
                Domain *d = value;
                if (activity && !(activity & (domain_is_active(d) ? DOMAIN_LIST_ACTIVE : DOMAIN_LIST_INACTIVE)))
                        continue;
                if (persistence && !(persistence & (domain_is_persistent(d) ? DOMAIN_LIST_PERSISTENT
                                                                            : DOMAIN_LIST_TRANSIENT)))
                        continue;
                g_ptr_array_add(list, d);
        }
        g_ptr_array_sort(list, compare_by_name);
        return list;
}

guint registry_count(Registry *r) {
        return g_hash_table_size(r->by_uuid);
}

void registry_foreach_domain(Registry *r, void (*func)(Domain *domain, gpointer user_data), gpointer user_data) {
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, r->by_uuid);
        while (g_hash_table_iter_next(&iter, NULL, &value))
                func(value, user_data);
}

static void end_launch(Domain *d, gpointer user_data) {
        domain_abandon_launch(d);
}

void registry_end_launches(Registry *r) {
        registry_foreach_domain(r, end_launch, NULL);
}

char *registry_monitor_path(Registry *r, const char *uuid) {
        return domain_host_monitor_path(&r->host, uuid);
}

char *registry_log_path(Registry *r, const char *name) {
        return domain_host_log_path(&r->host, name);
}

Domain *registry_define_xml(Registry *r, const char *xml, GError **error) {
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, error);
        Domain *by_uuid, *by_name;

        if (!def)
                return NULL;
        by_uuid = g_hash_table_lookup(r->by_uuid, def->uuid);
        by_name = g_hash_table_lookup(r->by_name, def->name);
        if (by_name && by_name != by_uuid) {
                g_set_error(error, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                            _("A domain named '%s' already exists with UUID %s"), def->name,
                            domain_uuid(by_name));
                return NULL;
        }
        if (by_uuid && !domain_check_changeable(by_uuid, error))
                return NULL;
        if (by_uuid && !g_str_equal(domain_name(by_uuid), def->name)) {
                g_set_error(error, MD_ERROR, MD_ERROR_DOMAIN_EXISTS,
                            _("The UUID %s already belongs to domain '%s'"), def->uuid,
                            domain_name(by_uuid));
                return NULL;
        }
        if (!state_store_save_definition(r->store, def, error))
                return NULL;
        if (by_uuid) {
                gboolean was_persistent = domain_is_persistent(by_uuid);
                /* A running domain keeps its live definition until it restarts. */
                domain_def_free(by_uuid->def);
                by_uuid->def = g_steal_pointer(&def);
                if (!was_persistent)
                        registry_notify_changed(r, by_uuid, "Persistent", NULL);
                return by_uuid;
        }
        Domain *d = domain_new(&r->host, g_steal_pointer(&def));
        domain_set_state(d, DOMAIN_STATE_SHUTOFF, "unknown");
        add_domain(r, d);
        return d;
}

/* @d's definition becomes @def (taken), on disk first. */
static gboolean persist_definition(Registry *r, Domain *d, DomainDef *def, GError **error) {
        if (!state_store_save_definition(r->store, def, error)) {
                domain_def_free(def);
                return FALSE;
        }
        domain_def_free(d->def);
        d->def = def;
        registry_notify_changed(r, d, "Persistent", NULL);
        return TRUE;
}

gboolean registry_persist(Registry *r, Domain *d, GError **error) {
        return persist_definition(r, d, domain_def_copy(d->live), error);
}

gboolean registry_persist_xml(Registry *r, Domain *d, const char *xml, GError **error) {
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, error);

        if (!def)
                return FALSE;
        if (!g_str_equal(def->uuid, domain_uuid(d)) || !g_str_equal(def->name, domain_name(d))) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS,
                            _("persistent_xml describes '%s' (%s), not '%s' (%s)"), def->name, def->uuid,
                            domain_name(d), domain_uuid(d));
                return FALSE;
        }
        return persist_definition(r, d, g_steal_pointer(&def), error);
}

gboolean registry_undefine(Registry *r, Domain *d, guint flags, GError **error) {
        if (flags) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_ARGS, _("Unsupported flags 0x%x"), flags);
                return FALSE;
        }
        if (!domain_check_changeable(d, error))
                return FALSE;
        if (!domain_is_persistent(d)) {
                g_set_error(error, MD_ERROR, MD_ERROR_OPERATION_INVALID,
                            _("Domain '%s' is transient and has no definition to remove; "
                              "destroy it instead"), domain_name(d));
                return FALSE;
        }
        if (!state_store_remove_definition(r->store, d->def->name, error))
                return FALSE;
        if (!domain_is_active(d)) {
                remove_domain(r, d);
                return TRUE;
        }
        /* A running domain lives on as a transient one, as in libvirt. */
        g_clear_pointer(&d->def, domain_def_free);
        registry_notify_changed(r, d, "Persistent", NULL);
        return TRUE;
}

void registry_domain_stopped(Registry *r, Domain *d) {
        if (!domain_is_persistent(d)) {
                remove_domain(r, d);
                return;
        }
        g_clear_pointer(&d->live, domain_def_free);
}
