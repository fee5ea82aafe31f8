/* Disks on the QEMU command line: one -drive (if=none) and one -device per
 * <disk>, with libvirt's translation of the cache modes, io, discard,
 * <readonly/> and <shareable/>. */
#include <string.h>

#include "md-error.h"
#include "qemu-command-private.h"
#include "qemu-option.h"

/* libvirt's table: what each <driver cache=...> means to QEMU. The
 * device's write-cache is what the guest is told (a volatile cache it must
 * flush, or none); cache.direct bypasses the host's page cache (O_DIRECT);
 * cache.no-flush ignores the guest's flushes. */
static const struct {
        gboolean write_cache, direct, no_flush;
} cache_modes[_DOMAIN_DISK_CACHE_MAX] = {
        [DOMAIN_DISK_CACHE_NONE] = { TRUE, TRUE, FALSE },
        [DOMAIN_DISK_CACHE_WRITETHROUGH] = { FALSE, FALSE, FALSE },
        [DOMAIN_DISK_CACHE_WRITEBACK] = { TRUE, FALSE, FALSE },
        [DOMAIN_DISK_CACHE_DIRECTSYNC] = { FALSE, TRUE, FALSE },
        [DOMAIN_DISK_CACHE_UNSAFE] = { TRUE, FALSE, TRUE },
};

static gboolean is_cdrom(const DomainDisk *disk) {
        return g_strcmp0(disk->device, "cdrom") == 0;
}

static gboolean is_q35(const DomainDef *def) {
        return def->machine && strstr(def->machine, "q35");
}

static gboolean disk_unsupported(GError **error, const DomainDisk *disk, const char *why) {
        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                    "The QEMU driver cannot start a domain with disk %s: %s", disk->target_dev, why);
        return FALSE;
}

/* What QEMU itself would refuse, or libvirt refuses, said in the domain
 * XML's terms. */
static gboolean check_disk(const DomainDisk *disk, GError **error) {
        gboolean direct = cache_modes[disk->cache].direct;

        if (g_strcmp0(disk->io, "native") == 0 && !direct)
                return disk_unsupported(error, disk, "io='native' needs cache='none' or cache='directsync'");
        /* Two writers of one qcow2 corrupt its metadata; QEMU's image locking
         * would refuse the second anyway. */
        if (disk->shareable && !disk->readonly && g_strcmp0(disk->format, "qcow2") == 0)
                return disk_unsupported(error, disk, "<shareable/> needs a raw image (type='raw'), not qcow2");
        return TRUE;
}

/* ",cache.direct=...,aio=...,discard=..." for a drive with media. */
static void append_drive_modes(GString *s, const DomainDisk *disk) {
        if (disk->cache != DOMAIN_DISK_CACHE_DEFAULT)
                g_string_append_printf(s, ",cache.direct=%s,cache.no-flush=%s",
                                       cache_modes[disk->cache].direct ? "on" : "off",
                                       cache_modes[disk->cache].no_flush ? "on" : "off");
        if (disk->io)
                g_string_append_printf(s, ",aio=%s", disk->io);
        if (disk->discard)
                g_string_append_printf(s, ",discard=%s", disk->discard);
}

static char *drive_option(const DomainDisk *disk, guint index, const char *interface) {
        GString *s = g_string_new(NULL);

        g_string_append_printf(s, "if=%s", interface);
        if (g_str_equal(interface, "none"))
                g_string_append_printf(s, ",id=disk%u", index);
        /* An empty cdrom or floppy: no media yet, so nothing to cache. */
        if (disk->source_file) {
                g_autofree char *path = qemu_option_escape(disk->source_file);

                g_string_append_printf(s, ",file=%s,format=%s", path, disk->format ? disk->format : "raw");
                append_drive_modes(s, disk);
        }
        if (disk->readonly)
                g_string_append(s, ",readonly=on");
        return g_string_free(s, FALSE);
}

/* The port of a SATA disk on q35's built-in AHCI controller (ide.0 to
 * ide.5), from its name like libvirt (sda is port 0): QEMU's own placement
 * puts every device on port 0. -1 if out of range. */
static int sata_port(const char *dev) {
        if (!g_str_has_prefix(dev, "sd") || strlen(dev) != 3 || dev[2] < 'a' || dev[2] > 'f')
                return -1;
        return dev[2] - 'a';
}

/* libvirt's default bus for a cdrom: the machine's own controller. */
static const char *default_bus(const DomainDef *def, const DomainDisk *disk) {
        if (!is_cdrom(disk))
                return "virtio";
        return is_q35(def) ? "sata" : "ide";
}

static gboolean device_option(const DomainDef *def, const DomainDisk *disk, guint index, char **ret,
                              GError **error) {
        const char *bus = disk->target_bus ? disk->target_bus : default_bus(def, disk);
        g_autoptr(GString) s = g_string_new(NULL);

        /* QEMU would put the disk on whatever IDE bus the machine has: the
         * AHCI's on q35, PIIX's on pc, where libvirt has an AHCI controller
         * of its own. Neither is what the definition says. */
        if (g_str_equal(bus, "ide") && is_q35(def))
                return disk_unsupported(error, disk, "bus 'ide' on a q35 machine (it has no IDE controller: use bus 'sata')");
        if (g_str_equal(bus, "sata") && !is_q35(def))
                return disk_unsupported(error, disk, "bus 'sata' on a machine other than q35 (use bus 'ide', or a q35 machine)");

        if (g_str_equal(bus, "virtio") && !is_cdrom(disk))
                g_string_append(s, "virtio-blk-pci");
        else if (g_str_equal(bus, "ide") || g_str_equal(bus, "sata"))
                g_string_append(s, is_cdrom(disk) ? "ide-cd" : "ide-hd");
        else {
                g_autofree char *why = is_cdrom(disk)
                        ? g_strdup_printf("a cdrom on bus '%s' (supported: ide, sata)", bus)
                        : g_strdup_printf("bus '%s' (supported: virtio, ide, sata)", bus);
                return disk_unsupported(error, disk, why);
        }
        g_string_append_printf(s, ",drive=disk%u", index);
        if (g_str_equal(bus, "sata") && is_q35(def)) {
                int port = sata_port(disk->target_dev);
                if (port < 0)
                        return disk_unsupported(error, disk, "a SATA disk on q35 must be named sda to sdf (the AHCI controller's six ports)");
                g_string_append_printf(s, ",bus=ide.%d", port);
        }
        if (disk->cache != DOMAIN_DISK_CACHE_DEFAULT && !is_cdrom(disk))
                g_string_append_printf(s, ",write-cache=%s", cache_modes[disk->cache].write_cache ? "on" : "off");
        if (disk->shareable)
                g_string_append(s, ",share-rw=on");
        *ret = g_string_free(g_steal_pointer(&s), FALSE);
        return TRUE;
}

gboolean qemu_command_add_disks(GPtrArray *argv, const DomainDef *def, GError **error) {
        for (guint i = 0; i < def->disks->len; i++) {
                const DomainDisk *disk = def->disks->pdata[i];
                char *device = NULL;

                if (!check_disk(disk, error))
                        return FALSE;
                if (g_strcmp0(disk->device, "floppy") == 0) {
                        if (!disk->source_file)
                                continue;
                        g_ptr_array_add(argv, g_strdup("-drive"));
                        g_ptr_array_add(argv, drive_option(disk, i, "floppy"));
                        continue;
                }
                if (!device_option(def, disk, i, &device, error))
                        return FALSE;
                g_ptr_array_add(argv, g_strdup("-drive"));
                g_ptr_array_add(argv, drive_option(disk, i, "none"));
                g_ptr_array_add(argv, g_strdup("-device"));
                g_ptr_array_add(argv, device);
        }
        return TRUE;
}
