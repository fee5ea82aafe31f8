/* migrationctl: talking to migrationd over sd-bus. */
#pragma once

#include <glib.h>
#include <stdarg.h>
#include <systemd/sd-bus.h>

/* g_autoptr() for sd_bus, sd_bus_message, sd_bus_slot; g_auto() for sd_bus_error */
#include "bus-glib.h"

#define MIGRATION1_SERVICE "org.example.Migration1"
#define MIGRATION1_MANAGER_PATH "/org/example/Migration1"
#define MIGRATION1_MANAGER_INTERFACE "org.example.Migration1.Manager"
#define MIGRATION1_DOMAIN_INTERFACE "org.example.Migration1.Domain"
#define MIGRATION1_ERROR_NO_SUCH_DOMAIN "org.example.Migration1.Error.NoSuchDomain"

/* The daemon replies late to calls that wait for QEMU (Start boots a guest). */
#define CTL_CALL_TIMEOUT_USEC (UINT64_C(120) * G_USEC_PER_SEC)

/* Connects to the bus at @address, or to the system bus when it is NULL
 * (which honours DBUS_SYSTEM_BUS_ADDRESS). */
int ctl_bus_open(const char *address, gboolean allow_interactive_authorization, sd_bus **ret_bus);

/* Calls @member on migrationd's object @path; @types and the varargs are the
 * input arguments as for sd_bus_message_append(). On failure @error says why. */
int ctl_call(sd_bus *bus, const char *path, const char *interface, const char *member,
             sd_bus_error *error, sd_bus_message **ret_reply, const char *types, ...);
int ctl_callv(sd_bus *bus, uint64_t timeout_usec, const char *path, const char *interface,
              const char *member, sd_bus_error *error, sd_bus_message **ret_reply,
              const char *types, va_list ap);

/* All properties of @interface on @path, as an a{sv} dictionary. */
int ctl_get_all_properties(sd_bus *bus, const char *path, const char *interface,
                           sd_bus_error *error, GVariant **ret_properties);

/* The human-readable reason of a failure: the bus error's message, or the errno text. */
const char *ctl_error_message(const sd_bus_error *error, int r);

/* Prints "<formatted prefix>: <reason>" on stderr and returns @r. */
int ctl_log_error(int r, const sd_bus_error *error, const char *format, ...) G_GNUC_PRINTF(3, 4);

/* The object path of the domain called @name_or_uuid: looked up by name, then
 * by UUID when it looks like one. */
int ctl_lookup_domain(sd_bus *bus, const char *name_or_uuid, sd_bus_error *error, char **ret_path);

/* Whether @error says that an object went away (e.g. undefined meanwhile). */
gboolean ctl_error_is_vanished_object(const sd_bus_error *error);
