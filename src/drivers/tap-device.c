#define G_LOG_DOMAIN "migrationd"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "md-error.h"
#include "tap-device.h"

#define TAP_NAME_TEMPLATE "mdtap%d"

static int tap_open(const char *name, GError **error) {
        struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

        if (fd < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, "Failed to open /dev/net/tun: %s",
                            g_strerror(errno));
                return -1;
        }
        g_strlcpy(ifr.ifr_name, name, sizeof ifr.ifr_name);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
                int e = errno;
                close(fd);
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, "Failed to open tap device %s: %s", name,
                            g_strerror(e));
                return -1;
        }
        return fd;
}

int tap_device_open(const char *name, GError **error) {
        g_autofree char *tun_flags = g_strdup_printf("/sys/class/net/%s/tun_flags", name);

        /* TUNSETIFF would create a missing tap: 'ethernet' names an existing one. */
        if (!g_file_test(tun_flags, G_FILE_TEST_EXISTS)) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            "The tap device '%s' of an interface of type 'ethernet' does not exist on this host",
                            name);
                return -1;
        }
        return tap_open(name, error);
}

static gboolean ctl_ioctl(int sock, unsigned long request, struct ifreq *ifr, const char *what, GError **error) {
        if (ioctl(sock, request, ifr) == 0)
                return TRUE;
        g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, "Failed to %s: %s", what, g_strerror(errno));
        return FALSE;
}

/* MAC, bridge port, link up: the steps after the tap exists. */
static gboolean tap_setup(int sock, const char *tap, const char *bridge, const char *guest_mac, GError **error) {
        struct ifreq ifr = {};
        unsigned int octet[6];
        int index = (int) if_nametoindex(tap);

        if (sscanf(guest_mac, "%2x:%2x:%2x:%2x:%2x:%2x", &octet[0], &octet[1], &octet[2], &octet[3],
                   &octet[4], &octet[5]) != 6) {
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, "Invalid MAC address %s", guest_mac);
                return FALSE;
        }
        g_strlcpy(ifr.ifr_name, tap, sizeof ifr.ifr_name);
        ifr.ifr_hwaddr.sa_family = 1;   /* ARPHRD_ETHER */
        ifr.ifr_hwaddr.sa_data[0] = (char) 0xfe;
        for (int i = 1; i < 6; i++)
                ifr.ifr_hwaddr.sa_data[i] = (char) octet[i];
        if (!ctl_ioctl(sock, SIOCSIFHWADDR, &ifr, "set the tap's MAC address", error))
                return FALSE;

        memset(&ifr, 0, sizeof ifr);
        g_strlcpy(ifr.ifr_name, bridge, sizeof ifr.ifr_name);
        ifr.ifr_ifindex = index;
        if (index == 0 || !ctl_ioctl(sock, SIOCBRADDIF, &ifr, "attach the tap to its bridge", error))
                return FALSE;

        memset(&ifr, 0, sizeof ifr);
        g_strlcpy(ifr.ifr_name, tap, sizeof ifr.ifr_name);
        if (!ctl_ioctl(sock, SIOCGIFFLAGS, &ifr, "read the tap's flags", error))
                return FALSE;
        ifr.ifr_flags |= IFF_UP;
        return ctl_ioctl(sock, SIOCSIFFLAGS, &ifr, "bring the tap up", error);
}

int tap_device_create_on_bridge(const char *bridge, const char *guest_mac, char **ret_name, GError **error) {
        g_autofree char *bridge_dir = g_strdup_printf("/sys/class/net/%s/bridge", bridge);
        struct ifreq ifr = {};
        int fd, sock;
        gboolean ok;

        if (!g_file_test(bridge_dir, G_FILE_TEST_IS_DIR)) {
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            "The bridge '%s' of an interface of type 'bridge' does not exist on this host", bridge);
                return -1;
        }
        fd = tap_open(TAP_NAME_TEMPLATE, error);
        if (fd < 0)
                return -1;
        /* The name the kernel gave it. */
        if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, "Failed to read the tap's name: %s", g_strerror(errno));
                close(fd);
                return -1;
        }
        sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ok = sock >= 0 && tap_setup(sock, ifr.ifr_name, bridge, guest_mac, error);
        if (sock < 0)
                g_set_error(error, MD_ERROR, MD_ERROR_INTERNAL, "Failed to open a control socket: %s", g_strerror(errno));
        if (sock >= 0)
                close(sock);
        if (!ok) {
                close(fd);      /* the tap goes with it */
                return -1;
        }
        g_debug("Tap %s attached to bridge %s", ifr.ifr_name, bridge);
        if (ret_name)
                *ret_name = g_strdup(ifr.ifr_name);
        return fd;
}
