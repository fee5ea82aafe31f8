/* One peer of the bridge: the Manager methods a peer host may call, exported
 * on its link and relayed to the local migrationd over a bus connection of
 * its own. GetCapabilities goes to the Manager as it is; the phase methods
 * go to PeerRelay with the peer's certificate DN as a first argument, so
 * that the daemon authorizes them by that identity. Nothing is marshalled
 * by hand: arguments and replies are copied message to message. */
#define G_LOG_DOMAIN "migration-bridge"

#include "bridge-relay.h"
#include "bus-destination-phases.h"
#include "bus-error.h"
#include "bus-glib.h"
#include "bus-names.h"

/* Finish waits for the guest to run on the destination: minutes, not seconds. */
#define RELAY_TIMEOUT_USEC (30ULL * 60 * G_USEC_PER_SEC)

struct BridgePeer {
        Bridge *bridge;
        PeerLink *link;
        sd_bus *local;           /* this peer's own system bus connection */
        guint local_source;
        sd_bus_slot *object;
        GHashTable *calls;       /* RelayCall* in flight */
};

typedef struct {
        BridgePeer *peer;
        sd_bus_message *request; /* from the peer, to be answered */
        sd_bus_slot *slot;       /* the relayed call on the local bus */
} RelayCall;

static void relay_call_free(RelayCall *call) {
        call->slot = sd_bus_slot_unref(call->slot);
        sd_bus_message_unref(call->request);
        g_free(call);
}

static int on_relay_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        RelayCall *call = userdata;
        BridgePeer *p = call->peer;
        g_autoptr(sd_bus_message) ret = NULL;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        if (e) {
                g_debug("%s of %s: %s", sd_bus_message_get_member(call->request), peer_link_get_peer_dn(p->link),
                        e->name);
                r = sd_bus_reply_method_error(call->request, e);
        } else {
                r = sd_bus_message_new_method_return(call->request, &ret);
                if (r >= 0)
                        r = sd_bus_message_copy(ret, reply, 1);
                if (r >= 0)
                        r = sd_bus_message_send(ret);
        }
        if (r < 0)
                g_warning("Failed to relay the reply of %s to %s: %s, ignoring",
                          sd_bus_message_get_member(call->request), peer_link_get_peer_address(p->link),
                          g_strerror(-r));
        g_hash_table_remove(p->calls, call);
        return 0;
}

/* Every exported method: the same member on the local daemon. */
static int method_relay(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BridgePeer *p = userdata;
        const char *member = sd_bus_message_get_member(m);
        gboolean capabilities = g_str_equal(member, "GetCapabilities");
        g_autoptr(sd_bus_message) call = NULL;
        RelayCall *relay;
        int r;

        if (g_hash_table_size(p->calls) >= BRIDGE_MAX_CALLS_PER_PEER)
                return bus_error_setf(error, MD_ERROR_LIMITS_EXCEEDED,
                                      "Too many calls in flight from this peer (at most %d); wait for a reply",
                                      BRIDGE_MAX_CALLS_PER_PEER);
        r = sd_bus_message_new_method_call(p->local, &call, BUS_NAME, MANAGER_PATH,
                                           capabilities ? MANAGER_INTERFACE : PEER_RELAY_INTERFACE, member);
        if (r >= 0 && !capabilities)
                r = sd_bus_message_append(call, "s", peer_link_get_peer_dn(p->link));
        if (r >= 0)
                r = sd_bus_message_copy(call, m, 1);
        if (r < 0)
                return r;

        relay = g_new0(RelayCall, 1);
        relay->peer = p;
        relay->request = sd_bus_message_ref(m);
        r = sd_bus_call_async(p->local, &relay->slot, call, on_relay_reply, relay, RELAY_TIMEOUT_USEC);
        if (r < 0) {
                relay_call_free(relay);
                return r;
        }
        g_hash_table_add(p->calls, relay);
        g_debug("Relaying %s of %s", member, peer_link_get_peer_dn(p->link));
        return 1;
}

#define RELAYED_PHASE(member, name, in, in_names, out, out_names) \
        BUS_PHASE_METHOD(member, in, in_names, out, out_names, method_relay),

/* Only what a peer host needs; sd-bus answers UnknownMethod/UnknownObject
 * for everything else. */
static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetCapabilities", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", capabilities),
                                method_relay, SD_BUS_VTABLE_UNPRIVILEGED),
        BUS_DESTINATION_PHASES(RELAYED_PHASE)
        BUS_ABORT_INCOMING(RELAYED_PHASE)
        SD_BUS_VTABLE_END,
};

static void peer_remove(BridgePeer *p, const char *why) {
        bridge_log_peer(G_LOG_LEVEL_MESSAGE, peer_link_get_peer_address(p->link), peer_link_get_peer_dn(p->link),
                        "Peer %s (%s) is gone: %s", peer_link_get_peer_address(p->link),
                        peer_link_get_peer_dn(p->link), why);
        g_hash_table_remove(p->bridge->peers, p);
}

static void on_link_closed(PeerLink *link, const GError *error, gpointer user_data) {
        peer_remove(user_data, error ? error->message : "the link closed");
}

static void on_local_disconnected(gpointer user_data) {
        BridgePeer *p = user_data;

        p->local_source = 0;     /* the source removes itself */
        peer_remove(p, "its connection to the system bus broke");
}

BridgePeer *bridge_peer_new(Bridge *b, PeerLink *link, GError **error) {
        sd_bus *local = NULL;
        int r;

        /* Its own connection: when the peer goes, the daemon sees a client
         * leave the bus and cancels what that client drove. */
        r = sd_bus_open_system(&local);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r),
                            "Failed to connect the peer to the system bus: %s", g_strerror(-r));
                peer_link_free(link);
                return NULL;
        }
        return bridge_peer_new_with_bus(b, link, local, error);
}

BridgePeer *bridge_peer_new_with_bus(Bridge *b, PeerLink *link, sd_bus *local, GError **error) {
        BridgePeer *p = g_new0(BridgePeer, 1);
        g_autofree char *description = g_strdup_printf("peer %s", peer_link_get_peer_dn(link));
        int r;

        p->bridge = b;
        p->link = link;
        p->local = local;
        p->calls = g_hash_table_new_full(NULL, NULL, (GDestroyNotify) relay_call_free, NULL);
        (void) sd_bus_set_description(p->local, description);
        r = sd_bus_add_object_vtable(peer_link_get_bus(link), &p->object, MANAGER_PATH, MANAGER_INTERFACE,
                                     manager_vtable, p);
        if (r < 0) {
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-r), "Failed to export the peer's methods: %s",
                            g_strerror(-r));
                bridge_peer_free(p);
                return NULL;
        }
        p->local_source = bus_attach_glib(p->local, on_local_disconnected, p);
        peer_link_set_keepalive(link, b->config->keepalive_interval_s * 1000, b->config->keepalive_timeout_s * 1000);
        peer_link_set_closed_func(link, on_link_closed, p);
        return p;
}

void bridge_peer_free(BridgePeer *p) {
        if (!p)
                return;
        /* Pending calls first: their callbacks must not run any more. */
        g_clear_pointer(&p->calls, g_hash_table_unref);
        p->object = sd_bus_slot_unref(p->object);
        g_clear_pointer(&p->link, peer_link_free);
        g_clear_handle_id(&p->local_source, g_source_remove);
        if (p->local)
                p->local = sd_bus_close_unref(p->local);
        g_free(p);
}
