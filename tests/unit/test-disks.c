/* Disks from domain XML to the QEMU command line: cdrom, <readonly/>,
 * <shareable/>, <driver cache io discard>, and what is refused. */
#include <string.h>

#include "md-error.h"
#include "qemu-command.h"

static char *domain_with(const char *machine, const char *disks) {
        return g_strdup_printf("<domain type='qemu'><name>d</name><memory unit='MiB'>64</memory>"
                               "<os><type arch='x86_64' machine='%s'>hvm</type></os>"
                               "<devices>%s</devices></domain>", machine, disks);
}

static DomainDef *parse(const char *disks, GError **error) {
        g_autofree char *xml = domain_with("pc", disks);

        return domain_def_parse(xml, -1, error);
}

static GStrv build_on(const char *machine, const char *disks, GError **error) {
        g_autofree char *xml = domain_with(machine, disks);
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, error);
        QemuCommandOptions options = { .binary = "qemu", .monitor_fd = 3 };

        g_assert_no_error(error ? *error : NULL);
        g_assert_nonnull(def);
        return qemu_command_build(def, &options, error);
}

static GStrv build(const char *disks, GError **error) {
        return build_on("pc", disks, error);
}

/* The value after the @n-th occurrence of @option, or NULL. */
static const char *nth(GStrv argv, const char *option, guint n) {
        for (guint i = 0; argv[i] && argv[i + 1]; i++)
                if (g_str_equal(argv[i], option) && n-- == 0)
                        return argv[i + 1];
        return NULL;
}

static void test_parse(void) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = parse(
                "<disk type='file' device='disk'>"
                "  <driver name='qemu' type='qcow2' cache='none' io='native' discard='unmap'/>"
                "  <source file='/srv/a.qcow2'/><target dev='vda' bus='virtio'/></disk>"
                "<disk type='file' device='disk'><driver name='qemu' type='raw' cache='default'/>"
                "  <source file='/srv/s.raw'/><target dev='vdb'/><shareable/></disk>"
                "<disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>"
                "<disk type='file' device='disk'><source file='/srv/r.raw'/><target dev='hda'/><readonly/></disk>",
                &error);
        const DomainDisk *d;

        g_assert_no_error(error);
        g_assert_cmpuint(def->disks->len, ==, 4);
        d = def->disks->pdata[0];
        g_assert_cmpint(d->cache, ==, DOMAIN_DISK_CACHE_NONE);
        g_assert_cmpstr(d->io, ==, "native");
        g_assert_cmpstr(d->discard, ==, "unmap");
        g_assert_false(d->readonly || d->shareable);
        d = def->disks->pdata[1];
        g_assert_cmpint(d->cache, ==, DOMAIN_DISK_CACHE_DEFAULT);
        g_assert_true(d->shareable);
        g_assert_cmpstr(d->target_bus, ==, "virtio");
        d = def->disks->pdata[2];
        g_assert_null(d->source_file);
        g_assert_true(d->readonly);     /* a cdrom always is */
        g_assert_cmpstr(d->device, ==, "cdrom");
        d = def->disks->pdata[3];
        g_assert_true(d->readonly);
        g_assert_cmpstr(d->target_bus, ==, "ide");
        g_assert_cmpstr(domain_disk_cache_to_string(DOMAIN_DISK_CACHE_DIRECTSYNC), ==, "directsync");
        g_assert_null(domain_disk_cache_to_string(_DOMAIN_DISK_CACHE_MAX));
}

/* Values outside the subset, text, attributes where none belong, values
 * smuggling QEMU options: refused by name, never passed on. */
static void test_hostile(void) {
        static const struct { const char *disk, *needle; int code; } cases[] = {
                { "<driver name='qemu' cache='none,aio=native'/>", "@cache", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' cache=' none'/>", "@cache", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' cache='NONE'/>", "@cache", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' cache=''/>", "@cache", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' io='native,discard=unmap'/>", "@io", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' discard='on'/>", "@discard", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' discard='unmap ignore'/>", "@discard", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' detect_zeroes='on'/>", "@detect_zeroes", MD_ERROR_UNSUPPORTED },
                { "<driver name='qemu' copy_on_read='on'/>", "@copy_on_read", MD_ERROR_UNSUPPORTED },
                { "<shareable>yes</shareable>", "must not contain text", MD_ERROR_INVALID_XML },
                { "<shareable/><shareable/>", "only once", MD_ERROR_INVALID_XML },
                { "<readonly mode='x'/>", "readonly/@mode", MD_ERROR_UNSUPPORTED },
                { "<shareable><x/></shareable>", "shareable/x", MD_ERROR_UNSUPPORTED },
                { "<transient/>", "transient", MD_ERROR_UNSUPPORTED },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *disk = g_strdup_printf("<disk type='file'><source file='/x'/>"
                                                        "<target dev='vda'/>%s</disk>", cases[i].disk);
                g_autoptr(GError) error = NULL;
                g_autoptr(DomainDef) def = parse(disk, &error);

                g_assert_null(def);
                g_assert_error(error, MD_ERROR, cases[i].code);
                if (!strstr(error->message, cases[i].needle))
                        g_error("%s: '%s' not in: %s", cases[i].disk, cases[i].needle, error->message);
        }
}

/* QEMU reads a protocol prefix in -drive file= ('fat:rw:/etc' is the host
 * directory as a writable disk, 'nbd:' a network export, 'json:' any block
 * options), and qemu-img, which Prepare runs on the path, a leading '-' as
 * an option. Refused at define; before, they reached -drive (the failure
 * shows it). */
static void test_source_not_absolute(void) {
        static const char *const hostile[] = {
                "fat:rw:/etc", "nbd:127.0.0.1:10809", "json:{\"driver\":\"null-co\"}", "-obacking_file=/etc/shadow",
                "relative.img", "./x.img", "~/x.img", " /x.img",
        };

        for (size_t i = 0; i < G_N_ELEMENTS(hostile); i++) {
                for (guint cdrom = 0; cdrom < 2; cdrom++) {
                        g_autofree char *disk = g_markup_printf_escaped("<disk type='file' device='%s'>"
                                                                        "<source file='%s'/><target dev='hdc'/></disk>",
                                                                        cdrom ? "cdrom" : "disk", hostile[i]);
                        g_autoptr(GError) error = NULL;
                        g_autoptr(DomainDef) def = parse(disk, &error);

                        if (def) {
                                QemuCommandOptions options = { .binary = "qemu", .monitor_fd = 3 };
                                g_auto(GStrv) argv = qemu_command_build(def, &options, NULL);

                                g_error("disk file '%s' accepted: -drive %s", hostile[i], nth(argv, "-drive", 0));
                        }
                        g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_XML);
                        g_assert_nonnull(strstr(error->message, "source/@file"));
                        g_assert_nonnull(strstr(error->message, "not an absolute path"));
                }
        }
}

static void test_cache_modes(void) {
        static const struct { const char *mode, *drive, *device; } cases[] = {
                { "none", ",cache.direct=on,cache.no-flush=off", ",write-cache=on" },
                { "writethrough", ",cache.direct=off,cache.no-flush=off", ",write-cache=off" },
                { "writeback", ",cache.direct=off,cache.no-flush=off", ",write-cache=on" },
                { "directsync", ",cache.direct=on,cache.no-flush=off", ",write-cache=off" },
                { "unsafe", ",cache.direct=off,cache.no-flush=on", ",write-cache=on" },
                { "default", "", "" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *disk = g_strdup_printf(
                        "<disk type='file'><driver name='qemu' type='raw' cache='%s'/>"
                        "<source file='/srv/a,b.img'/><target dev='vda'/></disk>", cases[i].mode);
                g_autofree char *drive = g_strdup_printf("if=none,id=disk0,file=/srv/a,,b.img,format=raw%s",
                                                         cases[i].drive);
                g_autofree char *device = g_strdup_printf("virtio-blk-pci,drive=disk0%s", cases[i].device);
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) argv = build(disk, &error);

                g_assert_no_error(error);
                g_assert_cmpstr(nth(argv, "-drive", 0), ==, drive);
                g_assert_cmpstr(nth(argv, "-device", 0), ==, device);
        }
}

static void test_io_discard_readonly_shareable(void) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build(
                "<disk type='file'><driver name='qemu' type='raw' cache='directsync' io='native' discard='unmap'/>"
                "<source file='/srv/a.img'/><target dev='vda'/><shareable/></disk>"
                "<disk type='file'><driver name='qemu' type='qcow2' io='io_uring' discard='ignore'/>"
                "<source file='/srv/b.qcow2'/><target dev='vdb'/><readonly/><shareable/></disk>",
                &error);

        g_assert_no_error(error);
        g_assert_cmpstr(nth(argv, "-drive", 0), ==,
                        "if=none,id=disk0,file=/srv/a.img,format=raw,cache.direct=on,cache.no-flush=off,"
                        "aio=native,discard=unmap");
        g_assert_cmpstr(nth(argv, "-device", 0), ==, "virtio-blk-pci,drive=disk0,write-cache=off,share-rw=on");
        /* A read-only qcow2 may be shared: nobody writes its metadata. */
        g_assert_cmpstr(nth(argv, "-drive", 1), ==,
                        "if=none,id=disk1,file=/srv/b.qcow2,format=qcow2,aio=io_uring,discard=ignore,readonly=on");
        g_assert_cmpstr(nth(argv, "-device", 1), ==, "virtio-blk-pci,drive=disk1,share-rw=on");
}

static void test_cdrom(void) {
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build(
                "<disk type='file' device='cdrom'><driver name='qemu' type='raw' cache='none'/>"
                "<target dev='hdc' bus='ide'/><readonly/></disk>"
                "<disk type='file' device='cdrom'><source file='/srv/boot.iso'/><target dev='hdd'/></disk>",
                &error);
        g_auto(GStrv) q35 = NULL;

        g_assert_no_error(error);
        /* Empty: no media, so no file and nothing to cache. */
        g_assert_cmpstr(nth(argv, "-drive", 0), ==, "if=none,id=disk0,readonly=on");
        g_assert_cmpstr(nth(argv, "-device", 0), ==, "ide-cd,drive=disk0");
        g_assert_cmpstr(nth(argv, "-drive", 1), ==, "if=none,id=disk1,file=/srv/boot.iso,format=raw,readonly=on");
        g_assert_cmpstr(nth(argv, "-device", 1), ==, "ide-cd,drive=disk1");

        /* virt-install's q35 guest: a SATA cdrom next to a SATA disk, each on its own AHCI port. */
        q35 = build_on("q35",
                       "<disk type='file' device='disk'><source file='/srv/a.img'/><target dev='sda' bus='sata'/></disk>"
                       "<disk type='file' device='cdrom'><target dev='sdb' bus='sata'/></disk>", &error);
        g_assert_no_error(error);
        g_assert_cmpstr(nth(q35, "-device", 0), ==, "ide-hd,drive=disk0,bus=ide.0");
        g_assert_cmpstr(nth(q35, "-device", 1), ==, "ide-cd,drive=disk1,bus=ide.1");
}

static void test_refused_at_start(void) {
        static const struct { const char *machine, *disk, *needle; } cases[] = {
                { "pc", "<disk type='file'><driver name='qemu' io='native'/><source file='/x'/><target dev='vda'/></disk>",
                  "io='native' needs cache='none' or cache='directsync'" },
                { "pc", "<disk type='file'><driver name='qemu' cache='writeback' io='native'/><source file='/x'/>"
                        "<target dev='vda'/></disk>", "disk vda" },
                { "pc", "<disk type='file'><driver name='qemu' type='qcow2'/><source file='/x'/><target dev='vda'/>"
                        "<shareable/></disk>", "<shareable/> needs a raw image" },
                { "pc", "<disk type='file' device='cdrom'><target dev='vda' bus='virtio'/></disk>",
                  "a cdrom on bus 'virtio' (supported: ide, sata)" },
                { "pc", "<disk type='file' device='cdrom'><target dev='sda'/></disk>", "a cdrom on bus 'scsi'" },
                { "pc", "<disk type='file'><source file='/x'/><target dev='sda' bus='usb'/></disk>", "bus 'usb'" },
                { "q35", "<disk type='file'><source file='/x'/><target dev='sdg' bus='sata'/></disk>", "sda to sdf" },
                { "q35", "<disk type='file'><source file='/x'/><target dev='vda' bus='sata'/></disk>", "sda to sdf" },
                { "q35", "<disk type='file'><source file='/x'/><target dev='hda'/></disk>", "bus 'ide' on a q35" },
                { "q35", "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>", "bus 'ide' on a q35" },
                { "pc", "<disk type='file'><source file='/x'/><target dev='sda' bus='sata'/></disk>", "bus 'sata' on a machine" },
                { "pc-i440fx-7.2", "<disk type='file' device='cdrom'><target dev='sdb' bus='sata'/></disk>", "bus 'sata'" },
                /* Without a bus (and a name that implies none), SATA on q35, like libvirt. */
                { "q35", "<disk type='file' device='cdrom'><target dev='cd0'/></disk>", "sda to sdf" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) argv = build_on(cases[i].machine, cases[i].disk, &error);

                g_assert_null(argv);
                g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
                if (!strstr(error->message, cases[i].needle))
                        g_error("%s: '%s' not in: %s", cases[i].disk, cases[i].needle, error->message);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/disks/parse", test_parse);
        g_test_add_func("/disks/hostile", test_hostile);
        g_test_add_func("/disks/source-not-absolute", test_source_not_absolute);
        g_test_add_func("/disks/cache-modes", test_cache_modes);
        g_test_add_func("/disks/io-discard-readonly-shareable", test_io_discard_readonly_shareable);
        g_test_add_func("/disks/cdrom", test_cdrom);
        g_test_add_func("/disks/refused-at-start", test_refused_at_start);
        return g_test_run();
}
