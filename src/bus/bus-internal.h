/* What the files of the bus layer share: the service's state, authorization,
 * calls answered later, and the objects' registration. Only src/bus includes
 * this; the daemon and the peer code see bus-service.h. */
#pragma once

#include "bus-glib.h"
#include "bus-polkit.h"
#include "bus-service.h"

struct BusService {
        sd_bus *bus;
        Registry *registry;
        MdConfig *config;
        BusPolkit *polkit;
        gpointer peer_pool;                /* PeerPool* */
        BusP2POps p2p;                     /* .migrate NULL: peer-to-peer unavailable */
        /* Lifecycle calls whose operation has not replied yet: the daemon
         * does not exit on idle meanwhile. */
        guint operations_in_flight;
};

/* The service of the vtable whose handler runs now: domain handlers get the
 * domain their object stands for as userdata, and the service from here.
 * Only valid while a handler of the service's vtables runs. */
BusService *bus_service_of_call(sd_bus_message *m);

/* Authorizes the caller of @m for @action on @domain (nullable) with polkit:
 * 1 go on, 0 suspended (return 1 from the handler), <0 refused. */
int bus_authorize(BusService *service, sd_bus_message *m, const char *action, Domain *domain,
                  sd_bus_error *error);
/* polkit rules may grant migrations per destination too. */
int bus_authorize_migration(BusService *service, sd_bus_message *m, Domain *domain, const char *destination,
                            sd_bus_error *error);

/* A call answered later: the message and the service it came to. */
typedef struct {
        BusService *service;
        sd_bus_message *message;
} BusPendingCall;

BusPendingCall *bus_pending_call_new(BusService *service, sd_bus_message *m);
void bus_pending_call_free(BusPendingCall *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BusPendingCall, bus_pending_call_free)

/* A Domain method taking `u flags` that runs @operation (any operation whose
 * result is a GTask boolean) after authorizing @action; replies when it ends. */
typedef void (*DomainOperation)(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
int bus_run_domain_operation(sd_bus_message *m, Domain *domain, const char *action, DomainOperation operation,
                             sd_bus_error *error);

/* The objects, registered by bus_objects_register() (bus-objects.c). */
int bus_manager_register(BusService *service);
int bus_manager_migration_register(BusService *service);
int bus_domain_register(BusService *service);
int bus_domain_migration_register(BusService *service);
int bus_peer_relay_register(BusService *service);
/* ObjectManager on the Manager (bus-object-manager.c). */
int bus_object_manager_register(BusService *service);

/* The Domain interface's properties and lifecycle methods (bus-domain.c). */
extern const sd_bus_vtable bus_domain_vtable[];

/* The domain vtables' object: the Domain of a path under DOMAIN_PATH_PREFIX. */
int bus_domain_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **ret_found,
                           sd_bus_error *error);

/* A managed job must not outlive the client that drives it: follows
 * NameOwnerChanged. Registered last, after the objects. */
int bus_service_watch_clients(BusService *service);

/* Asks the bus whether the client @name is still on it; if it is not, its
 * jobs are abandoned now (its NameOwnerChanged came before its job, or
 * while this daemon was down). @user_data is the BusService. */
void bus_service_watch_client(const char *name, gpointer user_data);
