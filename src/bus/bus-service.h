/* The daemon's bus face: the manager object and one object per domain. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-polkit.h"
#include "registry.h"

#define BUS_NAME "org.example.Migration1"
#define MANAGER_PATH "/org/example/Migration1"
#define MANAGER_INTERFACE "org.example.Migration1.Manager"
#define DOMAIN_PATH_PREFIX "/org/example/Migration1/domain"
#define DOMAIN_INTERFACE "org.example.Migration1.Domain"

typedef struct {
        sd_bus *bus;
        Registry *registry;
        MdConfig *config;
        BusPolkit *polkit;
        /* Lifecycle calls whose operation has not replied yet: the daemon
         * does not exit on idle meanwhile. */
        guint operations_in_flight;
} BusService;

int bus_manager_register(BusService *service);
int bus_domain_register(BusService *service);

/* /org/example/Migration1/domain/<sd_bus_path_encode(uuid)> */
char *bus_domain_path(Domain *domain);

/* Authorizes the caller of @m for @action on @domain (nullable) with polkit:
 * 1 go on, 0 suspended (return 1 from the handler), <0 refused. */
int bus_authorize(sd_bus_message *m, const char *action, Domain *domain, sd_bus_error *error);

/* Keeps the bus in step with the registry (InterfacesAdded/Removed,
 * PropertiesChanged). */
extern const RegistryListener bus_registry_listener;
