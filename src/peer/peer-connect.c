/* ConnectPeer: the kept link to a peer opened ahead of time, and the
 * preflight a client shows before it starts a migration there: what the
 * peer is, which protocol the two hosts would use (chosen here for
 * peer-migrate.c too), and what would stop a migration (no common
 * protocol, the same host, no free port). */
#define G_LOG_DOMAIN "migrationd"

#include "bus-glib.h"
#include "bus-service.h"
#include "bus-variant.h"
#include "md-error.h"
#include "peer-migrate.h"
#include "peer-pool.h"

#define CAPABILITIES_TIMEOUT_USEC (30 * G_USEC_PER_SEC)

typedef struct {
        MdConfig *config;
        PeerPool *pool;
        char *uri;
        PeerLease *lease;
        sd_bus_slot *slot;
        gboolean redialed;
} Connect;

static void connect_free(Connect *c) {
        sd_bus_slot_unref(c->slot);
        peer_lease_free(c->lease);
        g_free(c->uri);
        g_free(c);
}

/* ---- the protocol both hosts accept (also for peer-migrate.c) ---- */

static gboolean strv_has(GVariant *dict, const char *key, const char *value) {
        g_autoptr(GVariant) v = g_variant_lookup_value(dict, key, G_VARIANT_TYPE_STRING_ARRAY);
        g_autofree const char **strv = v ? g_variant_get_strv(v, NULL) : NULL;

        return strv && g_strv_contains(strv, value);
}

static gboolean au_has(GVariant *dict, const char *key, guint32 value) {
        g_autoptr(GVariant) v = g_variant_lookup_value(dict, key, G_VARIANT_TYPE("au"));
        gsize n = 0;
        const guint32 *a = v ? g_variant_get_fixed_array(v, &n, sizeof(guint32)) : NULL;

        for (gsize i = 0; i < n; i++)
                if (a[i] == value)
                        return TRUE;
        return FALSE;
}

PeerProtocolForm peer_protocol_choose(const MdConfig *config, GVariant *caps) {
        if ((config->protocols & PROTOCOL_V3_PARAMS) && strv_has(caps, "features", "migration-params"))
                return PEER_FORM_V3_PARAMS;
        if ((config->protocols & PROTOCOL_V3) && au_has(caps, "protocol_versions", 3))
                return PEER_FORM_V3;
        if ((config->protocols & PROTOCOL_V2) && au_has(caps, "protocol_versions", 2))
                return PEER_FORM_V2;
        return PEER_FORM_NONE;
}

const char *peer_protocol_name(PeerProtocolForm form) {
        switch (form) {
        case PEER_FORM_V3_PARAMS:
                return "3-params";
        case PEER_FORM_V3:
                return "3";
        case PEER_FORM_V2:
                return "2";
        default:
                return "";
        }
}

/* ---- the preflight ---- */

static const char *lookup_string(GVariant *caps, const char *key) {
        const char *value = NULL;

        return g_variant_lookup(caps, key, "&s", &value) ? value : "";
}

static void add_problems(GVariantDict *dict, Connect *c, GVariant *caps, PeerProtocolForm form) {
        g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
        const char *uuid = lookup_string(caps, "host_uuid");
        guint32 free_ports;

        if (form == PEER_FORM_NONE)
                g_ptr_array_add(problems, g_strdup("This host and the peer share no migration protocol; "
                                                   "compare their [migration] protocol_versions"));
        if (g_ascii_strcasecmp(uuid, c->config->host_uuid) == 0)
                g_ptr_array_add(problems, g_strdup_printf("The peer has this host's UUID (%s): a migration "
                                                          "there would be refused as SameHost", uuid));
        if (g_variant_lookup(caps, "free_ports", "u", &free_ports) && free_ports == 0)
                g_ptr_array_add(problems, g_strdup("The peer has no free port for an incoming stream in its "
                                                   "[migration] port_min..port_max"));
        g_variant_dict_insert(dict, "usable", "b", problems->len == 0);
        g_ptr_array_add(problems, NULL);
        g_variant_dict_insert_value(dict, "problems", g_variant_new_strv((const char *const *) problems->pdata, -1));
}

/* The peer's facts as it told them, ours about the link, and the verdict. */
static GVariant *preflight(Connect *c, GVariant *caps) {
        /* Only with the documented type: a peer's other values are not passed on. */
        static const struct {
                const char *key, *type;
        } copied[] = { { "version", "s" },           { "hostname", "s" }, { "host_uuid", "s" },
                       { "protocol_versions", "au" }, { "features", "as" }, { "free_ports", "u" } };
        PeerLink *link = peer_lease_get_link(c->lease);
        PeerProtocolForm form = peer_protocol_choose(c->config, caps);
        const char *uuid = lookup_string(caps, "host_uuid");
        g_auto(GVariantDict) dict;

        g_variant_dict_init(&dict, NULL);
        g_variant_dict_insert(&dict, "uri", "s", c->uri);
        g_variant_dict_insert(&dict, "peer_dn", "s", peer_link_get_peer_dn(link) ? peer_link_get_peer_dn(link) : "");
        g_variant_dict_insert(&dict, "peer_address", "s", peer_link_get_peer_address(link));
        g_variant_dict_insert(&dict, "link_reused", "b", peer_lease_get_reused(c->lease));
        g_variant_dict_insert(&dict, "links_dialed", "u", peer_pool_get_dials(c->pool));
        for (size_t i = 0; i < G_N_ELEMENTS(copied); i++) {
                g_autoptr(GVariant) v = g_variant_lookup_value(caps, copied[i].key,
                                                               G_VARIANT_TYPE(copied[i].type));
                if (v)
                        g_variant_dict_insert_value(&dict, copied[i].key, v);
        }
        g_variant_dict_insert(&dict, "protocol", "s", peer_protocol_name(form));
        g_variant_dict_insert(&dict, "same_host", "b", g_ascii_strcasecmp(uuid, c->config->host_uuid) == 0);
        add_problems(&dict, c, caps, form);
        return g_variant_ref_sink(g_variant_dict_end(&dict));
}

static void acquire(GTask *task);

static int on_capabilities(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        g_autoptr(GTask) task = userdata;
        Connect *c = g_task_get_task_data(task);
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        sd_bus_error read_error = SD_BUS_ERROR_NULL;
        g_autoptr(GVariant) caps = NULL;

        c->slot = sd_bus_slot_unref(c->slot);
        /* A kept link that broke unnoticed: once more, on a new one. */
        if (e && !c->redialed && peer_lease_get_reused(c->lease) &&
            sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED)) {
                c->redialed = TRUE;
                g_clear_pointer(&c->lease, peer_lease_free);
                acquire(g_steal_pointer(&task));
                return 0;
        }
        if (e) {
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_PEER_UNREACHABLE,
                                        "GetCapabilities on the peer %s failed: %s", c->uri,
                                        e->message ? e->message : e->name);
                return 0;
        }
        if (bus_message_read_vardict(reply, &caps, &read_error) < 0) {
                sd_bus_error_free(&read_error);
                g_task_return_new_error(task, MD_ERROR, MD_ERROR_PROTOCOL_MISMATCH,
                                        "The capabilities of the peer %s are malformed", c->uri);
                return 0;
        }
        g_task_return_pointer(task, preflight(c, caps), (GDestroyNotify) g_variant_unref);
        return 0;
}

static void on_acquired(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        Connect *c = g_task_get_task_data(task);
        g_autoptr(sd_bus_message) m = NULL;
        GError *error = NULL;
        sd_bus *bus;
        int r;

        c->lease = peer_pool_acquire_finish(result, &error);
        if (!c->lease)
                return g_task_return_error(task, error);
        bus = peer_link_get_bus(peer_lease_get_link(c->lease));
        r = sd_bus_message_new_method_call(bus, &m, NULL, MANAGER_PATH, MANAGER_INTERFACE, "GetCapabilities");
        if (r >= 0)
                r = sd_bus_call_async(bus, &c->slot, m, on_capabilities, task, CAPABILITIES_TIMEOUT_USEC);
        if (r < 0)
                return g_task_return_new_error(task, MD_ERROR, MD_ERROR_PEER_UNREACHABLE,
                                               "Failed to send GetCapabilities to the peer %s: %s", c->uri,
                                               g_strerror(-r));
        g_steal_pointer(&task);   /* the call's now */
}

static void acquire(GTask *task) {
        Connect *c = g_task_get_task_data(task);

        peer_pool_acquire_async(c->pool, c->uri, on_acquired, task);
}

void peer_connect_async(BusService *s, const char *uri, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(NULL, NULL, callback, user_data);
        Connect *c = g_new0(Connect, 1);

        c->config = bus_service_get_config(s);
        c->pool = bus_service_get_peer_pool(s);
        c->uri = g_strdup(uri);
        g_task_set_task_data(task, c, (GDestroyNotify) connect_free);
        acquire(task);
}

GVariant *peer_connect_finish(GAsyncResult *result, GError **error) {
        return g_task_propagate_pointer(G_TASK(result), error);
}
