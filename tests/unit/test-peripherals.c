/* The peripherals of a domain definition (interfaces, displays, video,
 * channels, RNG, USB tablet, metadata): parsing, hostile input, round trip,
 * and their QEMU arguments. */
#include <string.h>

#include "command-line-test.h"
#include "domain-def.h"
#include "md-error.h"

static char *domain_with(const char *devices) {
        return g_strdup_printf("<domain type='qemu'>\n<name>vm1</name>\n<uuid>6f6a2c3e-0d3b-4f0a-9c44-2e9b1c0d7a11</uuid>\n"
                               "<memory unit='MiB'>64</memory>\n<os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                               "<devices>\n%s\n</devices>\n</domain>",
                               devices);
}

static DomainDef *parse_devices(const char *devices) {
        g_autofree char *xml = domain_with(devices);
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(xml, -1, &error);

        g_assert_no_error(error);
        return def;
}

static void assert_refused(const char *devices, int code, const char *needle) {
        g_autofree char *xml = domain_with(devices);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);

        g_assert_null(def);
        g_assert_error(error, MD_ERROR, code);
        if (!strstr(error->message, needle))
                g_error("Message \"%s\" does not contain \"%s\"", error->message, needle);
}

/* parse(format(x)) formats to the same text, and so does a copy. */
static char *assert_round_trip(const DomainDef *def) {
        g_autofree char *text = domain_def_format(def);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) again = domain_def_parse(text, -1, &error);
        g_autofree char *text_again = NULL;
        g_autoptr(DomainDef) copy = domain_def_copy(def);
        g_autofree char *text_copy = domain_def_format(copy);

        g_assert_no_error(error);
        text_again = domain_def_format(again);
        g_assert_cmpstr(text, ==, text_again);
        g_assert_cmpstr(text, ==, text_copy);
        return g_steal_pointer(&text);
}

static GStrv build(const DomainDef *def, const int *net_fds, guint n_net_fds, GError **error) {
        QemuCommandOptions options = { .net_fds = net_fds, .n_net_fds = n_net_fds };

        return command_line_build_def(def, &options, error);
}

/* ---- Interfaces ---- */

static void test_interfaces(void) {
        g_autoptr(DomainDef) def = parse_devices(
                "<interface type='bridge'><mac address='52:54:00:AB:cd:01'/><source bridge='br0'/>"
                "<model type='virtio'/></interface>"
                "<interface type='ethernet'><target dev='tap7' managed='no'/><model type='e1000e'/></interface>"
                "<interface type='user'/>");
        g_autofree char *text = assert_round_trip(def);
        const DomainNet *br = def->nets->pdata[0], *eth = def->nets->pdata[1], *user = def->nets->pdata[2];
        int fds[] = { 4, 5, -1 };
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = NULL;

        g_assert_cmpuint(def->nets->len, ==, 3);
        g_assert_cmpint(br->type, ==, DOMAIN_NET_BRIDGE);
        g_assert_cmpstr(br->mac, ==, "52:54:00:ab:cd:01");
        g_assert_cmpstr(br->bridge, ==, "br0");
        g_assert_cmpstr(eth->target_dev, ==, "tap7");
        g_assert_cmpstr(eth->model, ==, "e1000e");
        /* Generated and stored with libvirt's prefix, and libvirt's default model. */
        g_assert_true(g_str_has_prefix(user->mac, "52:54:00:"));
        g_assert_cmpstr(user->model, ==, "rtl8139");
        g_assert_nonnull(strstr(text, user->mac));
        g_assert_nonnull(strstr(text, "52:54:00:ab:cd:01"));

        argv = build(def, fds, 3, &error);
        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-netdev", "tap,id=net0,fd=4"));
        g_assert_true(argv_has_pair(argv, "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:ab:cd:01,id=nic0"));
        g_assert_true(argv_has_pair(argv, "-netdev", "tap,id=net1,fd=5"));
        g_assert_true(argv_mentions(argv, "e1000e,netdev=net1"));
        g_assert_true(argv_has_pair(argv, "-netdev", "user,id=net2"));
        g_assert_true(argv_mentions(argv, "rtl8139,netdev=net2"));
}

static void test_interface_without_tap(void) {
        g_autoptr(DomainDef) def = parse_devices("<interface type='bridge'><source bridge='br0'/></interface>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build(def, NULL, 0, &error);

        g_assert_null(argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
}

static void test_interfaces_hostile(void) {
        static const struct { const char *devices; int code; const char *needle; } cases[] = {
                { "<interface type='bridge'><mac address='52:54:00:zz:00:01'/><source bridge='b'/></interface>",
                  MD_ERROR_INVALID_XML, "not a unicast MAC" },
                { "<interface type='bridge'><mac address='01:00:5e:00:00:01'/><source bridge='b'/></interface>",
                  MD_ERROR_INVALID_XML, "not a unicast MAC" },
                { "<interface type='bridge'><mac address='52:54:00:00:00:01:02'/><source bridge='b'/></interface>",
                  MD_ERROR_INVALID_XML, "not a unicast MAC" },
                { "<interface type='bridge'><mac address='52-54-00-00-00-01'/><source bridge='b'/></interface>",
                  MD_ERROR_INVALID_XML, "not a unicast MAC" },
                { "<interface type='bridge'><mac/><source bridge='b'/></interface>",
                  MD_ERROR_INVALID_XML, "mac/@address is missing" },
                { "<interface type='user'><mac address='52:54:00:00:00:01'/></interface>"
                  "<interface type='user'><mac address='52:54:00:00:00:01'/></interface>",
                  MD_ERROR_INVALID_XML, "used twice" },
                { "<interface type='bridge'/>", MD_ERROR_INVALID_XML, "source/@bridge is missing" },
                { "<interface type='bridge'><source bridge='a/../b'/></interface>",
                  MD_ERROR_INVALID_XML, "source/@bridge" },
                { "<interface type='bridge'><source bridge='averyveryverylongname'/></interface>",
                  MD_ERROR_INVALID_XML, "source/@bridge" },
                { "<interface type='ethernet'><target dev='tap0'/></interface>",
                  MD_ERROR_INVALID_XML, "@managed must be 'no'" },
                { "<interface type='ethernet'/>", MD_ERROR_INVALID_XML, "target/@dev" },
                { "<interface type='user'><source bridge='br0'/></interface>", MD_ERROR_INVALID_XML, "type 'user'" },
                { "<interface type='network'><source network='default'/></interface>",
                  MD_ERROR_UNSUPPORTED, "/domain/devices/interface/@type='network'" },
                { "<interface type='user'><model type='ne2k_pci'/></interface>",
                  MD_ERROR_UNSUPPORTED, "/domain/devices/interface/model/@type='ne2k_pci'" },
                { "<interface type='user'><driver name='vhost'/></interface>",
                  MD_ERROR_UNSUPPORTED, "/domain/devices/interface/driver" },
                { "<interface type='ethernet'><target dev='tap0' managed='yes'/></interface>",
                  MD_ERROR_UNSUPPORTED, "@managed='yes'" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                assert_refused(cases[i].devices, cases[i].code, cases[i].needle);
}

/* ---- Graphics and video ---- */

static void test_graphics(void) {
        g_autoptr(DomainDef) def = parse_devices(
                "<graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0' passwd='s3cret'/>"
                "<graphics type='spice' port='5999' autoport='no'><listen type='address' address='::1'/></graphics>"
                "<video><model type='qxl' ram='65536' vram='32768' vgamem='16384' heads='1'/></video>");
        const DomainGraphics *vnc = def->graphics->pdata[0], *spice = def->graphics->pdata[1];
        g_autofree char *text = assert_round_trip(def);
        g_autofree char *public = domain_def_format_public(def);
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = NULL;

        g_assert_true(vnc->autoport);
        g_assert_cmpint(vnc->port, ==, -1);
        g_assert_cmpstr(vnc->passwd, ==, "s3cret");
        g_assert_false(spice->autoport);
        g_assert_cmpint(spice->port, ==, 5999);
        g_assert_cmpstr(spice->listen, ==, "::1");
        g_assert_nonnull(strstr(text, "s3cret"));
        g_assert_null(strstr(public, "s3cret"));
        g_assert_null(strstr(public, "passwd"));

        /* Not startable before the daemon has chosen the port. */
        argv = build(def, NULL, 0, &error);
        g_assert_null(argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_clear_error(&error);

        domain_def_set_graphics_port(def, 0, 5901);
        argv = build(def, NULL, 0, &error);
        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-vnc", "0.0.0.0:1,password=on"));
        g_assert_true(argv_has_pair(argv, "-spice", "port=5999,addr=::1,disable-ticketing=on"));
        g_assert_true(argv_has_pair(argv, "-device", "qxl-vga,id=video0,ram_size=67108864,vram_size=33554432,vgamem_mb=16"));
        g_assert_false(argv_mentions(argv, "s3cret"));
        g_clear_pointer(&text, g_free);
        text = domain_def_format(def);
        g_assert_nonnull(strstr(text, "port=\"5901\""));
}

static void test_video_models(void) {
        static const struct { const char *model, *device; } cases[] = {
                { "virtio", "virtio-vga,id=video0" }, { "vga", "VGA,id=video0" }, { "none", NULL },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *devices = g_strdup_printf("<video><model type='%s'/></video>", cases[i].model);
                g_autoptr(DomainDef) def = parse_devices(devices);
                g_autoptr(GError) error = NULL;
                g_auto(GStrv) argv = build(def, NULL, 0, &error);

                g_assert_no_error(error);
                if (cases[i].device)
                        g_assert_true(argv_has_pair(argv, "-device", cases[i].device));
                else
                        g_assert_false(argv_mentions(argv, "vga"));
        }
}

/* A display brings a VGA into the definition, as libvirt's default. */
static void test_default_video(void) {
        g_autoptr(DomainDef) def = parse_devices("<graphics type='vnc' port='5900' autoport='no'/>");
        g_autofree char *text = assert_round_trip(def);

        g_assert_cmpstr(def->video_model, ==, "vga");
        g_assert_nonnull(strstr(text, "<model type=\"vga\"/>"));
}

static void test_graphics_hostile(void) {
        static const struct { const char *devices; int code; const char *needle; } cases[] = {
                { "<graphics type='vnc' port='70000'/>", MD_ERROR_INVALID_XML, "@port must be -1 or a port" },
                { "<graphics type='vnc' port='5899' autoport='no'/>", MD_ERROR_INVALID_XML, "from 5900 to 65535" },
                { "<graphics type='spice' port='0'/>", MD_ERROR_INVALID_XML, "@port" },
                { "<graphics type='vnc' port='-2'/>", MD_ERROR_INVALID_XML, "@port" },
                { "<graphics type='vnc' port='59OO'/>", MD_ERROR_INVALID_XML, "@port" },
                { "<graphics type='vnc' port=' 5900'/>", MD_ERROR_INVALID_XML, "@port" },
                { "<graphics type='vnc' autoport='no'/>", MD_ERROR_INVALID_XML, "needs @port" },
                { "<graphics type='vnc' listen='example.com'/>", MD_ERROR_INVALID_XML, "not an IP address" },
                { "<graphics type='vnc' listen='127.0.0.1'><listen type='address' address='::1'/></graphics>",
                  MD_ERROR_INVALID_XML, "differ" },
                { "<graphics type='vnc'/><graphics type='vnc'/>", MD_ERROR_INVALID_XML, "only once" },
                { "<graphics type='sdl'/>", MD_ERROR_UNSUPPORTED, "/domain/devices/graphics/@type='sdl'" },
                { "<graphics type='vnc' autoport='maybe'/>", MD_ERROR_UNSUPPORTED, "@autoport='maybe'" },
                { "<graphics type='vnc' keymap='de'/>", MD_ERROR_UNSUPPORTED, "/domain/devices/graphics/@keymap" },
                { "<graphics type='vnc'><listen type='network' network='x'/></graphics>",
                  MD_ERROR_UNSUPPORTED, "listen/@type='network'" },
                { "<video><model type='cirrus'/></video>", MD_ERROR_UNSUPPORTED, "@type='cirrus'" },
                { "<video/>", MD_ERROR_INVALID_XML, "video/model/@type is missing" },
                { "<video><model type='vga'/></video><video><model type='vga'/></video>",
                  MD_ERROR_INVALID_XML, "only one video" },
                { "<video><model type='qxl' ram='1000'/></video>", MD_ERROR_INVALID_XML, "power of two" },
                { "<video><model type='qxl' vram='99999999999999999999'/></video>",
                  MD_ERROR_INVALID_XML, "power of two" },
                { "<video><model type='vga' vram='16384'/></video>", MD_ERROR_INVALID_XML, "only for model 'qxl'" },
                { "<video><model type='qxl' heads='2'/></video>", MD_ERROR_UNSUPPORTED, "@heads='2'" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                assert_refused(cases[i].devices, cases[i].code, cases[i].needle);
}

/* GLib's g_hostname_is_ip_address() takes anything after an IPv6 '%' as
 * the zone; QEMU reads the address inside its -spice and -vnc options.
 * Refused at define; before, "disable-ticketing=on" reached -spice and
 * switched off the password (the failure shows it). */
static void test_listen_zone_hostile(void) {
        static const char *const hostile[] = {
                "fe80::1%lo,disable-ticketing=on", "fe80::1%lo,password=off", "fe80::1%lo=x", "fe80::1%lo x",
        };
        static const char *const types[] = { "spice", "vnc" };
        g_autoptr(DomainDef) scoped = parse_devices("<graphics type='vnc' port='5901' listen='fe80::1%lo'/>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build(scoped, NULL, 0, &error);

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-vnc", "[fe80::1%lo]:1"));
        for (size_t i = 0; i < G_N_ELEMENTS(hostile); i++) {
                for (size_t t = 0; t < G_N_ELEMENTS(types); t++) {
                        g_autofree char *devices = g_strdup_printf("<graphics type='%s' port='5901' passwd='s' listen='%s'/>",
                                                                   types[t], hostile[i]);
                        g_autofree char *xml = domain_with(devices);
                        g_autoptr(GError) local = NULL;
                        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &local);

                        if (def) {
                                g_auto(GStrv) old = build(def, NULL, 0, NULL);
                                for (guint j = 0; old && old[j] && old[j + 1]; j++)
                                        if (g_str_equal(old[j], "-spice") || g_str_equal(old[j], "-vnc"))
                                                g_error("listen '%s' accepted: %s %s", hostile[i], old[j], old[j + 1]);
                        }
                        g_assert_error(local, MD_ERROR, MD_ERROR_INVALID_XML);
                        g_assert_nonnull(strstr(local->message, "not an IP address"));
                }
        }
}

/* ---- Channels, RNG, tablet ---- */

static void test_channel_rng_tablet(void) {
        g_autoptr(DomainDef) def = parse_devices(
                "<controller type='usb' index='0' model='qemu-xhci' ports='15'/>"
                "<channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
                "<channel type='unix'><source mode='bind' path='/run/a,b.sock'/><target type='virtio' name='x.y'/></channel>"
                "<input type='tablet' bus='usb'/>"
                "<rng model='virtio'><backend model='random'/></rng>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = NULL;
        g_autofree char *text = NULL;

        g_assert_cmpuint(def->channels->len, ==, 2);
        g_assert_null(((DomainChannel *) def->channels->pdata[0])->path);
        g_assert_cmpstr(def->rng_backend, ==, "/dev/urandom");
        g_assert_true(def->usb_tablet);
        g_assert_cmpstr(def->usb_model, ==, "qemu-xhci");

        argv = build(def, NULL, 0, &error);
        g_assert_null(argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_clear_error(&error);

        domain_def_set_channel_path(def, 0, "/run/md/ga.sock");
        text = assert_round_trip(def);
        g_assert_nonnull(strstr(text, "path=\"/run/md/ga.sock\""));
        argv = build(def, NULL, 0, &error);
        g_assert_no_error(error);
        g_assert_true(argv_has_pair(argv, "-device", "virtio-serial-pci,id=virtio-serial0"));
        g_assert_true(argv_has_pair(argv, "-chardev", "socket,id=channel0,path=/run/md/ga.sock,server=on,wait=off"));
        g_assert_true(argv_has_pair(argv, "-device",
                               "virtserialport,bus=virtio-serial0.0,chardev=channel0,name=org.qemu.guest_agent.0"));
        g_assert_true(argv_has_pair(argv, "-chardev", "socket,id=channel1,path=/run/a,,b.sock,server=on,wait=off"));
        g_assert_true(argv_has_pair(argv, "-device", "qemu-xhci,id=usb,p2=15,p3=15"));
        g_assert_true(argv_has_pair(argv, "-device", "usb-tablet,id=input0,bus=usb.0"));
        g_assert_true(argv_has_pair(argv, "-object", "rng-random,id=objrng0,filename=/dev/urandom"));
        g_assert_true(argv_has_pair(argv, "-device", "virtio-rng-pci,rng=objrng0,id=rng0"));
}

/* The controller the definition names is there with or without a device
 * (as under libvirt); a USB device without one gets the machine's default. */
static void test_usb_defaults(void) {
        g_autoptr(DomainDef) plain = parse_devices("<controller type='usb' index='0'/>");
        g_autoptr(DomainDef) none = parse_devices("<controller type='usb' index='0' model='none'/>");
        g_autoptr(DomainDef) nothing = parse_devices("<input type='mouse' bus='ps2'/><input type='keyboard'/>");
        g_autoptr(DomainDef) tablet = parse_devices("<input type='tablet' bus='usb'/>");
        g_autoptr(DomainDef) inputs = parse_devices("<controller type='usb' model='nec-xhci' ports='4'/>"
                                                    "<input type='mouse' bus='usb'/><input type='keyboard' bus='usb'/>");
        g_autoptr(DomainDef) uhci_ports = parse_devices("<controller type='usb' model='piix3-uhci' ports='2'/>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) a = build(plain, NULL, 0, &error);
        g_auto(GStrv) b = build(tablet, NULL, 0, &error);
        g_auto(GStrv) c = build(none, NULL, 0, &error);
        g_auto(GStrv) d = build(nothing, NULL, 0, &error);
        g_auto(GStrv) e = build(inputs, NULL, 0, &error);

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(a, "-device", "piix3-usb-uhci,id=usb"));
        g_assert_false(argv_mentions(a, "usb-tablet"));
        g_assert_false(argv_mentions(a, "usb-mouse"));
        g_assert_true(argv_has_pair(b, "-device", "piix3-usb-uhci,id=usb"));
        g_assert_false(argv_mentions(c, "usb"));
        g_assert_false(argv_mentions(d, "usb"));
        g_assert_true(argv_has_pair(e, "-device", "nec-usb-xhci,id=usb,p2=4,p3=4"));
        g_assert_true(argv_has_pair(e, "-device", "usb-mouse,id=input1,bus=usb.0"));
        g_assert_true(argv_has_pair(e, "-device", "usb-kbd,id=input2,bus=usb.0"));
        g_assert_false(argv_mentions(e, "usb-tablet"));
        g_assert_null(build(uhci_ports, NULL, 0, &error));
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "ports"));
        g_clear_error(&error);
        assert_refused("<controller type='usb' model='qemu-xhci' ports='16'/>", MD_ERROR_INVALID_XML,
                       "/domain/devices/controller/@ports");
        assert_refused("<controller type='usb' model='qemu-xhci' ports='0'/>", MD_ERROR_INVALID_XML,
                       "/domain/devices/controller/@ports");
        assert_refused("<controller type='usb' model='qemu-xhci' ports='4,p3=15'/>", MD_ERROR_INVALID_XML,
                       "/domain/devices/controller/@ports");
        assert_refused("<controller type='usb' model='qemu-xhci' ports='-1'/>", MD_ERROR_INVALID_XML,
                       "/domain/devices/controller/@ports");
}

/* A virtio-serial controller named in the definition, with or without ports. */
static void test_virtio_serial_controller(void) {
        g_autoptr(DomainDef) alone = parse_devices("<controller type='virtio-serial' index='0'/>");
        g_autoptr(DomainDef) console = parse_devices("<controller type='virtio-serial' index='0'/>"
                                                     "<console type='pty'><target type='virtio'/></console>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) a = build(alone, NULL, 0, &error);
        g_auto(GStrv) b = build(console, NULL, 0, &error);
        guint n = 0;

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(a, "-device", "virtio-serial-pci,id=virtio-serial0"));
        for (guint i = 0; b[i]; i++)
                n += g_str_equal(b[i], "virtio-serial-pci,id=virtio-serial0");
        g_assert_cmpuint(n, ==, 1);
}

static void test_balloon(void) {
        g_autoptr(DomainDef) virtio = parse_devices("<memballoon model='virtio'><stats period='0'/></memballoon>");
        g_autoptr(DomainDef) deflate = parse_devices("<memballoon model='virtio' autodeflate='on'/>");
        g_autoptr(DomainDef) no_deflate = parse_devices("<memballoon model='virtio' autodeflate='off'/>");
        g_autoptr(DomainDef) none = parse_devices("<memballoon model='none'/>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) a = build(virtio, NULL, 0, &error);
        g_auto(GStrv) b = build(deflate, NULL, 0, &error);
        g_auto(GStrv) c = build(no_deflate, NULL, 0, &error);
        g_auto(GStrv) d = build(none, NULL, 0, &error);

        g_assert_no_error(error);
        g_assert_true(argv_has_pair(a, "-device", "virtio-balloon-pci,id=balloon0"));
        g_assert_true(argv_has_pair(b, "-device", "virtio-balloon-pci,id=balloon0,deflate-on-oom=on"));
        g_assert_true(argv_has_pair(c, "-device", "virtio-balloon-pci,id=balloon0"));
        g_assert_false(argv_mentions(d, "balloon"));
        g_free(assert_round_trip(deflate));
        assert_refused("<memballoon model='virtio' autodeflate='on,x=y'/>", MD_ERROR_UNSUPPORTED,
                       "/domain/devices/memballoon/@autodeflate");
        assert_refused("<memballoon model='virtio-non-transitional'/>", MD_ERROR_UNSUPPORTED,
                       "/domain/devices/memballoon/@model");
}

static void test_devices_hostile(void) {
        static const struct { const char *devices; int code; const char *needle; } cases[] = {
                { "<channel type='unix'><target type='virtio'/></channel>", MD_ERROR_INVALID_XML, "target/@name" },
                { "<channel type='unix'><target type='virtio' name='a b'/></channel>", MD_ERROR_INVALID_XML, "may contain only" },
                { "<channel type='unix'><target type='virtio' name='a,b'/></channel>", MD_ERROR_INVALID_XML, "may contain only" },
                { "<channel type='unix'><source path='rel.sock'/><target type='virtio' name='a'/></channel>",
                  MD_ERROR_INVALID_XML, "absolute" },
                { "<channel type='unix'><source mode='connect'/><target type='virtio' name='a'/></channel>",
                  MD_ERROR_UNSUPPORTED, "@mode='connect'" },
                { "<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>",
                  MD_ERROR_UNSUPPORTED, "channel/@type='spicevmc'" },
                { "<channel type='unix'><target type='guestfwd' name='a'/></channel>",
                  MD_ERROR_UNSUPPORTED, "@type='guestfwd'" },
                { "<rng model='virtio'><backend model='random'>/etc/shadow</backend></rng>",
                  MD_ERROR_UNSUPPORTED, "/domain/devices/rng/backend='/etc/shadow'" },
                { "<rng model='virtio'><backend model='egd' type='tcp'/></rng>", MD_ERROR_UNSUPPORTED, "@model='egd'" },
                { "<rng model='virtio'/>", MD_ERROR_INVALID_XML, "backend is missing" },
                { "<rng model='virtio'><backend model='random'/></rng><rng model='virtio'><backend model='random'/></rng>",
                  MD_ERROR_INVALID_XML, "only one RNG" },
                { "<input type='tablet' bus='virtio'/>", MD_ERROR_UNSUPPORTED, "@bus='virtio'" },
                { "<controller type='usb' model='none'/><input type='tablet' bus='usb'/>",
                  MD_ERROR_INVALID_XML, "needs a USB controller" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                assert_refused(cases[i].devices, cases[i].code, cases[i].needle);
}

static void test_usb_model_unsupported(void) {
        g_autoptr(DomainDef) def = parse_devices("<controller type='usb' model='ich9-ehci1'/><input type='tablet' bus='usb'/>");
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) argv = build(def, NULL, 0, &error);

        g_assert_null(argv);
        g_assert_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "ich9-ehci1"));
}

/* ---- Metadata ---- */

static void test_metadata(void) {
        const char *xml =
                "<domain type='qemu'><name>m</name><uuid>6f6a2c3e-0d3b-4f0a-9c44-2e9b1c0d7a11</uuid>\n"
                "  <metadata>\n"
                "    <libosinfo:libosinfo xmlns:libosinfo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\">\n"
                "      <libosinfo:os id=\"http://debian.org/debian/12\"/>\n"
                "    </libosinfo:libosinfo>\n"
                "    <app:x xmlns:app=\"urn:app\" app:k=\"v\">text &amp; more<app:y/></app:x>\n"
                "  </metadata>\n"
                "<os><type>hvm</type></os></domain>";
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);
        g_autofree char *text = NULL;

        g_assert_no_error(error);
        text = assert_round_trip(def);
        g_assert_nonnull(strstr(text, "<libosinfo:os id=\"http://debian.org/debian/12\"/>"));
        g_assert_nonnull(strstr(text, "xmlns:libosinfo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\""));
        g_assert_nonnull(strstr(text, "<app:x xmlns:app=\"urn:app\" app:k=\"v\">text &amp; more<app:y/></app:x>"));
}

#define CLOSE_BIG "</h:big></metadata>"

static void test_metadata_hostile(void) {
        GString *huge = g_string_new("<metadata><h:big xmlns:h='urn:h'>");
        g_autofree char *body = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = NULL;

        assert_refused("</devices><metadata>text</metadata><devices>", MD_ERROR_INVALID_XML, "namespace of its own");
        assert_refused("</devices><metadata><plain/></metadata><devices>", MD_ERROR_INVALID_XML, "namespace of its own");
        assert_refused("</devices><metadata><a:x xmlns:a='urn:a'/><b:y xmlns:b='urn:a'/></metadata><devices>",
                       MD_ERROR_INVALID_XML, "more than one element in namespace 'urn:a'");
        assert_refused("</devices><metadata><a:x xmlns:a='urn:a'/></metadata><metadata/><devices>",
                       MD_ERROR_INVALID_XML, "only once");
        assert_refused("</devices><metadata><?pi x?></metadata><devices>", MD_ERROR_INVALID_XML, "namespace");

        /* Large but within the document limit: kept whole. */
        for (int i = 0; i < 20000; i++)
                g_string_append(huge, "<h:e a='0123456789'>x</h:e>");
        g_string_append(huge, CLOSE_BIG);
        body = g_strdup_printf("<domain type='qemu'><name>m</name>%s<os><type>hvm</type></os></domain>", huge->str);
        def = domain_def_parse(body, -1, &error);
        g_assert_no_error(error);
        g_free(assert_round_trip(def));
        g_clear_pointer(&def, domain_def_free);
        g_clear_pointer(&body, g_free);

        /* Over it, still well-formed: refused before parsing. Appended
         * (prepending is quadratic: minutes under valgrind). */
        g_string_truncate(huge, huge->len - strlen(CLOSE_BIG));
        while (huge->len < DOMAIN_XML_MAX_SIZE)
                g_string_append(huge, "<h:e a='0123456789'>x</h:e>");
        g_string_append(huge, CLOSE_BIG);
        body = g_strdup_printf("<domain type='qemu'><name>m</name>%s<os><type>hvm</type></os></domain>", huge->str);
        def = domain_def_parse(body, -1, &error);
        g_assert_null(def);
        g_assert_error(error, MD_ERROR, MD_ERROR_INVALID_XML);
        g_string_free(huge, TRUE);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/peripherals/interfaces", test_interfaces);
        g_test_add_func("/peripherals/interface-without-tap", test_interface_without_tap);
        g_test_add_func("/peripherals/interfaces-hostile", test_interfaces_hostile);
        g_test_add_func("/peripherals/graphics", test_graphics);
        g_test_add_func("/peripherals/video-models", test_video_models);
        g_test_add_func("/peripherals/default-video", test_default_video);
        g_test_add_func("/peripherals/graphics-hostile", test_graphics_hostile);
        g_test_add_func("/peripherals/listen-zone-hostile", test_listen_zone_hostile);
        g_test_add_func("/peripherals/channel-rng-tablet", test_channel_rng_tablet);
        g_test_add_func("/peripherals/usb-defaults", test_usb_defaults);
        g_test_add_func("/peripherals/balloon", test_balloon);
        g_test_add_func("/peripherals/virtio-serial-controller", test_virtio_serial_controller);
        g_test_add_func("/peripherals/devices-hostile", test_devices_hostile);
        g_test_add_func("/peripherals/usb-model-unsupported", test_usb_model_unsupported);
        g_test_add_func("/peripherals/metadata", test_metadata);
        g_test_add_func("/peripherals/metadata-hostile", test_metadata_hostile);
        return g_test_run();
}
