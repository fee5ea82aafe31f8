/* What the daemon does for a guest's peripherals before and after QEMU
 * starts: opens the taps (QEMU inherits them), chooses the ports of
 * autoport displays and the paths of guest agent sockets (both written into
 * the live definition, as libvirt shows them), finds the hugetlbfs mount of
 * <hugepages/>, and sets display passwords over the monitor. */
#pragma once

#include <glib.h>

#include "domain-def.h"
#include "md-config.h"
#include "qmp.h"

/* What preparing needs from the daemon; domain.c fills it in from its
 * DomainHost (this file sits below the domain and the registry). */
typedef struct {
        const MdConfig *config;   /* [graphics] port_min..port_max */
        const char *runtime_dir;  /* guest agent sockets */
        /* Has a guest of this daemon other than @self's the display port
         * @port in its live definition? (QEMU may not have bound it yet.) */
        gboolean (*port_taken)(int port, const DomainDef *self, gpointer user_data);
        gpointer user_data;
} DomainDevicesContext;

typedef struct {
        GArray *fds;           /* int: the open taps, handed to QEMU in this order */
        int *net_fds;          /* per live->nets entry: the fd number in QEMU, -1 for 'user' */
        guint n_nets;
        GPtrArray *tap_names;  /* char*: the names of the taps, for messages */
} DomainDevices;

/* Prepares the peripherals of @live (changing it). A missing bridge or
 * tap is MD_ERROR_UNSUPPORTED naming it; no free display port is
 * MD_ERROR_INTERNAL naming [graphics] port_min..port_max. Freeing the
 * result closes the daemon's copies of the taps. */
DomainDevices *domain_devices_prepare(const DomainDevicesContext *context, DomainDef *live, GError **error);
void domain_devices_free(DomainDevices *devices);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainDevices, domain_devices_free)

/* <memoryBacking><hugepages/> of @def: the hugetlbfs mount of this host
 * (of @config's [qemu] hugetlbfs_mount, or of the mount table; as mounted
 * now) that QEMU puts the guest's RAM on, in *@ret_path (NULL without the
 * element). No mount of the page size asked for (the default one's without
 * <page>) is MD_ERROR_UNSUPPORTED naming what there is. */
gboolean domain_devices_hugepage_path(const MdConfig *config, const DomainDef *def, char **ret_path,
                                      GError **error);

/* Queues set_password for every display of @live that has one; a failure
 * is logged (never the password): QEMU then accepts no client at all. */
void domain_devices_set_passwords(QmpClient *monitor, const DomainDef *live);

/* After a migration, once the guest runs here: QEMU announces every NIC
 * (announce-self) so that switches learn the guest's new port. Nothing
 * without NICs; a failure is logged. */
void domain_devices_announce(QmpClient *monitor, const DomainDef *live);
