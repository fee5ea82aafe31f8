/* The whitelist of the domain XML subset migrationd understands.
 *
 * Refusing what is not listed (rather than ignoring it, as a tolerant parser
 * would) is the point: a guest that silently loses its NIC or its TPM on
 * the way through migrationd is worse than one that is refused with the
 * name of the element to remove. */
#include <string.h>

#include "domain-schema.h"
#include "i18n.h"
#include "md-error.h"

typedef struct {
        const char *name;
        const char *values;     /* space-separated; NULL = any value */
} SchemaAttr;

typedef struct {
        const char *path;
        gboolean repeat;        /* may appear more than once in its parent */
        const char *text;       /* NULL = no text, "*" = any, else allowed values */
        gboolean opaque;        /* children are namespaced and kept unchecked (<metadata>) */
        SchemaAttr attrs[10];
} SchemaElement;

#define TEXT "*"
#define ON_OFF "on off"
#define YES_NO "yes no"
#define STATE { "state", ON_OFF }
#define PCI_OR_DRIVE_ADDRESS                                            \
        { "type", "drive pci" }, { "controller" }, { "bus" },           \
        { "target" }, { "unit" }, { "domain" }, { "slot" },             \
        { "function" }, { "multifunction", ON_OFF }
#define HYPERV(n) { "/domain/features/hyperv/" n, .attrs = { STATE } }
#define KVM(n) { "/domain/features/kvm/" n, .attrs = { STATE } }
#define CPUTUNE(n) { "/domain/cputune/" n, .text = TEXT }

/* Parents come before their children; the order is otherwise free. */
static const SchemaElement schema[] = {
        { "/domain", .attrs = { { "type", "kvm qemu" } } },
        { "/domain/name", .text = TEXT },
        { "/domain/uuid", .text = TEXT },
        { "/domain/title", .text = TEXT },
        { "/domain/description", .text = TEXT },
        /* Applications' own data, one element per namespace (libosinfo's). */
        { "/domain/metadata", .opaque = TRUE },

        { "/domain/memory", .text = TEXT, .attrs = { { "unit" } } },
        { "/domain/currentMemory", .text = TEXT, .attrs = { { "unit" } } },
        { "/domain/maxMemory", .text = TEXT, .attrs = { { "unit" }, { "slots" } } },
        { "/domain/memoryBacking" },
        { "/domain/memoryBacking/hugepages" },
        /* Repeated only with @nodeset in libvirt, which is not supported:
         * domain-def-memory.c refuses a second <page> by name. */
        { "/domain/memoryBacking/hugepages/page", .repeat = TRUE, .attrs = { { "size" }, { "unit" } } },
        /* @threads is checked where it is read (domain-def.c). */
        { "/domain/memoryBacking/allocation",
          .attrs = { { "mode", "immediate ondemand" }, { "threads" } } },

        { "/domain/vcpu", .text = TEXT,
          .attrs = { { "placement", "static" }, { "cpuset" }, { "current" } } },
        { "/domain/cputune" },
        CPUTUNE("shares"),
        CPUTUNE("period"),
        CPUTUNE("quota"),
        CPUTUNE("global_period"),
        CPUTUNE("global_quota"),
        CPUTUNE("emulator_period"),
        CPUTUNE("emulator_quota"),
        CPUTUNE("iothread_period"),
        CPUTUNE("iothread_quota"),
        { "/domain/cputune/vcpupin", .repeat = TRUE, .attrs = { { "vcpu" }, { "cpuset" } } },
        { "/domain/cputune/emulatorpin", .attrs = { { "cpuset" } } },
        { "/domain/cpu",
          .attrs = { { "mode", "custom host-model host-passthrough maximum" },
                     { "match", "exact minimum strict" },
                     { "check", "none partial full" },
                     { "migratable", ON_OFF } } },
        { "/domain/cpu/model", .text = TEXT, .attrs = { { "fallback", "allow forbid" } } },
        { "/domain/cpu/topology",
          .attrs = { { "sockets" }, { "dies" }, { "cores" }, { "threads" } } },
        { "/domain/cpu/feature", .repeat = TRUE,
          .attrs = { { "name" }, { "policy", "force require optional disable forbid" } } },

        { "/domain/os", .attrs = { { "firmware", "bios efi" } } },
        { "/domain/os/type", .text = "hvm",
          .attrs = { { "arch", "i686 x86_64" }, { "machine" } } },
        { "/domain/os/loader", .text = TEXT,
          .attrs = { { "readonly", YES_NO }, { "secure", YES_NO }, { "type", "rom pflash" } } },
        { "/domain/os/nvram", .text = TEXT, .attrs = { { "template" } } },
        { "/domain/os/boot", .repeat = TRUE, .attrs = { { "dev", "hd cdrom fd network" } } },
        { "/domain/os/bootmenu", .attrs = { { "enable", YES_NO }, { "timeout" } } },
        { "/domain/os/bios", .attrs = { { "useserial", YES_NO }, { "rebootTimeout" } } },
        { "/domain/os/kernel", .text = TEXT },
        { "/domain/os/initrd", .text = TEXT },
        { "/domain/os/cmdline", .text = TEXT },

        { "/domain/features" },
        { "/domain/features/acpi" },
        { "/domain/features/apic", .attrs = { { "eoi", ON_OFF } } },
        { "/domain/features/pae" },
        { "/domain/features/pmu", .attrs = { STATE } },
        { "/domain/features/vmport", .attrs = { STATE } },
        { "/domain/features/hyperv", .attrs = { { "mode", "custom passthrough" } } },
        HYPERV("relaxed"),
        HYPERV("vapic"),
        HYPERV("vpindex"),
        HYPERV("runtime"),
        HYPERV("synic"),
        HYPERV("stimer"),
        HYPERV("reset"),
        HYPERV("frequencies"),
        HYPERV("reenlightenment"),
        HYPERV("tlbflush"),
        HYPERV("ipi"),
        HYPERV("evmcs"),
        { "/domain/features/hyperv/spinlocks", .attrs = { STATE, { "retries" } } },
        { "/domain/features/hyperv/vendor_id", .attrs = { STATE, { "value" } } },
        { "/domain/features/kvm" },
        KVM("hidden"),
        KVM("hint-dedicated"),
        KVM("poll-control"),
        KVM("pv-ipi"),

        { "/domain/clock", .attrs = { { "offset", "utc localtime" } } },
        { "/domain/clock/timer", .repeat = TRUE,
          .attrs = { { "name", "pit rtc hpet kvmclock hypervclock tsc" },
                     { "present", YES_NO },
                     { "tickpolicy", "delay catchup merge discard" } } },
        { "/domain/on_poweroff", .text = "destroy restart" },
        { "/domain/on_reboot", .text = "destroy restart" },
        { "/domain/on_crash", .text = "destroy restart" },
        { "/domain/pm" },
        { "/domain/pm/suspend-to-mem", .attrs = { { "enabled", YES_NO } } },
        { "/domain/pm/suspend-to-disk", .attrs = { { "enabled", YES_NO } } },

        { "/domain/devices" },
        { "/domain/devices/emulator", .text = TEXT },

        /* Block and nbd disks are kept in the document but not extracted; see
         * domain_def_has_unsupported_runtime(). */
        { "/domain/devices/disk", .repeat = TRUE,
          .attrs = { { "type", "file block network" }, { "device", "disk cdrom floppy" } } },
        { "/domain/devices/disk/driver",
          .attrs = { { "name", "qemu" },
                     { "type", "raw qcow2" },
                     { "cache", "default none writethrough writeback directsync unsafe" },
                     { "io", "native threads io_uring" },
                     { "discard", "unmap ignore" } } },
        { "/domain/devices/disk/source",
          .attrs = { { "file" }, { "dev" }, { "protocol", "nbd" }, { "name" } } },
        { "/domain/devices/disk/source/host",
          .attrs = { { "name" }, { "port" }, { "transport", "tcp unix" }, { "socket" } } },
        { "/domain/devices/disk/target",
          .attrs = { { "dev" }, { "bus", "virtio sata ide scsi fdc usb" } } },
        { "/domain/devices/disk/readonly" },
        { "/domain/devices/disk/shareable" },
        { "/domain/devices/disk/address", .attrs = { PCI_OR_DRIVE_ADDRESS } },

        /* tcp chardevs are kept but not extracted, like block disks. */
        { "/domain/devices/serial", .repeat = TRUE,
          .attrs = { { "type", "file pty unix tcp null" } } },
        { "/domain/devices/serial/source",
          .attrs = { { "path" }, { "append", ON_OFF }, { "mode", "bind connect" },
                     { "host" }, { "service" } } },
        { "/domain/devices/serial/protocol", .attrs = { { "type", "raw telnet" } } },
        { "/domain/devices/serial/target", .attrs = { { "type", "isa-serial" }, { "port" } } },
        { "/domain/devices/serial/target/model", .attrs = { { "name", "isa-serial" } } },
        { "/domain/devices/serial/log", .attrs = { { "file" }, { "append", ON_OFF } } },
        { "/domain/devices/console", .repeat = TRUE,
          .attrs = { { "type", "file pty unix tcp null" } } },
        { "/domain/devices/console/source",
          .attrs = { { "path" }, { "append", ON_OFF }, { "mode", "bind connect" },
                     { "host" }, { "service" } } },
        { "/domain/devices/console/protocol", .attrs = { { "type", "raw telnet" } } },
        { "/domain/devices/console/target", .attrs = { { "type", "serial virtio" }, { "port" } } },
        { "/domain/devices/console/log", .attrs = { { "file" }, { "append", ON_OFF } } },

        { "/domain/devices/controller", .repeat = TRUE,
          .attrs = { { "type", "usb ide fdc sata pci virtio-serial" },
                     { "index" }, { "model" }, { "ports" }, { "vectors" } } },
        { "/domain/devices/controller/address", .attrs = { PCI_OR_DRIVE_ADDRESS } },
        { "/domain/devices/controller/master", .attrs = { { "startport" } } },
        { "/domain/devices/controller/model", .attrs = { { "name" } } },
        { "/domain/devices/controller/target",
          .attrs = { { "chassisNr" }, { "chassis" }, { "port" }, { "busNr" },
                     { "hotplug", ON_OFF } } },
        { "/domain/devices/input", .repeat = TRUE,
          .attrs = { { "type", "mouse keyboard tablet" }, { "bus", "ps2 usb" } } },
        { "/domain/devices/memballoon",
          .attrs = { { "model", "virtio none" }, { "autodeflate", ON_OFF } } },
        { "/domain/devices/memballoon/address", .attrs = { PCI_OR_DRIVE_ADDRESS } },
        { "/domain/devices/memballoon/stats", .attrs = { { "period" } } },
        { "/domain/devices/audio", .attrs = { { "id" }, { "type", "none" } } },

        /* Peripherals: domain-def-peripherals.c. */
        { "/domain/devices/interface", .repeat = TRUE,
          .attrs = { { "type", "bridge ethernet user" } } },
        { "/domain/devices/interface/mac", .attrs = { { "address" } } },
        { "/domain/devices/interface/source", .attrs = { { "bridge" } } },
        { "/domain/devices/interface/target", .attrs = { { "dev" }, { "managed", "no" } } },
        { "/domain/devices/interface/model", .attrs = { { "type", "virtio e1000e rtl8139" } } },
        { "/domain/devices/interface/address", .attrs = { PCI_OR_DRIVE_ADDRESS } },
        { "/domain/devices/graphics", .repeat = TRUE,
          .attrs = { { "type", "vnc spice" }, { "port" }, { "autoport", YES_NO },
                     { "listen" }, { "passwd" } } },
        { "/domain/devices/graphics/listen",
          .attrs = { { "type", "address" }, { "address" } } },
        { "/domain/devices/video", .repeat = TRUE },
        { "/domain/devices/video/model",
          .attrs = { { "type", "virtio vga qxl none" }, { "heads", "1" }, { "primary", "yes" },
                     { "ram" }, { "vram" }, { "vgamem" } } },
        { "/domain/devices/video/address", .attrs = { PCI_OR_DRIVE_ADDRESS } },
        { "/domain/devices/channel", .repeat = TRUE, .attrs = { { "type", "unix" } } },
        { "/domain/devices/channel/source", .attrs = { { "mode", "bind" }, { "path" } } },
        { "/domain/devices/channel/target", .attrs = { { "type", "virtio" }, { "name" } } },
        { "/domain/devices/rng", .repeat = TRUE, .attrs = { { "model", "virtio" } } },
        { "/domain/devices/rng/backend", .text = TEXT,
          .attrs = { { "model", "random" } } },
        { "/domain/devices/rng/address", .attrs = { PCI_OR_DRIVE_ADDRESS } },
};

static const SchemaElement *schema_lookup(const char *path) {
        for (size_t i = 0; i < G_N_ELEMENTS(schema); i++)
                if (strcmp(schema[i].path, path) == 0)
                        return &schema[i];
        return NULL;
}

static gboolean word_in_list(const char *word, const char *list) {
        size_t n = strlen(word);

        if (n == 0 || strchr(word, ' '))
                return FALSE;
        for (const char *p = list; p; p = strchr(p, ' ')) {
                if (*p == ' ')
                        p++;
                if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
                        return TRUE;
        }
        return FALSE;
}

char *domain_schema_quote(const char *s) {
        g_autofree char *copy = NULL;

        if (!s)
                return g_strdup("");
        /* libxml2 hands out valid UTF-8, so cutting by characters is safe. */
        if (g_utf8_strlen(s, -1) > 64) {
                g_autofree char *head = g_utf8_substring(s, 0, 64);
                copy = g_strconcat(head, "…", NULL);
        } else
                copy = g_strdup(s);
        for (char *p = copy; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return g_steal_pointer(&copy);
}

/* "name" or "prefix:name", as written in the document. */
static char *node_qname(const xmlChar *name, const xmlNs *ns) {
        if (ns && ns->prefix)
                return g_strdup_printf("%s:%s", (const char *) ns->prefix, (const char *) name);
        return g_strdup((const char *) name);
}

static gboolean is_blank(const xmlChar *s) {
        for (; s && *s; s++)
                if (!g_ascii_isspace(*s))
                        return FALSE;
        return TRUE;
}

static gboolean check_attributes(xmlNode *node, const SchemaElement *el, const char *path,
                                 GError **error) {
        for (xmlAttr *a = node->properties; a; a = a->next) {
                const SchemaAttr *attr = NULL;
                g_autofree char *qname = node_qname(a->name, a->ns);

                for (size_t i = 0; !a->ns && i < G_N_ELEMENTS(el->attrs) && el->attrs[i].name; i++)
                        if (strcmp(el->attrs[i].name, (const char *) a->name) == 0)
                                attr = &el->attrs[i];
                if (!attr) {
                        g_autofree char *q = domain_schema_quote(qname);
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("Unsupported attribute %s/@%s at line %ld: remove it or use libvirt"),
                                    path, q, xmlGetLineNo(node));
                        return FALSE;
                }
                if (attr->values) {
                        xmlChar *raw = xmlNodeGetContent((xmlNode *) a);
                        g_autofree char *value = g_strdup((const char *) raw);
                        xmlFree(raw);
                        if (!value || !word_in_list(value, attr->values)) {
                                g_autofree char *q = domain_schema_quote(value);
                                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                            _("Unsupported value %s/@%s='%s' at line %ld: supported values are: %s"),
                                            path, attr->name, q, xmlGetLineNo(node), attr->values);
                                return FALSE;
                        }
                }
        }
        return TRUE;
}

static gboolean has_earlier_sibling(xmlNode *node) {
        for (xmlNode *n = node->prev; n; n = n->prev)
                if (n->type == XML_ELEMENT_NODE && !n->ns && xmlStrEqual(n->name, node->name))
                        return TRUE;
        return FALSE;
}

static gboolean check_element(xmlNode *node, const SchemaElement *el, const char *path,
                              GError **error);

/* A child element: known to the schema at its path, repeated only where
 * allowed, and valid itself. */
static gboolean check_child_element(xmlNode *child, const char *path, GError **error) {
        g_autofree char *qname = node_qname(child->name, child->ns);
        g_autofree char *child_path = g_strconcat(path, "/", qname, NULL);
        const SchemaElement *child_el = child->ns ? NULL : schema_lookup(child_path);

        if (!child_el) {
                g_autofree char *q = domain_schema_quote(child_path);
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("Unsupported element %s at line %ld: remove it or use libvirt"),
                            q, xmlGetLineNo(child));
                return FALSE;
        }
        /* libvirt would read the first and ignore the rest. */
        if (!child_el->repeat && has_earlier_sibling(child)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                            _("Invalid domain XML at line %ld: %s may appear only once"),
                            xmlGetLineNo(child), child_path);
                return FALSE;
        }
        return check_element(child, child_el, child_path, error);
}

/* Text inside an element without text: only blanks, which go (and @child with them). */
static gboolean check_text_node(xmlNode *child, const SchemaElement *el, const char *path, GError **error) {
        if (el->text)
                return TRUE;
        if (!is_blank(child->content)) {
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                            _("Invalid domain XML at line %ld: %s must not contain text"),
                            xmlGetLineNo(child), path);
                return FALSE;
        }
        xmlUnlinkNode(child);
        xmlFreeNode(child);
        return TRUE;
}

/* The text of an element whose schema lists the values it may have. */
static gboolean check_text_value(xmlNode *node, const SchemaElement *el, const char *path, GError **error) {
        xmlChar *raw;
        g_autofree char *value = NULL;

        if (!el->text || strcmp(el->text, TEXT) == 0)
                return TRUE;
        raw = xmlNodeGetContent(node);
        value = g_strdup((const char *) raw);
        xmlFree(raw);
        if (!value || !word_in_list(value, el->text)) {
                g_autofree char *q = domain_schema_quote(value);
                g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                            _("Unsupported value %s='%s' at line %ld: supported values are: %s"),
                            path, q, xmlGetLineNo(node), el->text);
                return FALSE;
        }
        return TRUE;
}

/* Whitespace-only text goes from the whole subtree, so that formatting
 * indents it like the rest; elements with text of their own keep theirs. */
static void strip_blank_text(xmlNode *node) {
        gboolean mixed = FALSE;
        xmlNode *next;

        for (xmlNode *c = node->children; c; c = c->next)
                if (c->type == XML_TEXT_NODE && !is_blank(c->content))
                        mixed = TRUE;
        for (xmlNode *c = node->children; c; c = next) {
                next = c->next;
                if (c->type == XML_ELEMENT_NODE)
                        strip_blank_text(c);
                else if (c->type == XML_TEXT_NODE && !mixed) {
                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                }
        }
}

static gboolean has_earlier_namespace(xmlNode *node) {
        for (xmlNode *n = node->prev; n; n = n->prev)
                if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->ns->href, node->ns->href))
                        return TRUE;
        return FALSE;
}

/* <metadata>: what applications keep in a definition is theirs, so it is
 * kept as written, not checked. Like libvirt, each child is an element in
 * a namespace of its own (libvirt silently drops the others: refused here,
 * so that nothing is lost on the way through). */
static gboolean check_opaque(xmlNode *node, const char *path, GError **error) {
        for (xmlNode *c = node->children; c; c = c->next) {
                if (c->type == XML_TEXT_NODE && is_blank(c->content))
                        continue;
                if (c->type == XML_COMMENT_NODE)
                        continue;
                if (c->type != XML_ELEMENT_NODE || !c->ns || !c->ns->href || !*c->ns->href) {
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                                    _("Invalid domain XML at line %ld: every child of %s must be an element in a namespace of its own"),
                                    xmlGetLineNo(c), path);
                        return FALSE;
                }
                if (has_earlier_namespace(c)) {
                        g_autofree char *q = domain_schema_quote((const char *) c->ns->href);
                        g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                                    _("Invalid domain XML at line %ld: %s has more than one element in namespace '%s'"),
                                    xmlGetLineNo(c), path, q);
                        return FALSE;
                }
        }
        strip_blank_text(node);
        return TRUE;
}

static gboolean check_element(xmlNode *node, const SchemaElement *el, const char *path,
                              GError **error) {
        xmlNode *next;

        if (!check_attributes(node, el, path, error))
                return FALSE;
        if (el->opaque)
                return check_opaque(node, path, error);

        for (xmlNode *child = node->children; child; child = next) {
                next = child->next;

                switch (child->type) {
                case XML_ELEMENT_NODE:
                        if (!check_child_element(child, path, error))
                                return FALSE;
                        break;
                case XML_TEXT_NODE:
                        if (!check_text_node(child, el, path, error))
                                return FALSE;
                        break;
                case XML_COMMENT_NODE:
                        break;
                default:
                        /* Processing instructions, entity references (no DTD
                         * gets this far), CDATA (merged by the parser). */
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("Unsupported XML node inside %s at line %ld: only elements, text and comments are supported"),
                                    path, xmlGetLineNo(child));
                        return FALSE;
                }
        }
        return check_text_value(node, el, path, error);
}

gboolean domain_schema_check(xmlDoc *doc, GError **error) {
        xmlNode *root = xmlDocGetRootElement(doc);

        g_return_val_if_fail(doc, FALSE);

        for (xmlNode *n = doc->children; n; n = n->next)
                if (n->type != XML_ELEMENT_NODE && n->type != XML_COMMENT_NODE) {
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("Unsupported XML node outside /domain at line %ld: only comments may accompany the <domain> element"),
                                    xmlGetLineNo(n));
                        return FALSE;
                }

        if (!root || root->ns || !xmlStrEqual(root->name, BAD_CAST "domain")) {
                g_autofree char *qname = root ? node_qname(root->name, root->ns) : NULL;
                g_autofree char *q = domain_schema_quote(qname);
                g_set_error(error, MD_ERROR, MD_ERROR_INVALID_XML,
                            _("Invalid domain XML at line %ld: the root element is <%s>, expected <domain>"),
                            root ? xmlGetLineNo(root) : 1L, q);
                return FALSE;
        }

        return check_element(root, schema_lookup("/domain"), "/domain", error);
}
