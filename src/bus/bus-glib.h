/* sd-bus on the GLib main loop: one loop serves D-Bus, QMP sockets, pidfds
 * and timers, with no threads. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_creds, sd_bus_creds_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, sd_bus_error_free)

typedef void (*BusDisconnectedFunc)(gpointer user_data);

/* Returns the source's id in the default main context. @on_disconnect runs
 * once when the connection is gone. */
guint bus_attach_glib(sd_bus *bus, BusDisconnectedFunc on_disconnect, gpointer user_data);
