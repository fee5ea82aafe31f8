/* The daemon's bus face: the service object that owns it (the connection,
 * the registry it shows, authorization), and its objects, the manager and
 * one object per domain. Every vtable is registered with the service as its
 * userdata; no global. What the bus files share among themselves is in
 * bus-internal.h. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "migration-params.h"
#include "registry.h"

typedef struct BusService BusService;

/* Peer-to-peer migration lives above the bus layer (it needs the peer link);
 * the daemon plugs it in here. Completes when the migration has ended. */
typedef void (*BusP2PMigrateFunc)(BusService *service, Domain *domain, const char *dconnuri,
                                  MigrationParams *params /* consumed */, GAsyncReadyCallback callback,
                                  gpointer user_data);
typedef gboolean (*BusP2PFinishFunc)(GAsyncResult *result, GError **error);


/* Takes a reference on @bus; @registry and @config must outlive the service. */
BusService *bus_service_new(sd_bus *bus, Registry *registry, MdConfig *config);
void bus_service_free(BusService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BusService, bus_service_free)

/* Peer-to-peer migration: @peer_tls (PeerTls*, nullable) and the functions
 * that run it. Without, PEER2PEER is refused as unsupported. */
void bus_service_set_p2p(BusService *service, gpointer peer_tls, BusP2PMigrateFunc migrate,
                         BusP2PFinishFunc finish);
MdConfig *bus_service_get_config(BusService *service);
/* PeerTls*, NULL without [tls]. */
gpointer bus_service_get_peer_tls(BusService *service);

/* What keeps the service busy (a lifecycle operation, a call waiting for
 * polkit), or NULL. */
const char *bus_service_busy_reason(BusService *service);

/* /org/example/Migration1/domain/<sd_bus_path_encode(uuid)> */
char *bus_domain_path(Domain *domain);

/* Keeps the bus in step with the registry (InterfacesAdded/Removed,
 * PropertiesChanged, the job's signals); user data: the BusService. */
extern const RegistryListener bus_registry_listener;
