/* GError (MD_ERROR) -> named bus errors, at the edge only. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

int bus_error_set_gerror(sd_bus_error *ret, const GError *error);
int bus_reply_gerror(sd_bus_message *m, const GError *error);
