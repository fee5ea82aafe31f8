#pragma once

#include "bus-service.h"

#define PEER_RELAY_INTERFACE "org.example.Migration1.PeerRelay"
#define BRIDGE_BUS_NAME "org.example.Migration1.Bridge"

int bus_peer_relay_register(BusService *service);
