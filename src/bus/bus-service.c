/* The service object: what every handler of the daemon's bus face shares.
 * It owns authorization (polkit), counts the calls still under way, and
 * watches the clients that drive migration jobs. */
#define G_LOG_DOMAIN "migrationd"

#include "bus-error.h"
#include "bus-internal.h"
#include "md-error.h"
#include "migration-jobs.h"

BusService *bus_service_new(sd_bus *bus, Registry *registry, MdConfig *config) {
        BusService *s = g_new0(BusService, 1);

        s->bus = sd_bus_ref(bus);
        s->registry = registry;
        s->config = config;
        s->polkit = bus_polkit_new(bus);
        return s;
}

void bus_service_free(BusService *s) {
        if (!s)
                return;
        g_clear_pointer(&s->polkit, bus_polkit_free);
        s->bus = sd_bus_unref(s->bus);
        g_free(s);
}

void bus_service_set_p2p(BusService *s, gpointer peer_pool, const BusP2POps *ops) {
        s->peer_pool = peer_pool;
        s->p2p = *ops;
}

MdConfig *bus_service_get_config(BusService *s) {
        return s->config;
}

gpointer bus_service_get_peer_pool(BusService *s) {
        return s->peer_pool;
}

const char *bus_service_busy_reason(BusService *s) {
        if (s->operations_in_flight > 0)
                return "a lifecycle operation or ConnectPeer";
        if (bus_polkit_count_pending(s->polkit) > 0)
                return "a call waiting for polkit";
        return NULL;
}

BusService *bus_service_of_call(sd_bus_message *m) {
        sd_bus_slot *slot = sd_bus_get_current_slot(sd_bus_message_get_bus(m));

        g_assert(slot);
        return sd_bus_slot_get_userdata(slot);
}

/* ---- Authorization ---- */

int bus_authorize(BusService *s, sd_bus_message *m, const char *action, Domain *d, sd_bus_error *error) {
        const char *details[] = { "domain", d ? domain_name(d) : NULL, NULL };

        return bus_polkit_check(s->polkit, m, action, d ? details : NULL, error);
}

/* The message is read before the check: an answered check dispatches it
 * again, rewound. */
int bus_authorize_migration(BusService *s, sd_bus_message *m, Domain *d, const char *destination,
                            sd_bus_error *error) {
        const char *details[] = { "domain", domain_name(d), "destination", destination, NULL };

        if (!destination || !*destination)
                details[2] = NULL;
        return bus_polkit_check(s->polkit, m, ACTION_MIGRATE, details, error);
}

/* ---- Calls answered later ---- */

BusPendingCall *bus_pending_call_new(BusService *s, sd_bus_message *m) {
        BusPendingCall *call = g_new0(BusPendingCall, 1);

        call->service = s;
        call->message = sd_bus_message_ref(m);
        return call;
}

void bus_pending_call_free(BusPendingCall *call) {
        if (!call)
                return;
        sd_bus_message_unref(call->message);
        g_free(call);
}

static void on_operation_done(GObject *source, GAsyncResult *result, gpointer user_data) {
        g_autoptr(BusPendingCall) call = user_data;
        g_autoptr(GError) error = NULL;
        int r;

        call->service->operations_in_flight--;
        /* The domain may be gone by now (a transient one that stopped):
         * only the result and the message are used here. */
        if (domain_operation_finish(NULL, result, &error))
                r = sd_bus_reply_method_return(call->message, NULL);
        else
                r = bus_reply_gerror(call->message, error);
        if (r < 0)
                g_warning("Failed to send reply: %s, ignoring", g_strerror(-r));
}

/* Replies when the operation has finished; the loop serves others meanwhile. */
int bus_run_domain_operation(sd_bus_message *m, Domain *d, const char *action, DomainOperation operation,
                             sd_bus_error *error) {
        BusService *s = bus_service_of_call(m);
        uint32_t flags;
        int r;

        r = bus_authorize(s, m, action, d, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(m, "u", &flags);
        if (r < 0)
                return r;
        s->operations_in_flight++;
        operation(d, flags, on_operation_done, bus_pending_call_new(s, m));
        return 1;
}

/* ---- Clients leaving ---- */

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusService *s = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (name[0] == ':' && !*new_owner)
                migration_jobs_client_vanished(s->registry, name);
        return 0;
}

typedef struct {
        Registry *registry;
        char *name;
} ClientCheck;

static void client_check_free(ClientCheck *c) {
        g_free(c->name);
        g_free(c);
}

static int on_name_has_owner(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        ClientCheck *c = userdata;
        int has_owner = 1;

        /* An error answer says nothing about the client: NameOwnerChanged still watches it. */
        if (!sd_bus_message_is_method_error(reply, NULL) && sd_bus_message_read(reply, "b", &has_owner) >= 0 &&
            !has_owner) {
                g_message("The client %s that drives a migration is no longer on the bus", c->name);
                migration_jobs_client_vanished(c->registry, c->name);
        }
        client_check_free(c);
        return 0;
}

void bus_service_watch_client(const char *name, gpointer user_data) {
        BusService *s = user_data;
        ClientCheck *c = g_new0(ClientCheck, 1);
        int r;

        c->registry = s->registry;
        c->name = g_strdup(name);
        r = sd_bus_call_method_async(s->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "NameHasOwner", on_name_has_owner, c, "s", name);
        if (r < 0) {
                g_warning("Failed to ask whether %s is on the bus: %s, ignoring", name, g_strerror(-r));
                client_check_free(c);
        }
}

/* A managed job must not outlive the client that drives it. */
int bus_service_watch_clients(BusService *s) {
        return sd_bus_match_signal_async(s->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                         "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, NULL,
                                         s);
}
