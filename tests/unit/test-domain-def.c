/* Unit tests of the domain XML module: extraction, canonical round trip,
 * the supported subset, and inputs meant to hurt. */
#include <string.h>

#include "domain-def-test.h"
#include "md-error.h"

#define MINIMAL "<domain type='kvm'><name>vm1</name><os><type>hvm</type></os></domain>"

/* A minimal domain with @body inserted after <os>. */
static char *domain_with(const char *body) {
        return g_strdup_printf("<domain type='kvm'>\n<name>vm1</name>\n<os><type>hvm</type></os>\n%s\n</domain>",
                               body);
}

static char *read_fixture(const char *name) {
        g_autofree char *path = data_path("MD_TEST_DATA_DIR", "domains", name);
        g_autoptr(GError) error = NULL;
        char *contents = NULL;

        g_assert_nonnull(path);
        g_assert_true(g_file_get_contents(path, &contents, NULL, &error));
        g_assert_no_error(error);
        return contents;
}

/* Asserts that @xml is refused with @code and a message containing @needle. */
static void assert_refused(const char *xml, gssize len, int code, const char *needle) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, len, &error);

        g_assert_null(def);
        g_assert_error(error, MD_ERROR, code);
        if (needle && !strstr(error->message, needle))
                g_error("Message \"%s\" does not contain \"%s\"", error->message, needle);
}

static void assert_body_refused(const char *body, int code, const char *needle) {
        g_autofree char *xml = domain_with(body);
        assert_refused(xml, -1, code, needle);
}


static void test_minimal(void) {
        g_autoptr(DomainDef) def = parse_ok(MINIMAL);

        g_assert_cmpstr(def->virt_type, ==, "kvm");
        g_assert_cmpstr(def->name, ==, "vm1");
        g_assert_true(g_uuid_string_is_valid(def->uuid));
        g_assert_null(def->title);
        g_assert_null(def->description);
        g_assert_cmpuint(def->memory_kib, ==, 0);
        g_assert_cmpuint(def->current_memory_kib, ==, 0);
        g_assert_cmpuint(def->vcpus, ==, 1);
        g_assert_cmpuint(def->current_vcpus, ==, 1);
        g_assert_cmpstr(def->os_type, ==, "hvm");
        g_assert_null(def->arch);
        g_assert_null(def->machine);
        g_assert_null(def->kernel);
        g_assert_null(def->emulator);
        g_assert_cmpuint(def->disks->len, ==, 0);
        g_assert_cmpuint(def->chardevs->len, ==, 0);
        g_assert_false(domain_def_has_unsupported_runtime(def, NULL));
}

static void test_all_fields(void) {
        g_autofree char *xml = read_fixture("full.xml");
        g_autoptr(DomainDef) def = parse_ok(xml);
        const DomainDisk *d;
        const DomainChardev *c;

        g_assert_cmpstr(def->virt_type, ==, "kvm");
        g_assert_cmpstr(def->name, ==, "full-guest");
        g_assert_cmpstr(def->uuid, ==, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
        g_assert_cmpstr(def->title, ==, "Full test guest");
        g_assert_nonnull(strstr(def->description, "every supported chardev type"));
        g_assert_cmpuint(def->memory_kib, ==, 2 * 1024 * 1024);
        g_assert_cmpuint(def->current_memory_kib, ==, 1024 * 1024);
        g_assert_cmpuint(def->max_memory_kib, ==, 8 * 1024 * 1024);
        g_assert_cmpuint(def->memory_slots, ==, 4);
        g_assert_cmpuint(def->vcpus, ==, 4);
        g_assert_cmpuint(def->current_vcpus, ==, 2);
        g_assert_cmpstr(def->os_type, ==, "hvm");
        g_assert_cmpstr(def->arch, ==, "x86_64");
        g_assert_cmpstr(def->machine, ==, "pc-q35-8.2");
        g_assert_cmpstr(def->kernel, ==, "/var/lib/migrationd/guest.elf");
        g_assert_cmpstr(def->initrd, ==, "/var/lib/migrationd/initrd.img");
        g_assert_cmpstr(def->cmdline, ==, "console=ttyS0 dirty=64M");
        g_assert_cmpstr(def->emulator, ==, "/usr/bin/qemu-system-x86_64");

        g_assert_cmpuint(def->disks->len, ==, 4);
        d = def->disks->pdata[0];
        g_assert_cmpstr(d->device, ==, "disk");
        g_assert_cmpstr(d->source_file, ==, "/var/lib/images/root.qcow2");
        g_assert_cmpstr(d->format, ==, "qcow2");
        g_assert_cmpstr(d->target_dev, ==, "vda");
        g_assert_cmpstr(d->target_bus, ==, "virtio");
        g_assert_cmpint(d->cache, ==, DOMAIN_DISK_CACHE_NONE);
        g_assert_cmpstr(d->io, ==, "native");
        g_assert_false(d->readonly);
        d = def->disks->pdata[1];
        g_assert_cmpstr(d->format, ==, "raw");
        g_assert_cmpstr(d->target_bus, ==, "sata");
        g_assert_true(d->readonly);
        d = def->disks->pdata[2];
        g_assert_cmpstr(d->device, ==, "cdrom");
        g_assert_null(d->source_file);
        g_assert_null(d->format);
        g_assert_true(d->readonly);             /* cdroms always are */
        d = def->disks->pdata[3];
        g_assert_cmpstr(d->device, ==, "floppy");
        g_assert_cmpstr(d->target_bus, ==, "fdc");     /* derived from "fda" */

        /* Serials first, then consoles. */
        g_assert_cmpuint(def->chardevs->len, ==, 4);
        c = def->chardevs->pdata[0];
        g_assert_cmpint(c->type, ==, DOMAIN_CHARDEV_FILE);
        g_assert_cmpstr(c->path, ==, "/var/log/guest-serial.log");
        g_assert_true(c->append);
        g_assert_cmpstr(c->target_type, ==, "isa-serial");
        g_assert_false(c->is_console);
        g_assert_cmpstr(c->log_file, ==, "/var/log/guest-serial-copy.log");
        g_assert_true(c->log_append);
        c = def->chardevs->pdata[1];
        g_assert_cmpint(c->type, ==, DOMAIN_CHARDEV_UNIX);
        g_assert_cmpstr(c->path, ==, "/run/guest-serial1.sock");
        g_assert_true(c->unix_server);
        g_assert_null(c->target_type);
        c = def->chardevs->pdata[2];
        g_assert_cmpint(c->type, ==, DOMAIN_CHARDEV_PTY);
        g_assert_null(c->path);
        g_assert_cmpstr(c->target_type, ==, "serial");
        g_assert_true(c->is_console);
        c = def->chardevs->pdata[3];
        g_assert_cmpint(c->type, ==, DOMAIN_CHARDEV_NULL);
        g_assert_cmpstr(c->target_type, ==, "virtio");
        g_assert_cmpstr(domain_chardev_type_to_string(c->type), ==, "null");

        /* Kept, but a balloon target is not set at start (test-domain-runtime.c). */
        g_assert_true(domain_def_has_unsupported_runtime(def, NULL));
}

static void test_round_trip(void) {
        g_autofree char *full = read_fixture("full.xml");
        g_autoptr(DomainDef) def = parse_ok(full);
        g_autofree char *text = domain_def_format(def);

        assert_round_trip(full);
        assert_round_trip(MINIMAL);
        /* Canonical text: no XML declaration, comments and markup kept. */
        g_assert_true(g_str_has_prefix(text, "<!-- Every field"));
        g_assert_nonnull(strstr(text, "\n  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"));
        g_assert_nonnull(strstr(text, "<model name=\"isa-serial\"/>"));
        g_assert_nonnull(strstr(text, "<audio id=\"1\" type=\"none\"/>"));

        /* Special characters survive in text and attributes. */
        assert_round_trip("<domain type='qemu'><name>a &amp; b &lt;c&gt; \xc3\xa4</name>"
                          "<os><type>hvm</type><cmdline>x=\"1\"&#10;y='2'</cmdline></os>"
                          "<devices><serial type='file'><source path='/tmp/a&apos;b&#10;c'/></serial></devices>"
                          "</domain>");
}

static void test_uuid(void) {
        g_autoptr(DomainDef) def = parse_ok(MINIMAL);
        g_autoptr(DomainDef) other = parse_ok(MINIMAL);
        g_autofree char *text = domain_def_format(def);
        g_autoptr(DomainDef) again = parse_ok(text);
        g_autoptr(DomainDef) copy = domain_def_copy(def);
        g_autofree char *uuid_elem = g_strdup_printf("<name>vm1</name>\n  <uuid>%s</uuid>", def->uuid);
        g_autofree char *empty = NULL;

        /* Generated, inserted after <name>, stable through format and copy. */
        g_assert_true(g_uuid_string_is_valid(def->uuid));
        g_assert_cmpstr(def->uuid, !=, other->uuid);
        g_assert_nonnull(strstr(text, uuid_elem));
        g_assert_cmpstr(again->uuid, ==, def->uuid);
        g_assert_cmpstr(copy->uuid, ==, def->uuid);

        /* An empty <uuid/> asks for one too, as in libvirt. */
        empty = domain_with("<uuid> </uuid>");
        g_clear_pointer(&def, domain_def_free);
        def = parse_ok(empty);
        g_assert_true(g_uuid_string_is_valid(def->uuid));

        assert_body_refused("<uuid>not-a-uuid</uuid>", MD_ERROR_INVALID_XML, "/domain/uuid");
        assert_body_refused("<uuid>4dea22b31d52d8f32516782e98ab3fa0</uuid>", MD_ERROR_INVALID_XML,
                            "/domain/uuid");
        assert_body_refused("<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0x</uuid>", MD_ERROR_INVALID_XML,
                            "line 4");
}

static void test_memory_units(void) {
        static const struct {
                const char *unit, *value;
                guint64 kib;
        } ok[] = {
                { NULL, "5", 5 },
                { "b", "1024", 1 },
                { "bytes", "1025", 2 },         /* rounded up to whole KiB */
                { "KB", "1000", 977 },          /* 1 000 000 bytes */
                { "k", "3", 3 },
                { "KiB", "219100", 219100 },
                { "MB", "1", 977 },
                { "M", "1", 1024 },
                { "MiB", "64", 65536 },
                { "GB", "1", 976563 },
                { "G", "2", 2097152 },
                { "GiB", "1", 1048576 },
                { "TB", "1", 976562500 },
                { "T", "1", 1073741824 },
                { "TiB", "2", 2147483648 },
                { "mib", "1", 1024 },           /* libvirt ignores case */
                { "KiB", " 42\n", 42 },
                { "KiB", "9007199254740991", 9007199254740991 }, /* 2^53-1 KiB, < 2^63 bytes */
        };
        static const struct {
                const char *unit, *value, *needle;
        } bad[] = {
                { "XB", "1", "/domain/memory/@unit='XB'" },
                { "KiBB", "1", "@unit" },
                { "", "x", "/domain/memory" },
                { "KiB", "-1", "/domain/memory" },
                { "KiB", "1.5", "/domain/memory" },
                { "KiB", "", "/domain/memory" },
                { "KiB", "+1", "/domain/memory" },
                { "KiB", "9007199254740992", "too large" },            /* 2^63 bytes */
                { "EiB", "8", "too large" },
                { "b", "18446744073709551616", "/domain/memory" },     /* > 2^64 */
        };

        for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
                g_autofree char *body = ok[i].unit ?
                        g_strdup_printf("<memory unit='%s'>%s</memory>", ok[i].unit, ok[i].value) :
                        g_strdup_printf("<memory>%s</memory>", ok[i].value);
                g_autofree char *xml = domain_with(body);
                g_autoptr(DomainDef) def = parse_ok(xml);

                g_assert_cmpuint(def->memory_kib, ==, ok[i].kib);
                g_assert_cmpuint(def->current_memory_kib, ==, ok[i].kib);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autofree char *body = g_strdup_printf("<memory unit='%s'>%s</memory>",
                                                        bad[i].unit, bad[i].value);
                assert_body_refused(body, MD_ERROR_INVALID_XML, bad[i].needle);
        }
        assert_body_refused("<memory>1024</memory><currentMemory>2048</currentMemory>",
                            MD_ERROR_INVALID_XML, "/domain/currentMemory");
        assert_body_refused("<memory>1024</memory><maxMemory slots='x'>4096</maxMemory>",
                            MD_ERROR_INVALID_XML, "/domain/maxMemory/@slots");
}

static void test_vcpus(void) {
        g_autofree char *xml = domain_with("<vcpu>255</vcpu>");
        g_autoptr(DomainDef) def = parse_ok(xml);

        g_assert_cmpuint(def->vcpus, ==, 255);
        g_assert_cmpuint(def->current_vcpus, ==, 255);
        assert_body_refused("<vcpu>0</vcpu>", MD_ERROR_INVALID_XML, "/domain/vcpu");
        assert_body_refused("<vcpu>256</vcpu>", MD_ERROR_INVALID_XML, "/domain/vcpu");
        assert_body_refused("<vcpu>two</vcpu>", MD_ERROR_INVALID_XML, "/domain/vcpu");
        assert_body_refused("<vcpu current='3'>2</vcpu>", MD_ERROR_INVALID_XML, "/domain/vcpu/@current");
        assert_body_refused("<vcpu placement='auto'>2</vcpu>", MD_ERROR_UNSUPPORTED,
                            "/domain/vcpu/@placement='auto'");
}

static void test_names(void) {
        g_autofree char *long_ok = g_strnfill(DOMAIN_NAME_MAX, 'a');
        g_autofree char *too_long = g_strnfill(DOMAIN_NAME_MAX + 1, 'a');
        g_autofree char *body = NULL;

        g_assert_true(domain_name_is_valid("vm1"));
        g_assert_true(domain_name_is_valid("guest with spaces-and_ünïcode.x"));
        g_assert_true(domain_name_is_valid(long_ok));
        g_assert_false(domain_name_is_valid(NULL));
        g_assert_false(domain_name_is_valid(""));
        g_assert_false(domain_name_is_valid(too_long));
        g_assert_false(domain_name_is_valid("a/b"));
        g_assert_false(domain_name_is_valid(".hidden"));
        g_assert_false(domain_name_is_valid(".."));
        g_assert_false(domain_name_is_valid("tab\there"));
        /* UTF-8, but not XML characters. */
        g_assert_false(domain_name_is_valid("a\xef\xbf\xbf" "b"));
        g_assert_false(domain_name_is_valid("a\xef\xbf\xbe" "b"));
        g_assert_true(domain_name_is_valid("a\xef\xbf\xbd" "b"));
        g_assert_false(domain_name_is_valid("nl\n"));
        g_assert_false(domain_name_is_valid("c1\xc2\x85"));    /* U+0085, a C1 control */
        g_assert_false(domain_name_is_valid("\xff\xfe"));

        assert_refused("<domain type='kvm'><name>../etc</name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "/domain/name");
        assert_refused("<domain type='kvm'><name></name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "/domain/name");
        assert_refused("<domain type='kvm'><name>a&#1;b</name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "line 1");
        assert_refused("<domain type='kvm'><name>a&#10;b</name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "/domain/name");
        body = g_strdup_printf("<domain type='kvm'><name>%s</name><os><type>hvm</type></os></domain>",
                               too_long);
        assert_refused(body, -1, MD_ERROR_INVALID_XML, "/domain/name");
        assert_refused("<domain type='kvm'><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "/domain/name is missing");
}

static void test_required(void) {
        assert_refused("<domain><name>a</name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "/domain/@type");
        assert_refused("<domain type='xen'><name>a</name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_UNSUPPORTED, "/domain/@type='xen'");
        assert_refused("<domain type='lxc'><name>a</name><os><type>exe</type></os></domain>", -1,
                       MD_ERROR_UNSUPPORTED, "/domain/@type='lxc'");
        assert_refused("<domain type='kvm'><name>a</name></domain>", -1,
                       MD_ERROR_INVALID_XML, "/domain/os/type");
        assert_refused("<domain type='kvm'><name>a</name><os><type>xen</type></os></domain>", -1,
                       MD_ERROR_UNSUPPORTED, "/domain/os/type='xen'");
        assert_refused("<domain type='kvm'><name>a</name><os><type arch='aarch64'>hvm</type></os></domain>", -1,
                       MD_ERROR_UNSUPPORTED, "/domain/os/type/@arch='aarch64'");
}

static void test_unsupported(void) {
        assert_body_refused("<devices>\n<sound model='ich9'/>\n</devices>", MD_ERROR_UNSUPPORTED,
                            "Unsupported element /domain/devices/sound at line 5: remove it");
        assert_body_refused("<devices><interface type='network'/></devices>", MD_ERROR_UNSUPPORTED,
                            "/domain/devices/interface/@type='network'");
        assert_body_refused("<devices><disk type='dir'><target dev='vda'/></disk></devices>",
                            MD_ERROR_UNSUPPORTED, "/domain/devices/disk/@type='dir'");
        assert_body_refused("<devices><disk type='network'><source protocol='rbd'/><target dev='vda'/></disk></devices>",
                            MD_ERROR_UNSUPPORTED, "/domain/devices/disk/source/@protocol='rbd'");
        assert_body_refused("<devices><disk><driver type='vmdk'/><source file='/a'/><target dev='vda'/></disk></devices>",
                            MD_ERROR_UNSUPPORTED, "/domain/devices/disk/driver/@type='vmdk'");
        assert_body_refused("<devices><serial type='spiceport'/></devices>",
                            MD_ERROR_UNSUPPORTED, "/domain/devices/serial/@type='spiceport'");
        assert_body_refused("<devices><disk type='file' snapshot='no'><target dev='vda'/></disk></devices>",
                            MD_ERROR_UNSUPPORTED, "/domain/devices/disk/@snapshot");
        assert_body_refused("<devices><input type='tablet' bus='virtio'/></devices>",
                            MD_ERROR_UNSUPPORTED, "/domain/devices/input/@bus='virtio'");
        assert_refused("<domain type='kvm'><name>a</name><os><type>hvm</type><boot dev='hd cdrom'/></os></domain>",
                       -1, MD_ERROR_UNSUPPORTED, "/domain/os/boot/@dev='hd cdrom'");
        assert_body_refused("<on_reboot>destroy restart</on_reboot>", MD_ERROR_UNSUPPORTED,
                            "/domain/on_reboot='destroy restart'");
        assert_body_refused("<seclabel type='dynamic'/>", MD_ERROR_UNSUPPORTED, "/domain/seclabel");
        assert_body_refused("<metadata><x/></metadata>", MD_ERROR_INVALID_XML, "namespace of its own");
        assert_body_refused("<on_crash>coredump-destroy</on_crash>", MD_ERROR_UNSUPPORTED,
                            "/domain/on_crash='coredump-destroy'");
        assert_body_refused("<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'/>",
                            MD_ERROR_UNSUPPORTED, "/domain/qemu:commandline");
        assert_body_refused("<features xmlns:x='urn:x'><acpi x:y='1'/></features>",
                            MD_ERROR_UNSUPPORTED, "/domain/features/acpi/@x:y");
        assert_refused("<domain xmlns='urn:x' type='kvm'><name>a</name></domain>", -1,
                       MD_ERROR_INVALID_XML, "expected <domain>");
        assert_body_refused("<?foo bar?>", MD_ERROR_UNSUPPORTED, "/domain");
        /* What libvirt would silently ignore is refused. */
        assert_body_refused("<name>vm2</name>", MD_ERROR_INVALID_XML, "/domain/name may appear only once");
        assert_body_refused("<devices>stray text</devices>", MD_ERROR_INVALID_XML,
                            "/domain/devices must not contain text");
        /* Repeatable elements may repeat. */
        {
                g_autofree char *xml = domain_with("<devices><input type='mouse' bus='ps2'/>"
                                                   "<input type='keyboard' bus='ps2'/></devices>");
                g_autoptr(DomainDef) def = parse_ok(xml);
        }
}

static void test_disks_and_chardevs_checked(void) {
        assert_body_refused("<devices><disk><source file='/a'/></disk></devices>",
                            MD_ERROR_INVALID_XML, "/domain/devices/disk/target/@dev");
        assert_body_refused("<devices><disk><target dev='vda'/></disk></devices>",
                            MD_ERROR_INVALID_XML, "/domain/devices/disk/source/@file");
        assert_body_refused("<devices><disk><source dev='/dev/sda'/><target dev='vda'/></disk></devices>",
                            MD_ERROR_INVALID_XML, "@file");
        assert_body_refused("<devices><serial type='file'><target port='0'/></serial></devices>",
                            MD_ERROR_INVALID_XML, "/domain/devices/serial/source/@path");
        assert_body_refused("<devices><console type='unix'><source path=''/></console></devices>",
                            MD_ERROR_INVALID_XML, "/domain/devices/console/source/@path");
        assert_body_refused("<devices><emulator> </emulator></devices>",
                            MD_ERROR_INVALID_XML, "/domain/devices/emulator");
        assert_body_refused("<title>two\nlines</title>", MD_ERROR_INVALID_XML, "/domain/title");
}

static void test_unsupported_runtime(void) {
        g_autofree char *nbd = domain_with("<devices><disk type='network'><source protocol='nbd'>"
                                           "<host name='localhost' port='10809'/></source>"
                                           "<target dev='vda' bus='virtio'/></disk></devices>");
        g_autofree char *tcp = domain_with("<devices><serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/>"
                                           "<protocol type='telnet'/></serial></devices>");
        g_autoptr(DomainDef) def = parse_ok(nbd);
        g_autoptr(DomainDef) def_tcp = parse_ok(tcp);
        g_autofree char *what = NULL;
        g_autofree char *what_tcp = NULL;

        /* Accepted and kept, but neither extracted nor runnable. */
        g_assert_cmpuint(def->disks->len, ==, 0);
        g_assert_true(domain_def_has_unsupported_runtime(def, &what));
        g_assert_cmpstr(what, ==, "/domain/devices/disk/@type='network' (target vda)");
        g_assert_cmpuint(def_tcp->chardevs->len, ==, 0);
        g_assert_true(domain_def_has_unsupported_runtime(def_tcp, &what_tcp));
        g_assert_cmpstr(what_tcp, ==, "/domain/devices/serial/@type='tcp'");
        assert_round_trip(nbd);
        assert_round_trip(tcp);
}

static void test_setters(void) {
        g_autofree char *xml = read_fixture("full.xml");
        g_autoptr(DomainDef) def = parse_ok(xml);
        g_autoptr(DomainDef) copy = domain_def_copy(def);
        g_autoptr(DomainDef) again = NULL;
        g_autofree char *text = NULL;
        const DomainChardev *c;

        domain_def_set_name(def, "renamed & <moved>");
        g_assert_cmpstr(def->name, ==, "renamed & <moved>");
        g_assert_true(domain_def_set_chardev_path(def, 0, "/srv/dest/serial'0.log"));
        g_assert_false(domain_def_set_chardev_path(def, 1, "/nowhere"));  /* one file chardev only */

        text = domain_def_format(def);
        g_assert_nonnull(strstr(text, "<name>renamed &amp; &lt;moved&gt;</name>"));
        again = parse_ok(text);
        g_assert_cmpstr(again->name, ==, "renamed & <moved>");
        c = again->chardevs->pdata[0];
        g_assert_cmpstr(c->path, ==, "/srv/dest/serial'0.log");
        assert_defs_equal(def, again);

        /* The copy taken before is independent. */
        g_assert_cmpstr(copy->name, ==, "full-guest");
        c = copy->chardevs->pdata[0];
        g_assert_cmpstr(c->path, ==, "/var/log/guest-serial.log");
}

static void test_hostile(void) {
        static const char billion_laughs[] =
                "<?xml version='1.0'?>\n"
                "<!DOCTYPE domain [\n"
                " <!ENTITY a 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'>\n"
                " <!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>\n"
                " <!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>\n"
                " <!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>\n"
                " <!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>\n"
                " <!ENTITY f '&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'>\n"
                " <!ENTITY g '&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;'>\n"
                "]>\n"
                "<domain type='kvm'><name>x</name><os><type>hvm</type></os><description>&g;</description></domain>\n";
        static const char xxe[] =
                "<!DOCTYPE domain [ <!ENTITY passwd SYSTEM 'file:///etc/passwd'> ]>\n"
                "<domain type='kvm'><name>&passwd;</name><os><type>hvm</type></os></domain>\n";
        static const char external_dtd[] =
                "<!DOCTYPE domain SYSTEM 'file:///etc/passwd'>\n" MINIMAL;
        static const char nul[] = "<domain type='kvm'><name>a\0b</name><os><type>hvm</type></os></domain>";
        gint64 start = g_get_monotonic_time();
        g_autoptr(GString) huge = g_string_new("<domain type='kvm'><name>x</name><os><type>hvm</type></os><description>");
        g_autoptr(GString) deep = g_string_new("<domain type='kvm'>");
        g_autofree char *truncated = g_strndup(MINIMAL, strlen(MINIMAL) - 10);

        assert_refused("", -1, MD_ERROR_INVALID_XML, "empty");
        assert_refused("hello, world", -1, MD_ERROR_INVALID_XML, "line 1");
        assert_refused(truncated, -1, MD_ERROR_INVALID_XML, "line 1");
        assert_refused("<domain type='kvm'>\n<name>x</name>\n<os><type>hvm</type></devices>\n</domain>", -1,
                       MD_ERROR_INVALID_XML,
                       "Invalid domain XML at line 3: Opening and ending tag mismatch: os line 3 and devices");
        assert_refused("<network><name>x</name></network>", -1, MD_ERROR_INVALID_XML, "<network>");

        /* Entities are never expanded: any DOCTYPE is refused before its subset is read. */
        assert_refused(billion_laughs, -1, MD_ERROR_INVALID_XML, "DOCTYPE");
        g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);  /* an expansion takes minutes */
        assert_refused(xxe, -1, MD_ERROR_INVALID_XML, "DOCTYPE");
        assert_refused(external_dtd, -1, MD_ERROR_INVALID_XML, "line 1");
        assert_refused(MINIMAL "&undefined;", -1, MD_ERROR_INVALID_XML, "line 1");

        /* Size cap, checked before parsing. */
        while (huge->len <= DOMAIN_XML_MAX_SIZE)
                g_string_append(huge, "0123456789abcdef");
        g_string_append(huge, "</description></domain>");
        assert_refused(huge->str, huge->len, MD_ERROR_INVALID_XML, "too large");
        assert_refused(huge->str, -1, MD_ERROR_INVALID_XML, "too large");

        /* Deep nesting: libxml2's depth limit or the schema, never a deep recursion here. */
        for (int i = 0; i < 100000; i++)
                g_string_append(deep, "<devices>");
        assert_refused(deep->str, deep->len, MD_ERROR_INVALID_XML, "line 1");
        assert_refused("<domain type='kvm'><devices><devices><devices/></devices></devices></domain>", -1,
                       MD_ERROR_UNSUPPORTED, "/domain/devices/devices");

        /* Bytes that are not UTF-8 XML. */
        assert_refused("<domain type='kvm'><name>a\xff\xfe</name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "UTF-8");
        assert_refused("<domain type='kvm'><name>\xc3(</name><os><type>hvm</type></os></domain>", -1,
                       MD_ERROR_INVALID_XML, "line 1");
        assert_refused(nul, sizeof nul - 1, MD_ERROR_INVALID_XML, "line 1");
        assert_refused("\xef\xbb\xbf<?xml version='1.0' encoding='UTF-16'?>" MINIMAL "\xff", -1,
                       MD_ERROR_INVALID_XML, "line 1");
        /* A length that cuts the string short is honoured. */
        assert_refused(MINIMAL, 20, MD_ERROR_INVALID_XML, "line 1");

        /* An encoding declaration is ignored: the input is UTF-8, and so is the output. */
        {
                g_autoptr(DomainDef) def = parse_ok("<?xml version='1.0' encoding='ISO-8859-1'?>"
                                                    "<domain type='kvm'><name>g\xc3\xa4st</name><os><type>hvm</type></os></domain>");
                g_autofree char *text = domain_def_format(def);
                g_assert_cmpstr(def->name, ==, "g\xc3\xa4st");
                g_assert_nonnull(strstr(text, "<name>g\xc3\xa4st</name>"));
                g_assert_null(strstr(text, "<?xml"));
        }

        /* Error messages are one line, for the bus. */
        {
                g_autoptr(GError) error = NULL;
                g_autoptr(DomainDef) def = domain_def_parse("<domain>\xff</domain>", -1, &error);
                g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_XML);
                g_assert_null(strchr(error->message, '\n'));
                g_assert_true(g_utf8_validate(error->message, -1, NULL));
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        g_test_add_func("/domain-def/minimal", test_minimal);
        g_test_add_func("/domain-def/all-fields", test_all_fields);
        g_test_add_func("/domain-def/round-trip", test_round_trip);
        g_test_add_func("/domain-def/uuid", test_uuid);
        g_test_add_func("/domain-def/memory-units", test_memory_units);
        g_test_add_func("/domain-def/vcpus", test_vcpus);
        g_test_add_func("/domain-def/names", test_names);
        g_test_add_func("/domain-def/required", test_required);
        g_test_add_func("/domain-def/unsupported", test_unsupported);
        g_test_add_func("/domain-def/devices-checked", test_disks_and_chardevs_checked);
        g_test_add_func("/domain-def/unsupported-runtime", test_unsupported_runtime);
        g_test_add_func("/domain-def/setters", test_setters);
        g_test_add_func("/domain-def/hostile", test_hostile);
        domain_def_corpus_add_tests();

        return g_test_run();
}
