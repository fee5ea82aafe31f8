/* The manager object: the host's facts, defining and finding domains. The
 * destination's phases of a migration are in bus-manager-migration.c.
 * userdata: the BusService. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "bus-internal.h"
#include "bus-migration.h"
#include "bus-variant.h"
#include "config.h"
#include "md-error.h"
#include "migration.h"

static int reply_path(sd_bus_message *m, Domain *d) {
        g_autofree char *path = bus_domain_path(d);
        return sd_bus_reply_method_return(m, "o", path);
}

static int method_define_xml(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        g_autoptr(GError) gerror = NULL;
        const char *xml;
        Domain *d;
        int r;

        r = bus_authorize(s, m, ACTION_MANAGE, NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "s", &xml);
        if (r < 0)
                return r;
        d = registry_define_xml(s->registry, xml, &gerror);
        if (!d)
                return bus_error_set_gerror(error, gerror);
        return reply_path(m, d);
}

static int method_lookup_by_name(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        g_autoptr(GError) gerror = NULL;
        const char *name;
        Domain *d;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        d = registry_lookup_by_name(s->registry, name, &gerror);
        if (!d)
                return bus_error_set_gerror(error, gerror);
        return reply_path(m, d);
}

static int method_lookup_by_uuid(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        g_autoptr(GError) gerror = NULL;
        const char *uuid;
        Domain *d;
        int r;

        r = sd_bus_message_read(m, "s", &uuid);
        if (r < 0)
                return r;
        if (!g_uuid_string_is_valid(uuid))
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS, "'%s' is not a UUID", uuid);
        d = registry_lookup_by_uuid(s->registry, uuid, &gerror);
        if (!d)
                return bus_error_set_gerror(error, gerror);
        return reply_path(m, d);
}

static int method_list_domains(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const guint known = DOMAIN_LIST_ACTIVE | DOMAIN_LIST_INACTIVE | DOMAIN_LIST_PERSISTENT |
                            DOMAIN_LIST_TRANSIENT;
        BusService *s = userdata;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GPtrArray) list = NULL;
        uint32_t flags;
        int r;

        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        if (flags & ~known)
                return bus_error_setf(error, MD_ERROR_INVALID_ARGS, "Unsupported flags 0x%x", flags & ~known);
        list = registry_list(s->registry, flags);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "o");
        for (guint i = 0; r >= 0 && i < list->len; i++) {
                g_autofree char *path = bus_domain_path(list->pdata[i]);
                r = sd_bus_message_append_basic(reply, 'o', path);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int append_protocol_versions(sd_bus_message *reply, MdConfig *c) {
        int r = sd_bus_message_open_container(reply, 'a', "u");

        if (r >= 0 && (c->protocols & (PROTOCOL_V3 | PROTOCOL_V3_PARAMS)))
                r = sd_bus_message_append(reply, "u", 3);
        if (r >= 0 && (c->protocols & PROTOCOL_V2))
                r = sd_bus_message_append(reply, "u", 2);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* Only what this build really implements is advertised: peers plan by it. */
static int append_features(sd_bus_message *reply, MdConfig *c) {
        int r = sd_bus_message_open_container(reply, 'a', "s");

        static const char *const implemented[] = {
                "offline", "change-protection", "postcopy", "parallel", "compression", "auto-converge", "tls", "peer2peer",
                /* TCG guests get RAM off QEMU's dirty-bitmap grid: live migration is exact before 9.0 too. */
                "tcg-live-safe",
        };

        if (r >= 0 && (c->protocols & PROTOCOL_V3_PARAMS))
                r = sd_bus_message_append(reply, "s", "migration-params");
        for (guint i = 0; r >= 0 && i < G_N_ELEMENTS(implemented); i++)
                r = sd_bus_message_append(reply, "s", implemented[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int property_get_protocol_versions(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply,
                                          void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        return append_protocol_versions(reply, s->config);
}

static int property_get_features(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        BusService *s = userdata;
        return append_features(reply, s->config);
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        BusService *s = userdata;

        if (g_str_equal(property, "Version"))
                return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
        if (g_str_equal(property, "Hostname"))
                return sd_bus_message_append(reply, "s", s->config->hostname);
        return sd_bus_message_append(reply, "s", s->config->host_uuid);
}

static int append_dict_entry(sd_bus_message *reply, const char *key, const char *signature,
                             int (*append)(sd_bus_message *, MdConfig *), MdConfig *c) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', signature);
        if (r >= 0)
                r = append(reply, c);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* The same facts as the properties, in one call, for peers. */
static int method_get_capabilities(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}", "version", "s", PACKAGE_VERSION,
                                          "hostname", "s", s->config->hostname,
                                          "host_uuid", "s", s->config->host_uuid);
        /* How a live TCG migration is kept exact on a QEMU before 9.0 (see migration-safety.h);
         * a guest that cannot be is refused LIVE with Error.Unsafe. */
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "tcg_live_guard", "s", "ram-off-grid");
        /* For a peer's preflight (ConnectPeer): may an incoming stream find a port? */
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "free_ports", "u", migration_free_ports(s->registry));
        if (r >= 0)
                r = append_dict_entry(reply, "protocol_versions", "au", append_protocol_versions, s->config);
        if (r >= 0)
                r = append_dict_entry(reply, "features", "as", append_features, s->config);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- ConnectPeer ---- */

static void on_peer_connected(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(BusPendingCall) call = user_data;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) preflight = call->service->p2p.connect_finish(result, &error);
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        call->service->operations_in_flight--;
        if (!preflight)
                return bus_reply_gerror_checked(call->message, error);
        r = sd_bus_message_new_method_return(call->message, &reply);
        if (r >= 0)
                r = bus_message_append_vardict(reply, preflight);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        bus_reply_checked(r);
}

/* Opens (or reuses) the kept link to a peer and answers its preflight. It
 * changes what this host holds open, so it is a migrate action, with the
 * URI as the destination detail (as MigrateToURI3's). */
static int method_connect_peer(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        const char *uri, *details[] = { "destination", NULL, NULL };
        int r;

        r = sd_bus_message_read(m, "s", &uri);
        if (r < 0)
                return r;
        details[1] = uri;
        r = bus_polkit_check(s->polkit, m, ACTION_MIGRATE, *uri ? details : NULL, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!s->p2p.connect)
                return bus_error_setf(error, MD_ERROR_UNSUPPORTED, "Peer links are not available in this daemon");
        /* The daemon does not exit on idle while it dials. */
        s->operations_in_flight++;
        s->p2p.connect(s, uri, on_peer_connected, bus_pending_call_new(s, m));
        return 1;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Hostname", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("HostUUID", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ProtocolVersions", "au", property_get_protocol_versions, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Features", "as", property_get_features, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("DefineXML", SD_BUS_ARGS("s", xml), SD_BUS_RESULT("o", domain),
                                method_define_xml, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("LookupByName", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", domain),
                                method_lookup_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("LookupByUUID", SD_BUS_ARGS("s", uuid), SD_BUS_RESULT("o", domain),
                                method_lookup_by_uuid, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListDomains", SD_BUS_ARGS("u", flags), SD_BUS_RESULT("ao", domains),
                                method_list_domains, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetCapabilities", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a{sv}", capabilities), method_get_capabilities,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ConnectPeer", SD_BUS_ARGS("s", uri), SD_BUS_RESULT("a{sv}", preflight),
                                method_connect_peer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* The Manager's first vtable; bus-manager-migration.c adds the destination's phases. */
int bus_manager_register(BusService *s) {
        return sd_bus_add_object_vtable(s->bus, NULL, MANAGER_PATH, MANAGER_INTERFACE, manager_vtable, s);
}
