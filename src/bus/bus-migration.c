#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "bus-glib.h"
#include "bus-migration.h"
#include "bus-service.h"
#include "bus-variant.h"
#include "md-error.h"
#include "migration-job.h"
#include "migration.h"


static int read_bytes(sd_bus_message *m, GBytes **ret) {
        const void *data = NULL;
        size_t size = 0;
        int r = sd_bus_message_read_array(m, 'y', &data, &size);

        if (r < 0)
                return r;
        *ret = g_bytes_new(data, size);
        return 0;
}

static int append_bytes(sd_bus_message *reply, GBytes *bytes) {
        gsize size = 0;
        const void *data = bytes ? g_bytes_get_data(bytes, &size) : NULL;

        return sd_bus_message_append_array(reply, 'y', data ? data : "", size);
}

static const char *empty_to_null(const char *s) {
        return s && *s ? s : NULL;
}

/* QEMU cannot migrate "directly" (libvirt's direct mode needs a hypervisor
 * that talks to its peer itself): a destination URI needs PEER2PEER. */
static gboolean check_dconnuri(const char *dconnuri, guint flags, GError **error) {
        if (!empty_to_null(dconnuri) || (flags & MIGRATE_PEER2PEER))
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                    "Direct migration is not supported by QEMU: pass PEER2PEER with a destination "
                    "URI, or drive the phases yourself (managed mode) with an empty one");
        return FALSE;
}

static void reply_error(sd_bus_message *m, const GError *error) {
        int r = bus_reply_gerror(m, error);

        if (r < 0)
                g_warning("Failed to send reply: %s, ignoring", g_strerror(-r));
}

static void reply_checked(int r) {
        if (r < 0)
                g_warning("Failed to send reply: %s, ignoring", g_strerror(-r));
}

/* What every migration phase asks first: may the caller (polkit, the domain
 * and destination as details; the manager's phases name no domain), and
 * does this host speak the form of the call? 1: go on; 0: polkit is asked,
 * the message comes again; < 0: refused, in @error. */
static int open_call(sd_bus_message *m, Domain *d, const char *destination, MdConfig *config,
                     ProtocolMask protocol, sd_bus_error *error) {
        g_autoptr(GError) gerror = NULL;
        int r = d ? bus_authorize_migration(m, d, destination, error) : bus_authorize(m, ACTION_MIGRATE, NULL, error);

        if (r <= 0)
                return r;
        if (!bus_protocol_accepted(config, protocol, &gerror))
                return bus_error_set_gerror(error, gerror);
        return 1;
}

/* ---- Begin ---- */

static int begin(sd_bus_message *m, Domain *d, MigrationParams *params, GError *params_error,
                 sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *xml = NULL;
        g_autoptr(GBytes) cookie = NULL;
        int r;

        if (!params || !migration_begin(d, params, sd_bus_message_get_sender(m), &xml, &cookie, &gerror))
                return bus_error_set_gerror(error, gerror);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", xml);
        if (r >= 0)
                r = append_bytes(reply, cookie);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int method_begin3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *xmlin, *dname;
        uint64_t bandwidth;
        uint32_t flags;
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = open_call(m, userdata, NULL, ((Domain *) userdata)->registry->config, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_bus_message_read(m, "sstu", &xmlin, &dname, &bandwidth, &flags);
        if (r < 0)
                return r;
        params = migration_params_new_plain(xmlin, dname, NULL, bandwidth, flags, &gerror);
        return begin(m, userdata, params, gerror, error);
}

int method_begin3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        GError *gerror = NULL;
        MigrationParams *params;
        uint32_t flags;
        int r;

        r = open_call(m, userdata, NULL, ((Domain *) userdata)->registry->config, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_message_read_vardict(m, &dict, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        params = migration_params_new(dict, flags, &gerror);
        return begin(m, userdata, params, gerror, error);
}

/* ---- Perform ---- */

static void on_performed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = migration_perform_finish(result, &error);
        int r;

        if (!cookie)
                return reply_error(m, error);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = append_bytes(reply, cookie);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        reply_checked(r);
}

static void on_p2p_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GError) error = NULL;
        int r;

        if (!bus_service_get()->p2p_finish(result, &error))
                return reply_error(m, error);
        /* Perform3 answers a cookie; the peer-to-peer run has none left to give. */
        if (g_str_has_prefix(sd_bus_message_get_member(m), "Perform3")) {
                r = sd_bus_message_new_method_return(m, &reply);
                if (r >= 0)
                        r = append_bytes(reply, NULL);
                if (r >= 0)
                        r = sd_bus_send(NULL, reply, NULL);
        } else
                r = sd_bus_reply_method_return(m, NULL);
        reply_checked(r);
}

/* With PEER2PEER this daemon runs every phase itself, the destination's
 * through its migration-bridge; the call replies when the migration has ended. */
static int p2p(sd_bus_message *m, Domain *d, const char *dconnuri, MigrationParams *params, sd_bus_error *error) {
        BusService *s = bus_service_get();

        if (!empty_to_null(dconnuri)) {
                migration_params_free(params);
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS,
                                      "PEER2PEER needs the destination's URI (dconnuri), "
                                      "migration+tls://HOST[:PORT]");
        }
        if (!s->p2p_migrate) {
                migration_params_free(params);
                return bus_error_setf(error, MD_ERROR_UNSUPPORTED,
                                      "Peer-to-peer migration is not available in this daemon");
        }
        s->p2p_migrate(s, d, dconnuri, params, on_p2p_done, sd_bus_message_ref(m));
        return 1;
}

static int perform(sd_bus_message *m, Domain *d, const char *dconnuri, MigrationParams *params,
                   GError *params_error, GBytes *cookie, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;
        g_autoptr(MigrationParams) p = params;

        if (!p || !check_dconnuri(dconnuri, p->flags, &gerror))
                return bus_error_set_gerror(error, gerror);
        if (p->flags & MIGRATE_PEER2PEER)
                return p2p(m, d, dconnuri, g_steal_pointer(&p), error);
        migration_perform_async(d, g_steal_pointer(&p), cookie, on_performed, sd_bus_message_ref(m));
        return 1;
}

int method_migrate_to_uri3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        g_autoptr(GError) gerror = NULL;
        const char *dconnuri;
        MigrationParams *params;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "s", &dconnuri);
        if (r >= 0)
                r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        r = bus_authorize_migration(m, userdata, dconnuri, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new(dict, flags, &gerror);
        if (!params || !check_dconnuri(dconnuri, flags, &gerror)) {
                migration_params_free(params);
                return bus_error_set_gerror(error, gerror);
        }
        if (!(flags & MIGRATE_PEER2PEER)) {
                migration_params_free(params);
                return bus_error_setf(error, MD_ERROR_UNSUPPORTED,
                                      "MigrateToURI3 without PEER2PEER would be a direct migration, "
                                      "which QEMU does not support; pass PEER2PEER");
        }
        return p2p(m, userdata, dconnuri, params, error);
}

int method_perform3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *xmlin, *dconnuri, *uri, *dname;
        g_autoptr(GBytes) cookie = NULL;
        uint64_t bandwidth;
        uint32_t flags;
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = sd_bus_message_read(m, "s", &xmlin);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "ssstu", &dconnuri, &uri, &dname, &bandwidth, &flags);
        if (r < 0)
                return r;
        r = open_call(m, userdata, empty_to_null(dconnuri) ? dconnuri : uri, ((Domain *) userdata)->registry->config,
                      PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new_plain(xmlin, dname, uri, bandwidth, flags, &gerror);
        return perform(m, userdata, dconnuri, params, gerror, cookie, error);
}

int method_perform3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GVariant) migrate_uri = NULL;
        const char *dconnuri;
        GError *gerror = NULL;
        MigrationParams *params;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "s", &dconnuri);
        if (r >= 0)
                r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        migrate_uri = g_variant_lookup_value(dict, "migrate_uri", G_VARIANT_TYPE_STRING);
        r = open_call(m, userdata,
                      empty_to_null(dconnuri) ? dconnuri : migrate_uri ? g_variant_get_string(migrate_uri, NULL) : NULL,
                      ((Domain *) userdata)->registry->config, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new(dict, flags, &gerror);
        return perform(m, userdata, dconnuri, params, gerror, cookie, error);
}

/* ---- Confirm ---- */

static void on_confirmed(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;

        if (!migration_confirm_finish(result, &error))
                return reply_error(m, error);
        reply_checked(sd_bus_reply_method_return(m, NULL));
}

static int confirm(sd_bus_message *m, Domain *d, MigrationParams *params, GError *params_error,
                   GBytes *cookie, int cancelled, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;

        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_confirm_async(d, params, cookie, cancelled, on_confirmed, sd_bus_message_ref(m));
        return 1;
}

int method_confirm3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GBytes) cookie = NULL;
        uint32_t flags;
        int cancelled, r;
        GError *gerror = NULL;
        MigrationParams *params;

        r = open_call(m, userdata, NULL, ((Domain *) userdata)->registry->config, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "ub", &flags, &cancelled);
        if (r < 0)
                return r;
        params = migration_params_new_plain(NULL, NULL, NULL, 0, flags, &gerror);
        return confirm(m, userdata, params, gerror, cookie, cancelled, error);
}

int method_confirm3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        g_autoptr(GBytes) cookie = NULL;
        uint32_t flags;
        int cancelled, r;
        GError *gerror = NULL;
        MigrationParams *params;

        r = open_call(m, userdata, NULL, ((Domain *) userdata)->registry->config, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "ub", &flags, &cancelled);
        if (r < 0)
                return r;
        params = migration_params_new(dict, flags, &gerror);
        return confirm(m, userdata, params, gerror, cookie, cancelled, error);
}

/* ---- Job controls ---- */

int method_abort_job(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MIGRATE, migration_abort_async, error);
}

static int set_value(sd_bus_message *m, Domain *d,
                     gboolean (*set)(Domain *, guint64, guint, GError **), sd_bus_error *error) {
        g_autoptr(GError) gerror = NULL;
        uint64_t value;
        uint32_t flags;
        int r;

        r = bus_authorize(m, ACTION_MIGRATE, d, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "tu", &value, &flags);
        if (r < 0)
                return r;
        if (!set(d, value, flags, &gerror))
                return bus_error_set_gerror(error, gerror);
        return sd_bus_reply_method_return(m, NULL);
}

static int get_value(sd_bus_message *m, uint64_t value, sd_bus_error *error) {
        uint32_t flags;
        int r = sd_bus_message_read(m, "u", &flags);

        if (r < 0)
                return r;
        if (flags)
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS, "Unsupported flags 0x%x", flags);
        return sd_bus_reply_method_return(m, "t", value);
}

int method_migrate_set_max_downtime(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return set_value(m, userdata, migration_set_max_downtime, error);
}

int method_migrate_get_max_downtime(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return get_value(m, ((Domain *) userdata)->max_downtime_ms, error);
}

int method_migrate_set_max_speed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return set_value(m, userdata, migration_set_max_speed, error);
}

int method_migrate_get_max_speed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return get_value(m, ((Domain *) userdata)->max_speed_mib, error);
}

int method_get_job_stats(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GVariant) stats = NULL;
        g_autoptr(GError) gerror = NULL;
        const char *type;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        if (!migration_job_get_stats(userdata, flags, &type, &stats, &gerror))
                return bus_error_set_gerror(error, gerror);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", type);
        if (r >= 0)
                r = bus_message_append_vardict(reply, stats);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- Prepare (destination) ---- */

static void on_prepared(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autofree char *uri = NULL;
        int r;

        if (!migration_prepare_finish(result, &cookie, &uri, &error))
                return reply_error(m, error);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = append_bytes(reply, cookie);
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", uri);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        reply_checked(r);
}

static int prepare(sd_bus_message *m, BusService *s, MigrationParams *params, GError *params_error,
                   GBytes *cookie, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;

        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_prepare_async(s->registry, params, cookie, sd_bus_message_get_sender(m), on_prepared,
                                sd_bus_message_ref(m));
        return 1;
}

int method_prepare3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *dom_xml, *dname, *uri_in;
        g_autoptr(GBytes) cookie = NULL;
        uint64_t bandwidth;
        uint32_t flags;
        GError *gerror = NULL;
        MigrationParams *params;
        int r;

        r = open_call(m, NULL, NULL, ((BusService *) userdata)->config, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_bus_message_read(m, "sst", &dom_xml, &dname, &bandwidth);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "su", &uri_in, &flags);
        if (r < 0)
                return r;
        params = migration_params_new_plain(dom_xml, dname, uri_in, bandwidth, flags, &gerror);
        return prepare(m, userdata, params, gerror, cookie, error);
}

int method_prepare3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        g_autoptr(GBytes) cookie = NULL;
        GError *gerror = NULL;
        MigrationParams *params;
        uint32_t flags;
        int r;

        r = open_call(m, NULL, NULL, ((BusService *) userdata)->config, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        params = migration_params_new(dict, flags, &gerror);
        return prepare(m, userdata, params, gerror, cookie, error);
}

/* ---- Finish (destination) ---- */

static void on_finished(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autofree char *uuid = migration_finish_finish(result, &cookie, &error);
        g_autofree char *path = NULL;
        int r;

        if (error)
                return reply_error(m, error);
        /* A cancelled migration leaves no domain: the null object path. */
        if (uuid && sd_bus_path_encode(DOMAIN_PATH_PREFIX, uuid, &path) < 0)
                g_error("Out of memory");
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "o", path ? path : "/");
        if (r >= 0)
                r = append_bytes(reply, cookie);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        reply_checked(r);
}

static int finish(sd_bus_message *m, BusService *s, MigrationParams *params, GError *params_error,
                  GBytes *cookie, int cancelled, sd_bus_error *error) {
        g_autoptr(GError) gerror = params_error;

        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_finish_async(s->registry, params, cookie, cancelled, on_finished, sd_bus_message_ref(m));
        return 1;
}

int method_finish3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *dname, *uri;
        g_autoptr(GBytes) cookie = NULL;
        uint32_t flags;
        int cancelled, r;
        GError *gerror = NULL;
        MigrationParams *params;

        r = open_call(m, NULL, NULL, ((BusService *) userdata)->config, PROTOCOL_V3, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = sd_bus_message_read(m, "s", &dname);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "sub", &uri, &flags, &cancelled);
        if (r < 0)
                return r;
        params = migration_params_new_plain(NULL, dname, uri, 0, flags, &gerror);
        return finish(m, userdata, params, gerror, cookie, cancelled, error);
}

int method_finish3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) dict = NULL;
        g_autoptr(GBytes) cookie = NULL;
        uint32_t flags;
        int cancelled, r;
        GError *gerror = NULL;
        MigrationParams *params;

        r = open_call(m, NULL, NULL, ((BusService *) userdata)->config, PROTOCOL_V3_PARAMS, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = bus_message_read_vardict(m, &dict, error);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "ub", &flags, &cancelled);
        if (r < 0)
                return r;
        params = migration_params_new(dict, flags, &gerror);
        return finish(m, userdata, params, gerror, cookie, cancelled, error);
}

/* ---- Clients leaving ---- */

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (name[0] == ':' && !*new_owner)
                registry_client_vanished(userdata, name);
        return 0;
}

typedef struct {
        Registry *registry;
        char *name;
} ClientCheck;

static int on_name_has_owner(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ClientCheck *c = userdata;
        int has_owner = 1;

        /* An error answer says nothing about the client: NameOwnerChanged still watches it. */
        if (!sd_bus_message_is_method_error(reply, NULL) && sd_bus_message_read(reply, "b", &has_owner) >= 0 &&
            !has_owner) {
                g_message("The client %s that drives a migration is no longer on the bus", c->name);
                registry_client_vanished(c->registry, c->name);
        }
        g_free(c->name);
        g_free(c);
        return 0;
}

void bus_migration_watch_client(const char *name, gpointer user_data) {
        BusService *s = user_data;
        ClientCheck *c = g_new0(ClientCheck, 1);
        int r;

        c->registry = s->registry;
        c->name = g_strdup(name);
        r = sd_bus_call_method_async(s->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "NameHasOwner", on_name_has_owner, c, "s", name);
        if (r < 0) {
                g_warning("Failed to ask whether %s is on the bus: %s, ignoring", name, g_strerror(-r));
                g_free(c->name);
                g_free(c);
        }
}

int bus_migration_watch_clients(sd_bus *bus, Registry *registry) {
        return sd_bus_match_signal_async(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                         "org.freedesktop.DBus", "NameOwnerChanged",
                                         on_name_owner_changed, NULL, registry);
}

/* ---- Post-copy ---- */

int method_migrate_start_post_copy(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_run_domain_operation(m, userdata, ACTION_MIGRATE, migration_start_postcopy_async, error);
}

/* ---- Protocol 2 ---- */

int method_prepare2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        const char *dom_xml, *dname, *uri_in;
        uint64_t bandwidth;
        uint32_t flags;
        g_autoptr(GError) gerror = NULL;
        MigrationParams *params;
        int r;

        r = open_call(m, NULL, NULL, s->config, PROTOCOL_V2, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "sstsu", &dom_xml, &dname, &bandwidth, &uri_in, &flags);
        if (r < 0)
                return r;
        params = migration_params_new_plain(dom_xml, dname, uri_in, bandwidth, flags, &gerror);
        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_prepare2_async(s->registry, params, sd_bus_message_get_sender(m), on_prepared,
                                 sd_bus_message_ref(m));
        return 1;
}

static void on_finished2(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) cookie = NULL;
        g_autofree char *uuid = migration_finish_finish(result, &cookie, &error);
        g_autofree char *path = NULL;

        if (error)
                return reply_error(m, error);
        if (uuid && sd_bus_path_encode(DOMAIN_PATH_PREFIX, uuid, &path) < 0)
                g_error("Out of memory");
        reply_checked(sd_bus_reply_method_return(m, "o", path ? path : "/"));
}

int method_finish2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        const char *dname, *uri;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GError) gerror = NULL;
        MigrationParams *params;
        uint32_t flags;
        int32_t retcode;
        int r;

        r = open_call(m, NULL, NULL, s->config, PROTOCOL_V2, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "s", &dname);
        if (r >= 0)
                r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "sui", &uri, &flags, &retcode);
        if (r < 0)
                return r;
        params = migration_params_new_plain(NULL, dname, uri, 0, flags, &gerror);
        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_finish2_async(s->registry, params, retcode, on_finished2, sd_bus_message_ref(m));
        return 1;
}

static void on_performed2(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;

        if (!migration_perform2_finish(result, &error))
                return reply_error(m, error);
        reply_checked(sd_bus_reply_method_return(m, NULL));
}

int method_perform2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Domain *d = userdata;
        const char *uri, *dname;
        g_autoptr(GBytes) cookie = NULL;
        g_autoptr(GError) gerror = NULL;
        MigrationParams *params;
        uint64_t bandwidth;
        uint32_t flags;
        int r;

        r = read_bytes(m, &cookie);
        if (r >= 0)
                r = sd_bus_message_read(m, "sstu", &uri, &dname, &bandwidth, &flags);
        if (r < 0)
                return r;
        r = open_call(m, d, uri, d->registry->config, PROTOCOL_V2, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        params = migration_params_new_plain(NULL, dname, uri, bandwidth, flags, &gerror);
        if (!params)
                return bus_error_set_gerror(error, gerror);
        migration_perform2_async(d, params, cookie, sd_bus_message_get_sender(m), TRUE, on_performed2,
                                 sd_bus_message_ref(m));
        return 1;
}

gboolean bus_protocol_accepted(MdConfig *config, ProtocolMask protocol, GError **error) {
        static const struct {
                ProtocolMask mask;
                const char *name;
        } names[] = {
                { PROTOCOL_V3_PARAMS, "3-params (protocol 3 with extensible parameters)" },
                { PROTOCOL_V3, "3 (protocol 3 with plain arguments)" },
                { PROTOCOL_V2, "2" },
        };

        if (config->protocols & protocol)
                return TRUE;
        for (guint i = 0; i < G_N_ELEMENTS(names); i++)
                if (names[i].mask == protocol)
                        g_set_error(error, MD_ERROR, MD_ERROR_PROTOCOL_MISMATCH,
                                    "This host does not accept migration protocol %s; its "
                                    "[migration] protocol_versions leaves it out", names[i].name);
        return FALSE;
}
