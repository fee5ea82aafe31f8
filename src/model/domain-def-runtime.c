/* What the schema accepts but the QEMU driver does not carry out.
 *
 * These settings stay valid in a definition (libvirt's own definitions
 * carry them, and one already stored must still load), but a guest started
 * without them would not be what the definition says: Start, and Prepare at
 * a migration's destination, refuse them, naming the first one. Values that
 * are libvirt's defaults (and so what QEMU does anyway) are not listed. */
#include <libxml/xpath.h>

#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-schema.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* Each expression selects what libvirt's QEMU driver acts on and this one
 * does not; the first node found is named in the error. */
static const char *const not_implemented[] = {
        /* Memory hotplug (-m slots, maxmem) */
        "/domain/maxMemory",
        /* Host-side placement and scheduling (affinity, cgroups) */
        "/domain/vcpu/@cpuset",
        "/domain/cputune/*",
        /* The guest's CPU model and features (-cpu) */
        "/domain/cpu/@mode[. = 'host-model']",
        "/domain/cpu[@mode != 'custom']/model[normalize-space()]",
        "/domain/cpu/@match[. = 'minimum']",
        "/domain/cpu/@migratable[. = 'off']",
        /* Firmware (OVMF, -bios, pflash), the serial graphics adapter */
        "/domain/os/@firmware[. = 'efi']",
        "/domain/os/loader",
        "/domain/os/nvram",
        "/domain/os/bios/@useserial[. = 'yes']",
        /* CPU and machine features (-cpu, -machine) */
        "/domain/features/apic/@eoi",
        "/domain/features/hyperv/@mode[. = 'passthrough']",
        "/domain/features/hyperv/*[@state = 'on']",
        /* off is QEMU's default for these three (libvirt passes nothing); pv-ipi is on by default */
        "/domain/features/kvm/*[@state = 'on' or not(name() = 'hidden' or name() = 'hint-dedicated' or "
        "name() = 'poll-control')]",
        /* Time (-rtc, timers) */
        "/domain/clock/timer[@name = preceding-sibling::timer/@name]",
        "/domain/clock/timer[@name != 'rtc' and @name != 'pit' and @name != 'hpet']",
        "/domain/clock/timer[@present = 'no'][@name != 'hpet']",
        "/domain/clock/timer[@name = 'hpet']/@tickpolicy",
        "/domain/clock/timer[@name = 'rtc']/@tickpolicy[. != 'catchup' and . != 'delay']",
        "/domain/clock/timer[@name = 'pit']/@tickpolicy[. != 'delay' and . != 'discard']",
        /* Lifecycle: libvirt's default is destroy (and QEMU's without
         * -no-shutdown); without a <panic> device on_crash has no effect
         * under libvirt either. */
        "/domain/on_poweroff[normalize-space() = 'restart']",
        /* Devices that libvirt creates and this driver does not */
        "/domain/devices/memballoon/stats[@period != 0]",
        "/domain/devices/input[@type = 'tablet'][@bus = 'ps2']",
        "/domain/devices/input[@bus = 'usb'][@type = preceding-sibling::input[@bus = 'usb']/@type]",
        "/domain/devices/input[@type = 'tablet'][preceding-sibling::input/@type = 'tablet']",
        "/domain/devices/input[@bus = 'usb' and @type != 'tablet'][../controller[@type = 'usb'][@model = 'none']]",
        "/domain/devices/controller[@type = 'pci'][not(@model = 'pci-root' or @model = 'pcie-root')]",
        "/domain/devices/controller[@index != 0]",
        "/domain/devices/controller[@type != 'usb']/@ports",
        "/domain/devices/controller/@vectors",
        "/domain/devices/controller/master",
        "/domain/devices/controller/model",
        "/domain/devices/controller/target",
        /* The machine's own disk controllers: an AHCI on q35 only, IDE on pc only */
        "/domain/devices/controller[@type = 'sata'][not(contains(/domain/os/type/@machine, 'q35'))]",
        "/domain/devices/controller[@type = 'ide'][contains(/domain/os/type/@machine, 'q35')]",
        /* A serial port's place (isa-serial index): serials are numbered in
         * order, and a serial console is serial port 0 */
        "/domain/devices/serial/target/@port[. != count(../../preceding-sibling::serial)]",
        "/domain/devices/console/target[not(@type) or @type = 'serial']/@port[. != 0]",
};

/* "/domain/vcpu/@cpuset='0-3'", "/domain/cputune/shares". */
static char *describe(xmlNode *node) {
        g_autofree char *path = (char *) xmlGetNodePath(node);
        g_autofree char *value = NULL;
        g_autofree char *q = NULL;
        xmlChar *raw;

        if (node->type != XML_ATTRIBUTE_NODE && !(node->children && !node->children->next &&
                                                  node->children->type == XML_TEXT_NODE))
                return g_strdup(path);
        raw = xmlNodeGetContent(node);
        value = g_strdup((const char *) raw);
        xmlFree(raw);
        q = domain_schema_quote(g_strstrip(value));
        return g_strdup_printf("%s='%s'", path, q);
}

static gboolean find_first(xmlXPathContext *ctx, const char *expr, char **ret_what) {
        g_autoptr(xmlXPathObject) found = xmlXPathEvalExpression(BAD_CAST expr, ctx);

        /* The expressions are constants: one that does not evaluate is a bug. */
        if (!found)
                g_error("Failed to evaluate XPath expression %s", expr);
        if (found->type != XPATH_NODESET || xmlXPathNodeSetIsEmpty(found->nodesetval))
                return FALSE;
        *ret_what = describe(xmlXPathNodeSetItem(found->nodesetval, 0));
        return TRUE;
}

gboolean domain_def_find_not_implemented(const DomainDef *def, xmlDoc *doc, char **ret_what) {
        g_autoptr(xmlXPathContext) ctx = xmlXPathNewContext(doc);

        if (!ctx)
                g_error("Failed to allocate an XPath context");
        /* The balloon's target at start (libvirt sets it over the monitor). */
        if (def->current_memory_kib != def->memory_kib) {
                *ret_what = g_strdup("/domain/currentMemory (less than /domain/memory)");
                return TRUE;
        }
        for (size_t i = 0; i < G_N_ELEMENTS(not_implemented); i++)
                if (find_first(ctx, not_implemented[i], ret_what))
                        return TRUE;
        return FALSE;
}
