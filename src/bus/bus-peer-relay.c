/* org.example.Migration1.PeerRelay: the peer-facing phases as migration-bridge
 * relays them from another host. Each call carries the peer's certificate DN
 * first; the caller must be the bridge (the user owning
 * org.example.Migration1.Bridge), and the peer's identity — checked by the
 * bridge against [bridge] allowed_peers — authorizes it instead of polkit.
 * Each peer reaches us on its own bus connection, so a peer that goes away
 * is a client that left the bus: the jobs it drove are cancelled. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-destination-phases.h"
#include "bus-error.h"
#include "bus-migration.h"
#include "md-error.h"
#include "migration-job.h"
#include "migration.h"

static int euid_of(sd_bus_creds *creds, uid_t *ret) {
        return sd_bus_creds_get_euid(creds, ret);
}

/* Only the bridge may speak for a peer: a local caller cannot pretend. */
static int check_bridge(sd_bus_message *m, sd_bus_error *error) {
        g_autoptr(sd_bus_creds) caller = NULL, bridge = NULL;
        uid_t caller_uid, bridge_uid;

        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &caller) < 0 || euid_of(caller, &caller_uid) < 0)
                return bus_error_setf(error, MD_ERROR_ACCESS_DENIED, "Cannot tell who is calling");
        if (sd_bus_get_name_creds(sd_bus_message_get_bus(m), BRIDGE_BUS_NAME, SD_BUS_CREDS_EUID, &bridge) < 0 ||
            euid_of(bridge, &bridge_uid) < 0)
                return bus_error_setf(error, MD_ERROR_ACCESS_DENIED,
                                      "No migration-bridge on this host; peer calls come only through it");
        if (caller_uid != bridge_uid)
                return bus_error_setf(error, MD_ERROR_ACCESS_DENIED,
                                      "Only migration-bridge may relay calls from peer hosts");
        return 1;
}

static int relay(sd_bus_message *m, void *userdata, sd_bus_error *error, sd_bus_message_handler_t method) {
        BusService *s = userdata;
        const char *peer;
        int r;

        r = check_bridge(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &peer);
        if (r < 0)
                return r;
        g_message("%s from peer '%s' through migration-bridge", sd_bus_message_get_member(m), peer);
        bus_polkit_preauthorize(s->polkit, m);
        return method(m, userdata, error);
}

static int relay_prepare3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return relay(m, userdata, error, method_prepare3);
}

static int relay_prepare3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return relay(m, userdata, error, method_prepare3_params);
}

static int relay_finish3(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return relay(m, userdata, error, method_finish3);
}

static int relay_finish3_params(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return relay(m, userdata, error, method_finish3_params);
}

static int relay_prepare2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return relay(m, userdata, error, method_prepare2);
}

static int relay_finish2(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return relay(m, userdata, error, method_finish2_from_peer);
}

static void on_incoming_aborted(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(sd_bus_message) m = user_data;
        g_autoptr(GError) error = NULL;
        int r;

        if (migration_abort_finish(result, &error))
                r = sd_bus_reply_method_return(m, NULL);
        else
                r = bus_reply_gerror(m, error);
        if (r < 0)
                g_warning("Failed to send reply: %s, ignoring", g_strerror(-r));
}

/* The source's clean-up of an incoming job it gave up on. */
static int relay_abort_incoming(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        g_autoptr(GError) gerror = NULL;
        const char *peer, *name;
        Domain *d;
        int r;

        r = check_bridge(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "ss", &peer, &name);
        if (r < 0)
                return r;
        g_message("AbortIncoming of '%s' from peer '%s' through migration-bridge", name, peer);
        d = registry_lookup_by_name(s->registry, name, &gerror);
        if (!d)
                return bus_error_set_gerror(error, gerror);
        /* Only the job this connection (this peer's link) drives: the name
         * alone could hit another peer's, or a local client's, migration.
         * Told apart from none at all by no one: the peer learns nothing. */
        if (!d->job || d->job->type != JOB_TYPE_MIGRATION_IN ||
            g_strcmp0(d->job->owner, sd_bus_message_get_sender(m)) != 0)
                return bus_error_setf(error, MD_ERROR_OPERATION_INVALID,
                                      "Domain '%s' has no incoming migration from this peer to abort", name);
        migration_abort_async(d, 0, on_incoming_aborted, sd_bus_message_ref(m));
        return 1;
}

#define PEER_RELAY_PHASE(member, name, in, in_names, out, out_names) \
        BUS_PHASE_METHOD_FROM_PEER(member, in, in_names, out, out_names, relay_##name),

static const sd_bus_vtable peer_relay_vtable[] = {
        SD_BUS_VTABLE_START(0),
        BUS_DESTINATION_PHASES(PEER_RELAY_PHASE)
        BUS_ABORT_INCOMING(PEER_RELAY_PHASE)
        SD_BUS_VTABLE_END,
};

int bus_peer_relay_register(BusService *s) {
        return sd_bus_add_object_vtable(s->bus, NULL, MANAGER_PATH, PEER_RELAY_INTERFACE, peer_relay_vtable, s);
}
