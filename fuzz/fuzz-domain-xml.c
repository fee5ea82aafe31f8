/* Fuzz target for the domain XML parser: whatever parses must format to XML
 * that parses again to the same definition, and format identically. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain-def.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(gboolean ok, const char *what, const char *xml) {
        if (ok)
                return;
        fprintf(stderr, "Round trip changed %s of:\n%s\n", what, xml);
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(DomainDef) def = NULL;
        g_autoptr(DomainDef) again = NULL;
        g_autoptr(DomainDef) copy = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *xml = NULL;
        g_autofree char *xml_again = NULL;

        def = domain_def_parse((const char *) data, (gssize) size, &error);
        if (!def) {
                if (!error || !error->message[0])
                        abort();
                return 0;
        }

        xml = domain_def_format(def);
        again = domain_def_parse(xml, -1, &error);
        if (!again) {
                fprintf(stderr, "Formatted XML does not parse: %s\n%s\n", error->message, xml);
                abort();
        }
        check(strcmp(def->name, again->name) == 0, "the name", xml);
        check(strcmp(def->uuid, again->uuid) == 0, "the UUID", xml);
        check(def->memory_kib == again->memory_kib, "the memory", xml);
        check(def->vcpus == again->vcpus, "the vCPUs", xml);
        check(def->mem_prealloc == again->mem_prealloc &&
              def->mem_prealloc_threads == again->mem_prealloc_threads, "the RAM allocation", xml);
        check(def->mem_hugepages == again->mem_hugepages && def->mem_hugepage_kib == again->mem_hugepage_kib,
              "the huge pages", xml);
        check(def->current_vcpus == again->current_vcpus && def->sockets == again->sockets &&
              def->cores == again->cores && def->threads == again->threads && def->dies == again->dies,
              "the vCPU topology", xml);
        check(g_strcmp0(def->cpu_model, again->cpu_model) == 0 &&
              g_strv_equal((const char *const *) def->cpu_features, (const char *const *) again->cpu_features),
              "the CPU model", xml);
        check(strcmp(def->boot_order, again->boot_order) == 0 && def->boot_menu == again->boot_menu &&
              def->boot_menu_timeout == again->boot_menu_timeout && def->reboot_timeout == again->reboot_timeout,
              "the boot settings", xml);
        check(def->disks->len == again->disks->len, "the disks", xml);
        check(def->chardevs->len == again->chardevs->len, "the chardevs", xml);
        for (guint i = 0; i < def->disks->len; i++) {
                const DomainDisk *a = def->disks->pdata[i], *b = again->disks->pdata[i];

                check(a->cache == b->cache && a->readonly == b->readonly && a->shareable == b->shareable &&
                      g_strcmp0(a->io, b->io) == 0 && g_strcmp0(a->discard, b->discard) == 0 &&
                      g_strcmp0(a->source_file, b->source_file) == 0, "a disk", xml);
        }

        xml_again = domain_def_format(again);
        check(strcmp(xml, xml_again) == 0, "the formatted text", xml);

        copy = domain_def_copy(def);
        g_free(xml_again);
        xml_again = domain_def_format(copy);
        check(strcmp(xml, xml_again) == 0, "the copy", xml);
        /* Start's check of what is kept but not carried out (XPath). */
        g_free(xml_again);
        xml_again = NULL;
        if (domain_def_has_unsupported_runtime(def, &xml_again))
                check(xml_again && *xml_again, "the unsupported setting's name", xml);
        return 0;
}
