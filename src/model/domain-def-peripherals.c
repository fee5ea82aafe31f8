/* The peripherals of a domain definition: network interfaces, displays,
 * video, guest agent channels, the RNG, the balloon and the USB tablet, read from
 * <devices>; and <metadata>, which is kept opaque. The schema
 * (domain-schema.c) has already refused what is outside the subset; what is
 * checked here are the values a whitelist cannot express. */
#include <string.h>

#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-schema.h"
#include "domain-xml.h"
#include "i18n.h"
#include "md-error.h"

static const char *const net_type_table[_DOMAIN_NET_MAX] = {
        [DOMAIN_NET_BRIDGE] = "bridge",
        [DOMAIN_NET_ETHERNET] = "ethernet",
        [DOMAIN_NET_USER] = "user",
};

static const char *const graphics_type_table[_DOMAIN_GRAPHICS_MAX] = {
        [DOMAIN_GRAPHICS_VNC] = "vnc",
        [DOMAIN_GRAPHICS_SPICE] = "spice",
};

const char *domain_net_type_to_string(DomainNetType type) {
        return (unsigned) type < _DOMAIN_NET_MAX ? net_type_table[type] : NULL;
}

const char *domain_graphics_type_to_string(DomainGraphicsType type) {
        return (unsigned) type < _DOMAIN_GRAPHICS_MAX ? graphics_type_table[type] : NULL;
}

static int type_from_string(const char *const *table, int n, const char *s) {
        for (int i = 0; i < n; i++)
                if (g_strcmp0(table[i], s) == 0)
                        return i;
        return -1;
}

static void net_free(DomainNet *net) {
        g_free(net->model);
        g_free(net->bridge);
        g_free(net->target_dev);
        g_free(net);
}

static void graphics_free(DomainGraphics *g) {
        if (g->passwd)
                memset(g->passwd, 0, strlen(g->passwd));
        g_free(g->passwd);
        g_free(g->listen);
        g_free(g);
}

static void channel_free(DomainChannel *ch) {
        g_free(ch->path);
        g_free(ch->target_name);
        g_free(ch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainNet, net_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainGraphics, graphics_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomainChannel, channel_free)

void domain_def_peripherals_init(DomainDef *def) {
        def->nets = g_ptr_array_new_with_free_func((GDestroyNotify) net_free);
        def->graphics = g_ptr_array_new_with_free_func((GDestroyNotify) graphics_free);
        def->channels = g_ptr_array_new_with_free_func((GDestroyNotify) channel_free);
}

void domain_def_peripherals_clear(DomainDef *def) {
        g_clear_pointer(&def->nets, g_ptr_array_unref);
        g_clear_pointer(&def->graphics, g_ptr_array_unref);
        g_clear_pointer(&def->channels, g_ptr_array_unref);
        g_clear_pointer(&def->video_model, g_free);
        g_clear_pointer(&def->rng_backend, g_free);
        g_clear_pointer(&def->usb_model, g_free);
}

/* ---- <interface> ---- */

/* "aa:bb:cc:dd:ee:ff", any case, unicast (the guest could not send from a
 * multicast address), into lower case. */
gboolean domain_mac_parse(const char *s, char ret_mac[18]) {
        guint8 octet[6];

        if (!s || strlen(s) != 17)
                return FALSE;
        for (int i = 0; i < 6; i++) {
                const char *p = s + 3 * i;
                int hi = g_ascii_xdigit_value(p[0]), lo = g_ascii_xdigit_value(p[1]);

                if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
                        return FALSE;
                octet[i] = (guint8) (hi << 4 | lo);
        }
        if (octet[0] & 1)
                return FALSE;
        g_snprintf(ret_mac, 18, "%02x:%02x:%02x:%02x:%02x:%02x", octet[0], octet[1], octet[2], octet[3],
                   octet[4], octet[5]);
        return TRUE;
}

/* libvirt's (and QEMU's) locally administered prefix 52:54:00. */
static void mac_generate(char ret_mac[18]) {
        guint32 r = g_random_int();

        g_snprintf(ret_mac, 18, "52:54:00:%02x:%02x:%02x", r & 0xff, (r >> 8) & 0xff, (r >> 16) & 0xff);
}

/* The MAC of the interface @node: checked and made canonical in the
 * document, or generated and stored there, like libvirt's define. */
static gboolean net_mac(DomainNet *net, xmlNode *node, GError **error) {
        xmlNode *mac = domain_xml_child(node, "mac");
        g_autofree char *address = domain_xml_prop(mac, "address");

        if (mac && !address)
                return domain_xml_invalid(error, mac, _("/domain/devices/interface/mac/@address is missing"));
        if (address && !domain_mac_parse(address, net->mac)) {
                g_autofree char *q = domain_schema_quote(address);
                return domain_xml_invalid(error, mac, _("/domain/devices/interface/mac/@address '%s' is not a unicast MAC address (use the form 52:54:00:xx:xx:xx)"),
                                          q);
        }
        if (!mac) {
                mac_generate(net->mac);
                mac = xmlNewDocNode(node->doc, NULL, BAD_CAST "mac", NULL);
                if (node->children)
                        xmlAddPrevSibling(node->children, mac);
                else
                        xmlAddChild(node, mac);
        }
        xmlSetProp(mac, BAD_CAST "address", BAD_CAST net->mac);
        return TRUE;
}

/* A Linux interface name: what the kernel takes (IFNAMSIZ, no '/', no blanks). */
static gboolean ifname_is_valid(const char *name) {
        if (!name || !*name || strlen(name) >= 16 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return FALSE;
        for (const char *p = name; *p; p++)
                if (*p == '/' || *p == ':' || g_ascii_isspace(*p) || !g_ascii_isprint(*p))
                        return FALSE;
        return TRUE;
}

static gboolean extract_net_name(DomainNet *net, xmlNode *node, GError **error) {
        xmlNode *source = domain_xml_child(node, "source");
        xmlNode *target = domain_xml_child(node, "target");
        g_autofree char *managed = domain_xml_prop(target, "managed");

        net->bridge = domain_xml_prop(source, "bridge");
        net->target_dev = domain_xml_prop(target, "dev");
        switch (net->type) {
        case DOMAIN_NET_BRIDGE:
                if (!ifname_is_valid(net->bridge))
                        return domain_xml_invalid(error, source ?: node, _("/domain/devices/interface/source/@bridge is missing or not an interface name (an interface of type 'bridge' needs one)"));
                /* The daemon names its taps itself. */
                g_clear_pointer(&net->target_dev, g_free);
                return TRUE;
        case DOMAIN_NET_ETHERNET:
                if (!ifname_is_valid(net->target_dev))
                        return domain_xml_invalid(error, target ?: node, _("/domain/devices/interface/target/@dev is missing or not an interface name (an interface of type 'ethernet' names an existing tap)"));
                if (g_strcmp0(managed, "no") != 0)
                        return domain_xml_invalid(error, target, _("/domain/devices/interface/target/@managed must be 'no': the tap of an interface of type 'ethernet' must exist"));
                if (net->bridge)
                        return domain_xml_invalid(error, source, _("/domain/devices/interface/source/@bridge is only for an interface of type 'bridge'"));
                return TRUE;
        default:
                if (net->bridge || net->target_dev)
                        return domain_xml_invalid(error, node, _("/domain/devices/interface of type 'user' takes neither source/@bridge nor target/@dev"));
                return TRUE;
        }
}

static gboolean extract_net(DomainDef *def, xmlNode *node, GError **error) {
        g_autofree char *type = domain_xml_prop(node, "type");
        g_autoptr(DomainNet) net = g_new0(DomainNet, 1);

        net->type = type_from_string(net_type_table, _DOMAIN_NET_MAX, type);
        if (net->type == _DOMAIN_NET_INVALID)
                return domain_xml_invalid(error, node, _("/domain/devices/interface/@type is missing"));
        net->model = domain_xml_prop(domain_xml_child(node, "model"), "type");
        if (!net->model) {
                /* libvirt's default NIC for x86, written into the definition as libvirt does. */
                xmlNode *model = xmlNewChild(node, NULL, BAD_CAST "model", NULL);
                xmlSetProp(model, BAD_CAST "type", BAD_CAST "rtl8139");
                net->model = g_strdup("rtl8139");
        }
        if (!extract_net_name(net, node, error) || !net_mac(net, node, error))
                return FALSE;
        for (guint i = 0; i < def->nets->len; i++)
                if (strcmp(((DomainNet *) def->nets->pdata[i])->mac, net->mac) == 0)
                        return domain_xml_invalid(error, node, _("/domain/devices/interface/mac/@address %s is used twice"),
                                                  net->mac);
        g_ptr_array_add(def->nets, g_steal_pointer(&net));
        return TRUE;
}

/* ---- <graphics>, <video> ---- */

static gboolean graphics_port(DomainGraphics *g, xmlNode *node, GError **error) {
        g_autofree char *port = domain_xml_prop(node, "port");
        g_autofree char *autoport = domain_xml_prop(node, "autoport");
        /* VNC takes a display number: ports below 5900 cannot be asked for. */
        gint64 min = g->type == DOMAIN_GRAPHICS_VNC ? 5900 : 1;
        gint64 v = -1;

        if (port && strcmp(port, "-1") != 0 &&
            !g_ascii_string_to_signed(port, 10, min, 65535, &v, NULL)) {
                g_autofree char *q = domain_schema_quote(port);
                return domain_xml_invalid(error, node, _("/domain/devices/graphics/@port must be -1 or a port from %d to 65535, not '%s'"),
                                          (int) min, q);
        }
        /* libvirt: autoport defaults to yes without a port, and wins over one. */
        g->autoport = autoport ? strcmp(autoport, "yes") == 0 : v < 0;
        if (!g->autoport && v < 0)
                return domain_xml_invalid(error, node, _("/domain/devices/graphics needs @port when @autoport is 'no'"));
        g->port = g->autoport ? -1 : (int) v;
        return TRUE;
}

/* GLib takes anything after an IPv6 address's '%' as its zone, commas
 * too; QEMU reads the address within its -vnc and -spice options, where a
 * comma starts an option of its own ("disable-ticketing=on"). A zone is
 * an interface name. */
static gboolean listen_is_valid(const char *address) {
        if (!g_hostname_is_ip_address(address))
                return FALSE;
        for (const char *p = address; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr(".:%_-", *p))
                        return FALSE;
        return TRUE;
}

static gboolean graphics_listen(DomainGraphics *g, xmlNode *node, GError **error) {
        xmlNode *listen = domain_xml_child(node, "listen");
        g_autofree char *attr = domain_xml_prop(node, "listen");
        g_autofree char *child = domain_xml_prop(listen, "address");

        if (attr && child && strcmp(attr, child) != 0)
                return domain_xml_invalid(error, listen, _("/domain/devices/graphics/@listen and listen/@address differ"));
        g->listen = attr ? g_steal_pointer(&attr) : g_steal_pointer(&child);
        if (g->listen && !listen_is_valid(g->listen)) {
                g_autofree char *q = domain_schema_quote(g->listen);
                return domain_xml_invalid(error, node, _("/domain/devices/graphics listen address '%s' is not an IP address"), q);
        }
        return TRUE;
}

static gboolean extract_graphics(DomainDef *def, xmlNode *node, GError **error) {
        g_autofree char *type = domain_xml_prop(node, "type");
        g_autoptr(DomainGraphics) g = g_new0(DomainGraphics, 1);

        g->type = type_from_string(graphics_type_table, _DOMAIN_GRAPHICS_MAX, type);
        if (g->type == _DOMAIN_GRAPHICS_INVALID)
                return domain_xml_invalid(error, node, _("/domain/devices/graphics/@type is missing"));
        for (guint i = 0; i < def->graphics->len; i++)
                if (((DomainGraphics *) def->graphics->pdata[i])->type == g->type)
                        return domain_xml_invalid(error, node, _("/domain/devices/graphics of type '%s' may appear only once"),
                                                  type);
        if (!graphics_port(g, node, error) || !graphics_listen(g, node, error))
                return FALSE;
        g->passwd = domain_xml_prop(node, "passwd");
        g->node = node;
        g_ptr_array_add(def->graphics, g_steal_pointer(&g));
        return TRUE;
}

static gboolean extract_video(DomainDef *def, xmlNode *node, GError **error) {
        if (def->video_model)
                return domain_xml_invalid(error, node, _("/domain/devices/video: only one video device is supported"));
        xmlNode *model = domain_xml_child(node, "model");
        static const char *const sizes[] = { "ram", "vram", "vgamem" };
        guint64 *fields[] = { &def->video_ram_kib, &def->video_vram_kib, &def->video_vgamem_kib };

        def->video_model = domain_xml_prop(model, "type");
        if (!def->video_model)
                return domain_xml_invalid(error, node, _("/domain/devices/video/model/@type is missing"));
        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
                g_autofree char *v = domain_xml_prop(model, sizes[i]);

                if (!v)
                        continue;
                /* KiB, powers of two from 1 MiB to 1 GiB: what QXL takes. */
                if (!g_ascii_string_to_unsigned(v, 10, 1024, 1024 * 1024, fields[i], NULL) ||
                    (*fields[i] & (*fields[i] - 1)) != 0) {
                        g_autofree char *q = domain_schema_quote(v);
                        return domain_xml_invalid(error, model, _("/domain/devices/video/model/@%s must be a power of two from 1024 to 1048576 (KiB), not '%s'"),
                                                  sizes[i], q);
                }
                if (!g_str_equal(def->video_model, "qxl"))
                        return domain_xml_invalid(error, model, _("/domain/devices/video/model/@%s is only for model 'qxl'"),
                                                  sizes[i]);
        }
        return TRUE;
}

/* ---- <channel>, <rng>, <input>, <controller type='usb'> ---- */

static gboolean extract_channel(DomainDef *def, xmlNode *node, GError **error) {
        xmlNode *source = domain_xml_child(node, "source");
        xmlNode *target = domain_xml_child(node, "target");
        g_autofree char *mode = domain_xml_prop(source, "mode");
        g_autoptr(DomainChannel) ch = g_new0(DomainChannel, 1);

        ch->target_name = domain_xml_prop(target, "name");
        if (!target || !ch->target_name || !*ch->target_name)
                return domain_xml_invalid(error, target ?: node, _("/domain/devices/channel/target/@name is missing"));
        if (!domain_def_is_plain_name(ch->target_name))
                return domain_xml_invalid(error, target, _("/domain/devices/channel/target/@name may contain only letters, digits, '.', '_' and '-'"));
        /* QEMU serves the socket; the guest agent's client connects. */
        if (mode && strcmp(mode, "bind") != 0)
                return domain_xml_invalid(error, source, _("/domain/devices/channel/source/@mode must be 'bind'"));
        ch->path = domain_xml_prop(source, "path");
        if (ch->path && !g_path_is_absolute(ch->path))
                return domain_xml_invalid(error, source, _("/domain/devices/channel/source/@path must be absolute"));
        ch->node = node;
        g_ptr_array_add(def->channels, g_steal_pointer(&ch));
        return TRUE;
}

static gboolean extract_rng(DomainDef *def, xmlNode *node, GError **error) {
        g_autofree char *file = domain_xml_text(domain_xml_child(node, "backend"));

        if (def->rng_backend)
                return domain_xml_invalid(error, node, _("/domain/devices/rng: only one RNG device is supported"));
        if (!file)
                return domain_xml_invalid(error, node, _("/domain/devices/rng/backend is missing"));
        g_strstrip(file);
        /* libvirt's default source. */
        def->rng_backend = *file ? g_steal_pointer(&file) : g_strdup("/dev/urandom");
        if (!g_str_equal(def->rng_backend, "/dev/urandom") && !g_str_equal(def->rng_backend, "/dev/random") &&
            !g_str_equal(def->rng_backend, "/dev/hwrng")) {
                g_autofree char *q = domain_schema_quote(def->rng_backend);
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("Unsupported value /domain/devices/rng/backend='%s' at line %ld: supported values are: /dev/urandom /dev/random /dev/hwrng"),
                            q, xmlGetLineNo(node));
                return FALSE;
        }
        return TRUE;
}

/* A tablet is a USB device (libvirt's default bus for it; 'ps2' is refused
 * at Start); a mouse or keyboard is one on bus 'usb', else the machine's
 * own PS/2 device. */
static void extract_input(DomainDef *def, xmlNode *node) {
        g_autofree char *type = domain_xml_prop(node, "type");
        g_autofree char *bus = domain_xml_prop(node, "bus");

        if (g_strcmp0(type, "tablet") == 0)
                def->usb_tablet = TRUE;
        else if (g_strcmp0(bus, "usb") == 0 && g_strcmp0(type, "mouse") == 0)
                def->usb_mouse = TRUE;
        else if (g_strcmp0(bus, "usb") == 0 && g_strcmp0(type, "keyboard") == 0)
                def->usb_keyboard = TRUE;
}

/* <memballoon model='virtio' autodeflate=...>; model 'none' has no device. */
static void extract_balloon(DomainDef *def, xmlNode *node) {
        g_autofree char *model = domain_xml_prop(node, "model");
        g_autofree char *autodeflate = domain_xml_prop(node, "autodeflate");

        def->balloon = g_strcmp0(model, "virtio") == 0;
        def->balloon_autodeflate = def->balloon && g_strcmp0(autodeflate, "on") == 0;
}

static gboolean extract_controller(DomainDef *def, xmlNode *node, GError **error) {
        g_autofree char *type = domain_xml_prop(node, "type");
        g_autofree char *index = domain_xml_prop(node, "index");
        g_autofree char *ports = domain_xml_prop(node, "ports");
        guint64 v = 0;

        if (g_strcmp0(type, "virtio-serial") == 0 && (!index || strcmp(index, "0") == 0))
                def->virtio_serial = TRUE;
        if (g_strcmp0(type, "usb") != 0)
                return TRUE;
        if (index && strcmp(index, "0") != 0)
                return TRUE;    /* kept; refused at Start (domain-def-runtime.c) */
        g_free(def->usb_model);
        def->usb_model = domain_xml_prop(node, "model");
        def->usb_controller = g_strcmp0(def->usb_model, "none") != 0;
        if (ports && !domain_def_parse_uint(node, ports, 1, 15, "/domain/devices/controller/@ports", &v, error))
                return FALSE;
        def->usb_ports = ports ? (guint) v : 0;
        return TRUE;
}

/* A display without a video device would show nothing: libvirt adds one to
 * the definition; so does this. */
static void default_video(DomainDef *def, xmlNode *devices) {
        xmlNode *video, *model;

        if (def->graphics->len == 0 || def->video_model)
                return;
        video = xmlNewChild(devices, NULL, BAD_CAST "video", NULL);
        model = xmlNewChild(video, NULL, BAD_CAST "model", NULL);
        xmlSetProp(model, BAD_CAST "type", BAD_CAST "vga");
        def->video_model = g_strdup("vga");
}

static gboolean check_usb(DomainDef *def, xmlNode *devices, GError **error) {
        if (def->usb_tablet && g_strcmp0(def->usb_model, "none") == 0)
                return domain_xml_invalid(error, devices, _("/domain/devices/input of type 'tablet' needs a USB controller, but controller/@model is 'none'"));
        return TRUE;
}

static gboolean extract_one(DomainDef *def, xmlNode *n, GError **error) {
        const char *name = (const char *) n->name;

        if (strcmp(name, "interface") == 0)
                return extract_net(def, n, error);
        if (strcmp(name, "graphics") == 0)
                return extract_graphics(def, n, error);
        if (strcmp(name, "video") == 0)
                return extract_video(def, n, error);
        if (strcmp(name, "channel") == 0)
                return extract_channel(def, n, error);
        if (strcmp(name, "rng") == 0)
                return extract_rng(def, n, error);
        if (strcmp(name, "controller") == 0)
                return extract_controller(def, n, error);
        if (strcmp(name, "input") == 0)
                extract_input(def, n);
        if (strcmp(name, "memballoon") == 0)
                extract_balloon(def, n);
        return TRUE;
}

gboolean domain_def_extract_peripherals(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *devices = domain_xml_child(root, "devices");

        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && !extract_one(def, n, error))
                        return FALSE;
        if (devices)
                default_video(def, devices);
        return check_usb(def, devices, error);
}

/* ---- Changing ---- */

void domain_def_set_graphics_port(DomainDef *def, guint index, int port) {
        DomainGraphics *g;
        DomainDef *edit;
        xmlDoc *doc;
        char text[16];

        g_return_if_fail(def && index < def->graphics->len && port > 0 && port <= 65535);

        g = def->graphics->pdata[index];
        g->port = port;
        g_snprintf(text, sizeof text, "%d", port);
        edit = domain_def_edit_begin(def, &doc);
        g = edit->graphics->pdata[index];
        xmlSetProp(g->node, BAD_CAST "port", BAD_CAST text);
        domain_def_edit_end(def, edit, doc);
}

void domain_def_set_channel_path(DomainDef *def, guint index, const char *path) {
        DomainChannel *ch;
        DomainDef *edit;
        xmlNode *source;
        xmlDoc *doc;

        g_return_if_fail(def && index < def->channels->len && path && *path);

        edit = domain_def_edit_begin(def, &doc);
        ch = edit->channels->pdata[index];
        source = domain_xml_child(ch->node, "source");
        if (!source) {
                source = xmlNewDocNode(ch->node->doc, NULL, BAD_CAST "source", NULL);
                if (ch->node->children)
                        xmlAddPrevSibling(ch->node->children, source);
                else
                        xmlAddChild(ch->node, source);
        }
        xmlSetProp(source, BAD_CAST "mode", BAD_CAST "bind");
        xmlSetProp(source, BAD_CAST "path", BAD_CAST path);
        domain_def_edit_end(def, edit, doc);
        ch = def->channels->pdata[index];
        g_free(ch->path);
        ch->path = g_strdup(path);
}
