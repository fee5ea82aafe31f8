/* The disks of a domain definition: <disk type='file'> read from <devices>
 * into DomainDisk (source, format, target, <readonly/>, <shareable/> and
 * the <driver> cache, io and discard modes). The schema has already refused
 * values outside the subset; what is checked here is what depends on more
 * than one attribute. */
#include <string.h>

#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-schema.h"
#include "domain-xml.h"
#include "i18n.h"

static const char *const disk_cache_table[_DOMAIN_DISK_CACHE_MAX] = {
        [DOMAIN_DISK_CACHE_DEFAULT] = "default",
        [DOMAIN_DISK_CACHE_NONE] = "none",
        [DOMAIN_DISK_CACHE_WRITETHROUGH] = "writethrough",
        [DOMAIN_DISK_CACHE_WRITEBACK] = "writeback",
        [DOMAIN_DISK_CACHE_DIRECTSYNC] = "directsync",
        [DOMAIN_DISK_CACHE_UNSAFE] = "unsafe",
};

const char *domain_disk_cache_to_string(DomainDiskCache cache) {
        if ((unsigned) cache >= _DOMAIN_DISK_CACHE_MAX)
                return NULL;
        return disk_cache_table[cache];
}

static DomainDiskCache disk_cache_from_string(const char *s) {
        if (!s)
                return DOMAIN_DISK_CACHE_DEFAULT;
        for (int i = 0; i < _DOMAIN_DISK_CACHE_MAX; i++)
                if (strcmp(disk_cache_table[i], s) == 0)
                        return i;
        return _DOMAIN_DISK_CACHE_INVALID;
}

void domain_disk_free(DomainDisk *disk) {
        g_free(disk->device);
        g_free(disk->source_file);
        g_free(disk->format);
        g_free(disk->target_dev);
        g_free(disk->target_bus);
        g_free(disk->io);
        g_free(disk->discard);
        g_free(disk);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainDisk, domain_disk_free)

static const char *disk_bus_from_dev(const char *dev) {
        static const struct { const char *prefix, *bus; } table[] = {
                { "vd", "virtio" }, { "hd", "ide" }, { "sd", "scsi" }, { "fd", "fdc" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
                if (g_str_has_prefix(dev, table[i].prefix))
                        return table[i].bus;
        return NULL;
}

/* <driver name='qemu' type=... cache=... io=... discard=...>. */
static gboolean extract_driver(DomainDisk *disk, xmlNode *driver, GError **error) {
        g_autofree char *cache = domain_xml_prop(driver, "cache");

        disk->format = domain_xml_prop(driver, "type");
        disk->io = domain_xml_prop(driver, "io");
        disk->discard = domain_xml_prop(driver, "discard");
        disk->cache = disk_cache_from_string(cache);
        /* The schema lists the modes; this only guards the table against it. */
        if (disk->cache == _DOMAIN_DISK_CACHE_INVALID)
                return domain_xml_invalid(error, driver, _("/domain/devices/disk/driver/@cache of disk %s is not a cache mode"),
                                          disk->target_dev);
        return TRUE;
}

gboolean domain_def_extract_disk(DomainDef *def, xmlNode *node, GError **error) {
        g_autofree char *type = domain_xml_prop(node, "type");
        xmlNode *source = domain_xml_child(node, "source");
        xmlNode *target = domain_xml_child(node, "target");
        g_autoptr(DomainDisk) disk = g_new0(DomainDisk, 1);

        disk->target_dev = domain_xml_prop(target, "dev");
        if (!disk->target_dev || !*disk->target_dev)
                return domain_xml_invalid(error, target ?: node, _("/domain/devices/disk/target/@dev is missing"));

        /* Block and network disks stay in the document only; see
         * domain_def_has_unsupported_runtime(). */
        if (type && strcmp(type, "file") != 0)
                return TRUE;

        disk->device = domain_xml_prop(node, "device") ?: g_strdup("disk");
        if (source && (xmlHasProp(source, BAD_CAST "dev") || xmlHasProp(source, BAD_CAST "protocol") ||
                       xmlHasProp(source, BAD_CAST "name")))
                return domain_xml_invalid(error, source, _("/domain/devices/disk/source of a disk of type 'file' takes only @file"));
        disk->source_file = domain_xml_prop(source, "file");
        if (disk->source_file && !*disk->source_file)
                return domain_xml_invalid(error, source, _("/domain/devices/disk/source/@file must not be empty"));
        /* QEMU (-drive file=, qemu-img) reads a prefix such as 'fat:rw:',
         * 'nbd:' or 'json:' as a protocol with options, and qemu-img a
         * leading '-' as an option: none of them starts with '/'. */
        if (disk->source_file && !g_path_is_absolute(disk->source_file)) {
                g_autofree char *q = domain_schema_quote(disk->source_file);
                return domain_xml_invalid(error, source, _("/domain/devices/disk/source/@file '%s' of disk %s is not an absolute path"),
                                          q, disk->target_dev);
        }
        /* Only removable media may be empty. */
        if (!disk->source_file && strcmp(disk->device, "disk") == 0)
                return domain_xml_invalid(error, node, _("/domain/devices/disk/source/@file is missing for disk %s"),
                                          disk->target_dev);
        if (!extract_driver(disk, domain_xml_child(node, "driver"), error))
                return FALSE;
        disk->target_bus = domain_xml_prop(target, "bus") ?: g_strdup(disk_bus_from_dev(disk->target_dev));
        /* Like libvirt, a cdrom is read-only whether or not it says so. */
        disk->readonly = domain_xml_child(node, "readonly") || strcmp(disk->device, "cdrom") == 0;
        disk->shareable = domain_xml_child(node, "shareable") != NULL;

        g_ptr_array_add(def->disks, g_steal_pointer(&disk));
        return TRUE;
}
