/* The names on the bus, shared by the daemon's objects and migration-bridge. */
#pragma once

#define BUS_NAME "org.example.Migration1"
#define MANAGER_PATH "/org/example/Migration1"
#define MANAGER_INTERFACE "org.example.Migration1.Manager"
#define DOMAIN_PATH_PREFIX "/org/example/Migration1/domain"
#define DOMAIN_INTERFACE "org.example.Migration1.Domain"
/* The destination's phases as migration-bridge relays them from peers. */
#define PEER_RELAY_INTERFACE "org.example.Migration1.PeerRelay"
/* Owned by migration-bridge: only its user may call PeerRelay. */
#define BRIDGE_BUS_NAME "org.example.Migration1.Bridge"
