/* What a domain definition says of the machine besides its memory and
 * devices: the CPU model, the vCPUs' topology, the clock and its timers, the firmware's
 * boot settings, what a reboot does, VMware's I/O port and the ACPI sleep
 * states. The schema has checked the values;
 * what none of this file reads is refused at Start (domain-def-runtime.c),
 * which also refuses the timer settings not carried out here. */
#include <string.h>

#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-schema.h"
#include "domain-xml.h"
#include "i18n.h"

/* <clock offset=...>, and libvirt's meaning of the three timers that
 * virt-manager writes into every guest (rtc catchup, pit delay, hpet
 * present='no'). */
static void extract_clock(DomainDef *def, xmlNode *root) {
        xmlNode *clock = domain_xml_child(root, "clock");
        g_autofree char *offset = domain_xml_prop(clock, "offset");

        def->clock_localtime = g_strcmp0(offset, "localtime") == 0;
        for (xmlNode *n = clock ? clock->children : NULL; n; n = n->next) {
                g_autofree char *name = NULL;
                g_autofree char *tickpolicy = NULL;
                g_autofree char *present = NULL;

                if (n->type != XML_ELEMENT_NODE)
                        continue;
                name = domain_xml_prop(n, "name");
                tickpolicy = domain_xml_prop(n, "tickpolicy");
                present = domain_xml_prop(n, "present");
                if (g_strcmp0(name, "rtc") == 0)
                        def->rtc_catchup = g_strcmp0(tickpolicy, "catchup") == 0;
                else if (g_strcmp0(name, "pit") == 0 && tickpolicy) {
                        g_free(def->pit_tickpolicy);
                        def->pit_tickpolicy = g_steal_pointer(&tickpolicy);
                } else if (g_strcmp0(name, "hpet") == 0)
                        def->hpet_off = g_strcmp0(present, "no") == 0;
        }
}

/* <os><boot dev=...> in order, as QEMU's drive letters; each once. */
static void extract_boot_order(DomainDef *def, xmlNode *os) {
        static const struct { const char *dev; char letter; } letters[] = {
                { "hd", 'c' }, { "cdrom", 'd' }, { "fd", 'a' }, { "network", 'n' },
        };
        guint n = 0;

        for (xmlNode *b = os ? os->children : NULL; b; b = b->next) {
                g_autofree char *dev = NULL;

                if (b->type != XML_ELEMENT_NODE || !xmlStrEqual(b->name, BAD_CAST "boot"))
                        continue;
                dev = domain_xml_prop(b, "dev");
                for (size_t i = 0; i < G_N_ELEMENTS(letters); i++)
                        if (g_strcmp0(dev, letters[i].dev) == 0 && !strchr(def->boot_order, letters[i].letter))
                                def->boot_order[n++] = letters[i].letter;
        }
}

/* <bootmenu enable= timeout=> and <bios rebootTimeout=>, in libvirt's ranges
 * (milliseconds; -1: no reboot after a failed boot). */
static gboolean extract_boot_menu(DomainDef *def, xmlNode *os, GError **error) {
        xmlNode *menu = domain_xml_child(os, "bootmenu");
        xmlNode *bios = domain_xml_child(os, "bios");
        g_autofree char *enable = domain_xml_prop(menu, "enable");
        g_autofree char *timeout = domain_xml_prop(menu, "timeout");
        g_autofree char *reboot = domain_xml_prop(bios, "rebootTimeout");
        guint64 v;

        def->boot_menu = enable ? g_str_equal(enable, "yes") : -1;
        def->boot_menu_timeout = -1;
        if (timeout) {
                if (!domain_def_parse_uint(menu, timeout, 0, 65535, "/domain/os/bootmenu/@timeout", &v, error))
                        return FALSE;
                def->boot_menu_timeout = (int) v;
        }
        def->reboot_timeout = DOMAIN_REBOOT_TIMEOUT_DEFAULT;
        if (reboot && g_str_equal(g_strstrip(reboot), "-1"))
                def->reboot_timeout = -1;
        else if (reboot) {
                if (!domain_def_parse_uint(bios, reboot, 0, 65535, "/domain/os/bios/@rebootTimeout", &v, error))
                        return FALSE;
                def->reboot_timeout = (int) v;
        }
        return TRUE;
}

/* <cpu><topology>: a missing count is 1; all of them multiply to the
 * <vcpu> count, as libvirt requires. */
static gboolean extract_topology(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *topology = domain_xml_child(domain_xml_child(root, "cpu"), "topology");
        static const char *const names[] = { "sockets", "dies", "cores", "threads" };
        guint *counts[] = { &def->sockets, &def->dies, &def->cores, &def->threads };
        guint64 product = 1;

        if (!topology)
                return TRUE;
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                g_autofree char *raw = domain_xml_prop(topology, names[i]);
                g_autofree char *path = g_strdup_printf("/domain/cpu/topology/@%s", names[i]);
                guint64 v = 1;

                if (raw && !domain_def_parse_uint(topology, raw, 1, DOMAIN_VCPUS_MAX, path, &v, error))
                        return FALSE;
                *counts[i] = (guint) v;
                product *= v;
        }
        if (product != def->vcpus)
                return domain_xml_invalid(error, topology, _("/domain/cpu/topology gives %llu vCPUs (sockets × dies × cores × threads), but /domain/vcpu is %u"),
                                          (unsigned long long) product, def->vcpus);
        return TRUE;
}

/* QEMU's names for CPU models and features ("Skylake-Client-IBRS",
 * "sse4.2"), which go to -cpu. */
static gboolean cpu_name_is_valid(const char *name) {
        return domain_def_is_plain_name(name) && strlen(name) <= 64;
}

/* <cpu mode=...>, its <model> and <feature>s. What QEMU is not given
 * (host-model, a model outside mode='custom') is refused at Start. */
static gboolean extract_cpu_model(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *cpu = domain_xml_child(root, "cpu");
        xmlNode *model = domain_xml_child(cpu, "model");
        g_autoptr(GPtrArray) features = g_ptr_array_new_with_free_func(g_free);

        def->cpu_mode = domain_xml_prop(cpu, "mode");
        def->cpu_model = model ? g_strstrip(domain_xml_text(model)) : NULL;
        /* libvirt writes an empty <model fallback=.../> for host-model. */
        if (def->cpu_model && !*def->cpu_model)
                g_clear_pointer(&def->cpu_model, g_free);
        if (def->cpu_model && !cpu_name_is_valid(def->cpu_model)) {
                g_autofree char *q = domain_schema_quote(def->cpu_model);
                return domain_xml_invalid(error, model, _("/domain/cpu/model '%s' is not a CPU model name (use letters, digits, '.', '_' and '-', like 'Skylake-Client')"),
                                          q);
        }
        for (xmlNode *n = cpu ? cpu->children : NULL; n; n = n->next) {
                g_autofree char *name = NULL;
                g_autofree char *policy = NULL;

                if (n->type != XML_ELEMENT_NODE || !xmlStrEqual(n->name, BAD_CAST "feature"))
                        continue;
                name = domain_xml_prop(n, "name");
                policy = domain_xml_prop(n, "policy");
                if (!cpu_name_is_valid(name)) {
                        g_autofree char *q = domain_schema_quote(name);
                        return domain_xml_invalid(error, n, _("/domain/cpu/feature/@name '%s' is missing or not a CPU feature name (use letters, digits, '.', '_' and '-', like 'sse4.2')"),
                                                  q);
                }
                /* libvirt's default policy is require. */
                g_ptr_array_add(features, g_strconcat(g_strcmp0(policy, "disable") == 0 ||
                                                      g_strcmp0(policy, "forbid") == 0 ? "-" : "+", name, NULL));
        }
        g_ptr_array_add(features, NULL);
        def->cpu_features = (char **) g_ptr_array_free(g_steal_pointer(&features), FALSE);
        return TRUE;
}

/* yes/on 1, no/off 0, absent -1. */
static int tristate(xmlNode *node, const char *attr) {
        g_autofree char *v = domain_xml_prop(node, attr);

        if (!v)
                return -1;
        return g_str_equal(v, "yes") || g_str_equal(v, "on");
}

/* <features><vmport state=...>, <pmu state=...> and <pm>: the schema has
 * checked the values. */
static void extract_features(DomainDef *def, xmlNode *root) {
        xmlNode *features = domain_xml_child(root, "features");
        xmlNode *pm = domain_xml_child(root, "pm");

        def->vmport = tristate(domain_xml_child(features, "vmport"), "state");
        def->pmu = tristate(domain_xml_child(features, "pmu"), "state");
        def->pm_suspend_to_mem = tristate(domain_xml_child(pm, "suspend-to-mem"), "enabled");
        def->pm_suspend_to_disk = tristate(domain_xml_child(pm, "suspend-to-disk"), "enabled");
}

gboolean domain_def_extract_machine(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *os = domain_xml_child(root, "os");
        g_autofree char *on_reboot = domain_xml_text(domain_xml_child(root, "on_reboot"));

        /* The schema allows exactly "destroy" or "restart" (the default). */
        def->no_reboot = g_strcmp0(on_reboot, "destroy") == 0;

        extract_clock(def, root);
        extract_features(def, root);
        extract_boot_order(def, os);
        return extract_boot_menu(def, os, error) && extract_topology(def, root, error) &&
               extract_cpu_model(def, root, error);
}
