#pragma once

#include "bus-service.h"

int bus_peer_relay_register(BusService *service);
