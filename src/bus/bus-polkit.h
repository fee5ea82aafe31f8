/* Asynchronous polkit checks, the systemd way: the handler asks, the call
 * is suspended (the handler returns 1 without replying), and when polkit
 * answers the same message is dispatched again and finds its answer. The
 * daemon never blocks on polkit, and an answer belongs to one message only. */
#pragma once

#include <systemd/sd-bus.h>

#define ACTION_MANAGE "org.example.migration1.manage"
#define ACTION_MIGRATE "org.example.migration1.migrate"

typedef struct BusPolkit BusPolkit;

BusPolkit *bus_polkit_new(sd_bus *bus);
void bus_polkit_free(BusPolkit *polkit);
/* Calls suspended on a polkit question not answered yet. */
guint bus_polkit_count_pending(BusPolkit *polkit);

/* Returns 1 when the caller of @m may do @action (go on), 0 when the
 * question is with polkit (return 1 from the handler, it will run again),
 * or a negative errno with @error set (AccessDenied,
 * InteractiveAuthorizationRequired). @details: NULL-terminated key, value
 * pairs for polkit rules, e.g. "domain", name. Root is always allowed, as
 * in systemd's services; polkit unreachable means denied. */
/* @m is already authorized by other means (a peer's certificate checked by
 * migration-bridge): its next bus_polkit_check() answers 1 without polkit. */
void bus_polkit_preauthorize(BusPolkit *polkit, sd_bus_message *m);

int bus_polkit_check(BusPolkit *polkit, sd_bus_message *m, const char *action,
                     const char *const *details, sd_bus_error *error);
