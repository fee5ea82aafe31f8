/* The daemon's bus face: the manager object and one object per domain. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "bus-polkit.h"
#include "migration-params.h"
#include "registry.h"

typedef struct BusService BusService;

/* Peer-to-peer migration lives above the bus layer (it needs the peer link);
 * the daemon plugs it in here. Completes when the migration has ended. */
typedef void (*BusP2PMigrateFunc)(BusService *service, Domain *domain, const char *dconnuri,
                                  MigrationParams *params /* consumed */, GAsyncReadyCallback callback,
                                  gpointer user_data);
typedef gboolean (*BusP2PFinishFunc)(GAsyncResult *result, GError **error);

struct BusService {
        sd_bus *bus;
        Registry *registry;
        MdConfig *config;
        BusPolkit *polkit;
        gpointer peer_tls;                 /* PeerTls*, NULL without [tls] */
        BusP2PMigrateFunc p2p_migrate;     /* NULL: peer-to-peer unavailable */
        BusP2PFinishFunc p2p_finish;
        /* Lifecycle calls whose operation has not replied yet: the daemon
         * does not exit on idle meanwhile. */
        guint operations_in_flight;
};

int bus_manager_register(BusService *service);
int bus_domain_register(BusService *service);

/* /org/example/Migration1/domain/<sd_bus_path_encode(uuid)> */
char *bus_domain_path(Domain *domain);

/* The daemon's one bus face. */
BusService *bus_service_get(void);

/* A Domain method taking `u flags` that runs @operation (any operation whose
 * result is a GTask boolean) after authorizing @action; replies when it ends. */
typedef void (*DomainOperation)(Domain *domain, guint flags, GAsyncReadyCallback callback, gpointer user_data);
int bus_run_domain_operation(sd_bus_message *m, Domain *domain, const char *action, DomainOperation operation,
                             sd_bus_error *error);

/* Authorizes the caller of @m for @action on @domain (nullable) with polkit:
 * 1 go on, 0 suspended (return 1 from the handler), <0 refused. */
int bus_authorize(sd_bus_message *m, const char *action, Domain *domain, sd_bus_error *error);
int bus_authorize_migration(sd_bus_message *m, Domain *domain, const char *destination, sd_bus_error *error);

/* Keeps the bus in step with the registry (InterfacesAdded/Removed,
 * PropertiesChanged). */
extern const RegistryListener bus_registry_listener;
