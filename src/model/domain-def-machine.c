/* What a domain definition says of the machine besides its memory and
 * devices: the clock and its timers. The schema has checked the values;
 * what none of this file reads is refused at Start (domain-def-runtime.c),
 * which also refuses the timer settings not carried out here. */
#include <string.h>

#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-xml.h"

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

gboolean domain_def_extract_machine(DomainDef *def, xmlNode *root, GError **error) {
        extract_clock(def, root);
        return TRUE;
}
