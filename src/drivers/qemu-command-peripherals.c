/* The peripherals' part of the QEMU command line: NICs, displays, video,
 * guest agent channels, the RNG, the balloon and the USB tablet. Like qemu-command.c,
 * pure; the daemon has already opened the taps, chosen the display ports
 * and the channel paths (src/core/domain-devices.c). */
#include <string.h>

#include "md-error.h"
#include "qemu-command-private.h"
#include "qemu-command.h"
#include "qemu-option.h"

G_GNUC_PRINTF(2, 3)
static gboolean unsupported(GError **error, const char *fmt, ...) {
        g_autofree char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        what = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED, "The QEMU driver cannot start a domain with %s", what);
        return FALSE;
}

static const char *nic_device(const char *model) {
        if (g_strcmp0(model, "virtio") == 0)
                return "virtio-net-pci";
        if (g_strcmp0(model, "e1000e") == 0)
                return "e1000e";
        if (g_strcmp0(model, "rtl8139") == 0)
                return "rtl8139";
        return NULL;
}

static gboolean add_nets(GPtrArray *argv, const DomainDef *def, const QemuCommandOptions *options,
                         GError **error) {
        for (guint i = 0; i < def->nets->len; i++) {
                const DomainNet *net = def->nets->pdata[i];
                const char *device = nic_device(net->model);

                if (!device)
                        return unsupported(error, "NIC model '%s'", net->model);
                qemu_argv_add(argv, "-netdev");
                if (net->type == DOMAIN_NET_USER)
                        qemu_argv_addf(argv, "user,id=net%u", i);
                else if (i < options->n_net_fds && options->net_fds[i] >= 0)
                        qemu_argv_addf(argv, "tap,id=net%u,fd=%d", i, options->net_fds[i]);
                else
                        return unsupported(error, "interface %s without an open tap", net->mac);
                qemu_argv_add(argv, "-device");
                qemu_argv_addf(argv, "%s,netdev=net%u,mac=%s,id=nic%u", device, i, net->mac, i);
        }
        return TRUE;
}

/* QEMU wants an IPv6 address in brackets where a port follows. */
static char *host_part(const char *address) {
        if (!address)
                return g_strdup("127.0.0.1");
        return strchr(address, ':') ? g_strdup_printf("[%s]", address) : g_strdup(address);
}

/* The password is never on the command line (any local user reads that):
 * QEMU starts requiring one, and the daemon sets it over the monitor. */
static gboolean add_graphics(GPtrArray *argv, const DomainDef *def, GError **error) {
        for (guint i = 0; i < def->graphics->len; i++) {
                const DomainGraphics *g = def->graphics->pdata[i];
                g_autofree char *host = host_part(g->listen);

                if (g->port <= 0)
                        return unsupported(error, "a %s display whose port is not chosen yet",
                                           domain_graphics_type_to_string(g->type));
                if (g->type == DOMAIN_GRAPHICS_VNC) {
                        qemu_argv_add(argv, "-vnc");
                        qemu_argv_addf(argv, "%s:%d%s", host, g->port - 5900, g->passwd ? ",password=on" : "");
                } else {
                        qemu_argv_add(argv, "-spice");
                        qemu_argv_addf(argv, "port=%d,addr=%s%s", g->port, g->listen ? g->listen : "127.0.0.1",
                             g->passwd ? "" : ",disable-ticketing=on");
                }
        }
        return TRUE;
}

static void add_video(GPtrArray *argv, const DomainDef *def) {
        const char *model = def->video_model;

        if (!model || g_str_equal(model, "none"))
                return;
        qemu_argv_add(argv, "-device");
        if (g_str_equal(model, "virtio"))
                qemu_argv_add(argv, "virtio-vga,id=video0");
        else if (g_str_equal(model, "vga"))
                qemu_argv_add(argv, "VGA,id=video0");
        else {
                GString *s = g_string_new("qxl-vga,id=video0");

                if (def->video_ram_kib)
                        g_string_append_printf(s, ",ram_size=%" G_GUINT64_FORMAT, def->video_ram_kib * 1024);
                if (def->video_vram_kib)
                        g_string_append_printf(s, ",vram_size=%" G_GUINT64_FORMAT, def->video_vram_kib * 1024);
                if (def->video_vgamem_kib)
                        g_string_append_printf(s, ",vgamem_mb=%" G_GUINT64_FORMAT, def->video_vgamem_kib / 1024);
                g_ptr_array_add(argv, g_string_free(s, FALSE));
        }
}

static gboolean has_virtio_console(const DomainDef *def) {
        for (guint i = 0; i < def->chardevs->len; i++)
                if (g_strcmp0(((DomainChardev *) def->chardevs->pdata[i])->target_type, "virtio") == 0)
                        return TRUE;
        return FALSE;
}

/* On the virtio-serial controller a virtio console brings along
 * (qemu-command.c), or a new one with the same id; one the definition
 * names is there without ports too, as under libvirt. */
static gboolean add_channels(GPtrArray *argv, const DomainDef *def, GError **error) {
        if ((def->channels->len > 0 || def->virtio_serial) && !has_virtio_console(def)) {
                qemu_argv_add(argv, "-device");
                qemu_argv_add(argv, "virtio-serial-pci,id=virtio-serial0");
        }
        for (guint i = 0; i < def->channels->len; i++) {
                const DomainChannel *ch = def->channels->pdata[i];
                g_autofree char *path = NULL;

                if (!ch->path)
                        return unsupported(error, "channel %s without a socket path", ch->target_name);
                path = qemu_option_escape(ch->path);
                qemu_argv_add(argv, "-chardev");
                qemu_argv_addf(argv, "socket,id=channel%u,path=%s,server=on,wait=off", i, path);
                qemu_argv_add(argv, "-device");
                qemu_argv_addf(argv, "virtserialport,bus=virtio-serial0.0,chardev=channel%u,name=%s", i,
                               ch->target_name);
        }
        return TRUE;
}

static void add_rng(GPtrArray *argv, const DomainDef *def) {
        if (!def->rng_backend)
                return;
        qemu_argv_add(argv, "-object");
        qemu_argv_addf(argv, "rng-random,id=objrng0,filename=%s", def->rng_backend);
        qemu_argv_add(argv, "-device");
        qemu_argv_add(argv, "virtio-rng-pci,rng=objrng0,id=rng0");
}

/* libvirt's virtio balloon. The daemon does not drive it (no target set
 * at start, no statistics polled): the guest's driver has it, and
 * autodeflate lets the guest take memory back when it runs short. */
static void add_balloon(GPtrArray *argv, const DomainDef *def) {
        if (!def->balloon)
                return;
        qemu_argv_add(argv, "-device");
        qemu_argv_addf(argv, "virtio-balloon-pci,id=balloon0%s", def->balloon_autodeflate ? ",deflate-on-oom=on" : "");
}

static gboolean machine_is_q35(const char *machine) {
        return machine && (g_str_equal(machine, "q35") || g_str_has_prefix(machine, "pc-q35"));
}

static const char *usb_device(const DomainDef *def) {
        const char *model = def->usb_model;

        if (!model)
                return machine_is_q35(def->machine) ? "qemu-xhci" : "piix3-usb-uhci";
        if (g_str_equal(model, "qemu-xhci"))
                return "qemu-xhci";
        if (g_str_equal(model, "nec-xhci"))
                return "nec-usb-xhci";
        if (g_str_equal(model, "piix3-uhci"))
                return "piix3-usb-uhci";
        return NULL;
}

/* The USB controller the definition names (libvirt creates it whether or
 * not a device uses it), or the machine's default one for a USB device;
 * then the USB tablet, mouse and keyboard. */
static gboolean add_usb(GPtrArray *argv, const DomainDef *def, GError **error) {
        const char *device = usb_device(def);
        g_autofree char *ports = def->usb_ports ? g_strdup_printf(",p2=%u,p3=%u", def->usb_ports, def->usb_ports)
                                                : g_strdup("");

        if (!def->usb_controller && !def->usb_tablet && !def->usb_mouse && !def->usb_keyboard)
                return TRUE;
        if (!device)
                return unsupported(error, "USB controller model '%s' (supported: qemu-xhci, nec-xhci, piix3-uhci)",
                                   def->usb_model);
        /* Root hub ports (USB 2 and 3) are an xHCI setting. */
        if (def->usb_ports && !g_str_has_suffix(device, "xhci"))
                return unsupported(error, "ports on USB controller model '%s' (only qemu-xhci, nec-xhci)",
                                   def->usb_model ? def->usb_model : "piix3-uhci");
        qemu_argv_add(argv, "-device");
        qemu_argv_addf(argv, "%s,id=usb%s", device, ports);
        if (def->usb_tablet) {
                qemu_argv_add(argv, "-device");
                qemu_argv_add(argv, "usb-tablet,id=input0,bus=usb.0");
        }
        if (def->usb_mouse) {
                qemu_argv_add(argv, "-device");
                qemu_argv_add(argv, "usb-mouse,id=input1,bus=usb.0");
        }
        if (def->usb_keyboard) {
                qemu_argv_add(argv, "-device");
                qemu_argv_add(argv, "usb-kbd,id=input2,bus=usb.0");
        }
        return TRUE;
}

gboolean qemu_command_add_peripherals(GPtrArray *argv, const DomainDef *def, const QemuCommandOptions *options,
                                      GError **error) {
        if (!add_nets(argv, def, options, error) || !add_graphics(argv, def, error))
                return FALSE;
        add_video(argv, def);
        if (!add_channels(argv, def, error) || !add_usb(argv, def, error))
                return FALSE;
        add_rng(argv, def);
        add_balloon(argv, def);
        return TRUE;
}
