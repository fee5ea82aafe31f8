/* Registers every object of the daemon's bus face in a fixed order. Above
 * the objects' files, which see only the service (bus-service.c), so that
 * the service calls none of them. */
#include "bus-internal.h"
#include "bus-objects.h"

int bus_objects_register(BusService *s) {
        int r;

        /* The order is what introspection shows: each interface's vtables in
         * the order they are added. */
        r = bus_manager_register(s);
        if (r >= 0)
                r = bus_manager_migration_register(s);
        if (r >= 0)
                r = bus_peer_relay_register(s);
        if (r >= 0)
                r = bus_object_manager_register(s);
        if (r >= 0)
                r = bus_domain_register(s);
        if (r >= 0)
                r = bus_domain_migration_register(s);
        if (r >= 0)
                r = bus_service_watch_clients(s);
        return r;
}
