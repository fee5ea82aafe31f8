/* Tap devices for guest NICs: created by the daemon and handed to QEMU as
 * an fd, like libvirt does. A tap is not persistent: it goes when its last
 * fd is closed, that is when QEMU goes (or the daemon, before handing it on). */
#pragma once

#include <glib.h>

/* Creates a tap (named "mdtapN" by the kernel), gives it @guest_mac with
 * the first octet 0xfe (so that the bridge never takes the guest's address
 * as its own), attaches it to the Linux bridge @bridge and brings it up.
 * Returns the tap's fd (close-on-exec) and its name in @ret_name, or -1
 * with MD_ERROR_UNSUPPORTED when @bridge is not a bridge on this host, else
 * MD_ERROR_INTERNAL. */
int tap_device_create_on_bridge(const char *bridge, const char *guest_mac, char **ret_name, GError **error);

/* Opens the existing tap @name (an interface of type 'ethernet'). */
int tap_device_open(const char *name, GError **error);
