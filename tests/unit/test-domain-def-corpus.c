/* libvirt's own test definitions (MD_SHARED_DATA_DIR): the plain x86
 * guests load and survive the round trip, the rest are refused for a
 * reason we know; and the quirks of libvirt's XML. */
#include <string.h>

#include "domain-def-test.h"
#include "md-error.h"

/* The plain x86 guests of /work/shared/data/README.md. */
static const char *const plain_x86[] = {
        "boot-cdrom", "boot-floppy", "boot-floppy-q35", "boot-menu-enable-with-timeout", "boot-multi",
        "boot-network", "clock-localtime", "clock-utc", "console-compat", "console-compat-auto",
        "console-compat-chardev", "console-virtio", "console-virtio-many", "cpu-host-model",
        "cpu-minimum1", "cpu-strict1", "cpu-topology2", "cputune", "disk-aio", "disk-cache", "disk-cdrom",
        "disk-floppy", "disk-network-nbd", "disk-virtio", "eoi-disabled", "hugepages-default", "hyperv",
        "kvm-features", "kvm-features-off", "kvm-pit-delay", "kvmclock", "memory-hotplug-nonuma",
        "minimal-msg-timestamp", "minimal-no-memory", "misc-acpi", "misc-no-reboot", "os-firmware-efi",
        "pc-i440fx-acpi-root-hotplug-disable", "q35-default-devices-only", "q35-pm-disable",
        "qemuxml2argv-minimal", "reboot-timeout-enabled", "serial-file-chardev", "serial-file-log",
        "serial-many-chardev", "serial-pty-chardev", "serial-tcp-telnet-chardev",
        "serial-unix-chardev", "smp", "smp-dies", "x86-kvm-32-on-64",
        /* With the peripherals (interface, graphics, video, channel, rng, tablet, metadata). */
        "bios", "q35", "x86_64-pc-graphics", "x86_64-pc-headless", "x86_64-q35-graphics",
        "x86_64-q35-headless",
};

/* What a refused corpus file may be refused for: features migrationd does
 * not implement. A refusal naming anything else fails the test, so a file
 * that uses only supported devices cannot be refused unnoticed. */
static const char *const known_unsupported[] = {
        "/@arch=", "/domain/seclabel", "/domain/cpu/numa", "/domain/numatune", "/domain/idmap",
        "/domain/launchSecurity", "/domain/launch-security", "/domain/memoryBacking/source",
        "/domain/devices/hostdev", "/domain/devices/tpm", "/domain/devices/interface/@type='vhostuser'",
        "/domain/devices/disk/boot", "/domain/devices/channel/address", "/domain/devices/sound",
        "/domain/devices/redirdev", "/domain/devices/graphics/image",
        "/domain/devices/channel/@type='spicevmc'",
};

static gboolean refused_for_known_reason(const char *message) {
        for (size_t i = 0; i < G_N_ELEMENTS(known_unsupported); i++)
                if (strstr(message, known_unsupported[i]))
                        return TRUE;
        return FALSE;
}

static gboolean is_plain(const char *file) {
        for (size_t i = 0; i < G_N_ELEMENTS(plain_x86); i++) {
                g_autofree char *name = g_strconcat(plain_x86[i], ".xml", NULL);
                if (strcmp(name, file) == 0)
                        return TRUE;
        }
        return FALSE;
}

static void test_libvirt_corpus(void) {
        g_autofree char *dir_path = data_path("MD_SHARED_DATA_DIR", "libvirt-domains", NULL);
        g_autoptr(GDir) dir = NULL;
        const char *entry;
        guint plain = 0, other = 0, refused = 0, refused_x86 = 0, not_startable = 0, for_setting = 0;

        G_STATIC_ASSERT(G_N_ELEMENTS(plain_x86) == 57);
        if (!dir_path || !g_file_test(dir_path, G_FILE_TEST_IS_DIR)) {
                g_test_skip("libvirt test corpus not found (MD_SHARED_DATA_DIR)");
                return;
        }
        dir = g_dir_open(dir_path, 0, NULL);
        g_assert_nonnull(dir);

        while ((entry = g_dir_read_name(dir))) {
                g_autofree char *path = g_build_filename(dir_path, entry, NULL);
                g_autofree char *xml = NULL;
                g_autoptr(GError) error = NULL;
                g_autoptr(DomainDef) def = NULL;
                gsize len;

                if (!g_str_has_suffix(entry, ".xml"))
                        continue;
                g_assert_true(g_file_get_contents(path, &xml, &len, NULL));
                def = domain_def_parse(xml, len, &error);
                if (def) {
                        g_autofree char *what = NULL;

                        if (domain_def_has_unsupported_runtime(def, &what)) {
                                g_test_message("%s: accepted, not startable: %s", entry, what);
                                not_startable++;
                                /* Rather than a block disk or a tcp chardev. */
                                if (!strstr(what, "/@type='"))
                                        for_setting++;
                        }
                }

                if (is_plain(entry)) {
                        if (!def)
                                g_error("Plain x86 guest %s refused: %s", entry, error->message);
                        g_assert_cmpstr(def->arch, !=, NULL);
                        assert_round_trip(xml);
                        plain++;
                        continue;
                }
                other++;
                if (def) {
                        assert_round_trip(xml);
                        continue;
                }
                refused++;
                g_assert_true(g_error_matches(error, MD_ERROR, MD_ERROR_UNSUPPORTED) ||
                              g_error_matches(error, MD_ERROR, MD_ERROR_INVALID_XML));
                g_assert_cmpstr(error->message, !=, "");
                if (!strstr(error->message, "/domain") && !strstr(error->message, "line"))
                        g_error("%s: message names neither element nor line: %s", entry, error->message);
                if (!refused_for_known_reason(error->message))
                        g_error("%s refused for a reason not known to be unsupported: %s", entry, error->message);
                if (!strstr(error->message, "/@arch="))
                        refused_x86++;
                g_test_message("%s: %s", entry, error->message);
        }
        g_assert_cmpuint(plain, ==, G_N_ELEMENTS(plain_x86));
        g_test_message("%u plain guests parsed, %u others (%u refused)", plain, other, refused);
        /* The figure issue 12 tracks: x86 guests of the corpus accepted. */
        g_test_message("x86 acceptance: %u of %u (%u%%)", plain + other - refused,
                       plain + other - refused + refused_x86,
                       100 * (plain + other - refused) / (plain + other - refused + refused_x86));
        /* Of those, what Start refuses (domain_def_has_unsupported_runtime()). */
        g_test_message("x86 startable: %u of %u (%u refused for a setting, the others for a device type)",
                       plain + other - refused - not_startable, plain + other - refused, for_setting);
}

/* The quirks the corpus README points out. */
static void test_libvirt_quirks(void) {
        g_autofree char *dir_path = data_path("MD_SHARED_DATA_DIR", "libvirt-domains", NULL);
        static const char *const files[] = { "minimal-no-memory.xml", "x86-kvm-32-on-64.xml",
                                             "cpu-topology2.xml", "serial-tcp-telnet-chardev.xml" };
        DomainDef *defs[G_N_ELEMENTS(files)] = {};

        if (!dir_path || !g_file_test(dir_path, G_FILE_TEST_IS_DIR)) {
                g_test_skip("libvirt test corpus not found (MD_SHARED_DATA_DIR)");
                return;
        }
        for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
                g_autofree char *path = g_build_filename(dir_path, files[i], NULL);
                g_autofree char *xml = NULL;

                g_assert_true(g_file_get_contents(path, &xml, NULL, NULL));
                defs[i] = parse_ok(xml);
        }
        g_assert_cmpuint(defs[0]->memory_kib, ==, 0);
        g_assert_cmpuint(defs[1]->vcpus, ==, 1);
        g_assert_null(defs[1]->machine);
        g_assert_cmpuint(defs[1]->memory_kib, ==, 4194304);
        g_assert_cmpuint(defs[2]->vcpus, ==, 6);
        g_assert_true(domain_def_has_unsupported_runtime(defs[3], NULL));
        for (size_t i = 0; i < G_N_ELEMENTS(files); i++)
                domain_def_free(defs[i]);
}

void domain_def_corpus_add_tests(void) {
        g_test_add_func("/domain-def/libvirt-corpus", test_libvirt_corpus);
        g_test_add_func("/domain-def/libvirt-quirks", test_libvirt_quirks);
}
