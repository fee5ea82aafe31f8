/* a{sv} between sd-bus messages and GVariant, for the methods that take
 * typed parameters (…Params, MigrateToURI3) and the signals and replies that
 * carry statistics. All marshalling is sd-bus' own. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* At most this many entries are read from one dictionary. */
#define BUS_VARDICT_MAX 64

/* Reads the next argument of @m, which must be an a{sv}, into a new
 * (non-floating) GVariant of type a{sv} in *@ret, keeping the order of the
 * entries. Values may be of a basic type (y b n q i u x t d s o g) or an
 * array of strings (as) or of uint32 (au); any other value type, a repeated key or more than
 * BUS_VARDICT_MAX entries set InvalidArgs in @error naming the key and
 * return its negative errno. Other failures (not an a{sv}, a broken
 * message) return a negative errno from sd-bus without touching @error,
 * as sd_bus_message_read() does. Returns 0 on success; @m is then
 * positioned after the dictionary. */
int bus_message_read_vardict(sd_bus_message *m, GVariant **ret, sd_bus_error *error);

/* Appends @dict (a{sv}) to @m as one a{sv} argument. Values of every type
 * D-Bus can carry are appended: basic types, arrays, dictionaries (a nested
 * a{sv} too), structures and variants. Maybe types, handles and the empty
 * structure have no D-Bus form: -EINVAL. On failure @m is left half built;
 * discard it. Returns 0 or a negative errno. */
int bus_message_append_vardict(sd_bus_message *m, GVariant *dict);
