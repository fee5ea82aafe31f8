/* migration-bridge: the network face of migrationd. Terminates mutual TLS
 * from peer hosts and relays their peer-facing calls onto the local bus,
 * each peer on its own bus connection. The bridge's state and limits, and
 * the relay of one peer (bridge-relay.c); bridge.c, the program, sits above
 * and uses them, the relay never calls it. */
#pragma once

#include <gio/gio.h>
#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "md-config.h"
#include "peer-link.h"

/* Resources a peer can make us allocate are bounded. */
#define BRIDGE_MAX_PEERS 64
#define BRIDGE_MAX_HANDSHAKES 16
#define BRIDGE_MAX_CALLS_PER_PEER 16

typedef struct {
        GMainLoop *loop;
        MdConfig *config;
        PeerTls *tls;
        GSocketAddress *listen_address;  /* [bridge] listen, unless systemd passes sockets */
        sd_bus *bus;             /* owns BRIDGE_BUS_NAME */
        GSocketService *service;
        GHashTable *peers;       /* BridgePeer* → itself, freed on removal */
        guint handshakes;        /* TLS handshakes in progress */
        int exit_code;
} Bridge;

typedef struct BridgePeer BridgePeer;

/* A peer that passed the TLS checks: its own system bus connection, and the
 * relayed Manager methods exported on its link. Removes itself from
 * bridge->peers when the link or its bus connection goes away. Takes @link
 * (also on failure). with_bus: the peer's calls go to @local (taken)
 * instead of a new system bus connection; the fuzz target makes one. */
BridgePeer *bridge_peer_new(Bridge *bridge, PeerLink *link, GError **error);
BridgePeer *bridge_peer_new_with_bus(Bridge *bridge, PeerLink *link, sd_bus *local, GError **error);
void bridge_peer_free(BridgePeer *peer);

/* Structured log line about one peer (PEER_ADDRESS and PEER_DN fields). */
#define bridge_log_peer(level, address, dn, ...)                                              \
        g_log_structured(G_LOG_DOMAIN, level, "PEER_ADDRESS", (address), "PEER_DN", (dn) ? (dn) : "", \
                         "MESSAGE", __VA_ARGS__)
