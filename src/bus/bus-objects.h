/* The daemon's bus face as a whole: every object of it, registered at once. */
#pragma once

#include "bus-service.h"

/* Exports the manager (with ObjectManager and PeerRelay) and the domains,
 * and watches clients leaving the bus. */
int bus_objects_register(BusService *service);
