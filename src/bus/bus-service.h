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
/* ConnectPeer: the preflight of a peer, an a{sv}. */
typedef void (*BusPeerConnectFunc)(BusService *service, const char *uri, GAsyncReadyCallback callback,
                                   gpointer user_data);
typedef GVariant *(*BusPeerConnectFinishFunc)(GAsyncResult *result, GError **error);

typedef struct {
        BusP2PMigrateFunc migrate;
        BusP2PFinishFunc finish;
        BusPeerConnectFunc connect;
        BusPeerConnectFinishFunc connect_finish;
} BusP2POps;

/* Takes a reference on @bus; @registry and @config must outlive the service. */
BusService *bus_service_new(sd_bus *bus, Registry *registry, MdConfig *config);
void bus_service_free(BusService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BusService, bus_service_free)

/* Peer-to-peer migration and ConnectPeer: @peer_pool (the PeerPool* of
 * this host's kept peer links) and the functions that run them (@ops is
 * copied). Without, PEER2PEER and ConnectPeer are refused as unsupported. */
void bus_service_set_p2p(BusService *service, gpointer peer_pool, const BusP2POps *ops);
MdConfig *bus_service_get_config(BusService *service);
/* PeerPool*, NULL before bus_service_set_p2p. */
gpointer bus_service_get_peer_pool(BusService *service);

/* What keeps the service busy (a lifecycle operation, a call waiting for
 * polkit), or NULL. */
const char *bus_service_busy_reason(BusService *service);

/* /org/example/Migration1/domain/<sd_bus_path_encode(uuid)> */
char *bus_domain_path(Domain *domain);

/* Keeps the bus in step with the registry (InterfacesAdded/Removed,
 * PropertiesChanged, the job's signals); user data: the BusService. */
extern const RegistryListener bus_registry_listener;
