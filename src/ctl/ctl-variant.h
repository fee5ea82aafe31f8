/* migrationctl: sd-bus message contents as GVariant, and typed look-ups in
 * a{sv} dictionaries (properties, capabilities, job statistics). */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

/* Reads the next complete value of @m (any D-Bus type but unix fds) into a
 * new, non-floating GVariant. */
int ctl_message_read_variant(sd_bus_message *m, GVariant **ret);

/* Look-ups in an a{sv} dictionary; absent keys or other types give @fallback. */
const char *ctl_dict_get_string(GVariant *dict, const char *key, const char *fallback);
gboolean ctl_dict_get_boolean(GVariant *dict, const char *key, gboolean fallback);
guint64 ctl_dict_get_uint64(GVariant *dict, const char *key, guint64 fallback);
double ctl_dict_get_double(GVariant *dict, const char *key, double fallback);

/* The value of @key rendered for humans: strings plain, arrays space-separated. */
char *ctl_dict_format_value(GVariant *dict, const char *key);
