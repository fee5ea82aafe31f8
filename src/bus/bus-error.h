/* GError (MD_ERROR) -> named bus errors, at the edge only. The one way a
 * bus error is built in the daemon: every name comes from the MD_ERROR code
 * table (md_error_to_bus_name()). */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#include "md-error.h"

/* Sets @ret from @error; returns the negative errno sd-bus gives the name,
 * as a handler returns it. */
int bus_error_set_gerror(sd_bus_error *ret, const GError *error);
/* The same for an error of the bus layer's own: @code's name, the message. */
int bus_error_setf(sd_bus_error *ret, MdError code, const char *format, ...) G_GNUC_PRINTF(3, 4);
int bus_reply_gerror(sd_bus_message *m, const GError *error);
