/* <memoryBacking>: how QEMU backs the guest's RAM. The schema
 * (domain-schema.c) has checked the elements and attribute names; the
 * values are read here. */
#include "domain-def.h"
#include "domain-def-private.h"
#include "domain-schema.h"
#include "domain-xml.h"
#include "i18n.h"
#include "md-error.h"

#define PAGE_PATH "/domain/memoryBacking/hugepages/page"

/* <allocation>: the schema has checked @mode. */
static gboolean extract_allocation(DomainDef *def, xmlNode *backing, GError **error) {
        xmlNode *allocation = domain_xml_child(backing, "allocation");
        g_autofree char *mode = domain_xml_prop(allocation, "mode");
        g_autofree char *threads = domain_xml_prop(allocation, "threads");
        guint64 v;

        def->mem_prealloc = g_strcmp0(mode, "immediate") == 0;
        if (!threads)
                return TRUE;
        /* Threads that allocate nothing would be a setting silently ignored. */
        if (!def->mem_prealloc)
                return domain_xml_invalid(error, allocation,
                                          _("/domain/memoryBacking/allocation/@threads applies only with mode='immediate'"));
        if (!domain_def_parse_uint(allocation, threads, 1, DOMAIN_PREALLOC_THREADS_MAX,
                                   "/domain/memoryBacking/allocation/@threads", &v, error))
                return FALSE;
        def->mem_prealloc_threads = (guint) v;
        return TRUE;
}

/* <page size=... unit=...>: a power of two from 4 KiB (the base page) to
 * DOMAIN_HUGEPAGE_MAX_KIB. Whether the host has a hugetlbfs of that size is
 * for Start to find out. */
static gboolean extract_page(DomainDef *def, xmlNode *page, GError **error) {
        g_autofree char *size = domain_xml_prop(page, "size");
        g_autofree char *unit = domain_xml_prop(page, "unit");
        guint64 kib;

        if (!size)
                return domain_xml_invalid(error, page, _("%s/@size is missing"), PAGE_PATH);
        if (!domain_def_parse_size(page, size, unit, PAGE_PATH "/@size", PAGE_PATH, &kib, error))
                return FALSE;
        if (kib < 4 || kib > DOMAIN_HUGEPAGE_MAX_KIB || (kib & (kib - 1)) != 0)
                return domain_xml_invalid(error, page,
                                          _("%s/@size must be a power of two from 4 KiB to %llu KiB, not %llu KiB"),
                                          PAGE_PATH, (unsigned long long) DOMAIN_HUGEPAGE_MAX_KIB,
                                          (unsigned long long) kib);
        def->mem_hugepage_kib = kib;
        return TRUE;
}

/* <hugepages>, with at most one <page>: libvirt repeats <page> only to give
 * NUMA nodes (@nodeset, which the schema refuses) sizes of their own. */
static gboolean extract_hugepages(DomainDef *def, xmlNode *backing, GError **error) {
        xmlNode *hugepages = domain_xml_child(backing, "hugepages");
        xmlNode *page = domain_xml_child(hugepages, "page");

        def->mem_hugepages = hugepages != NULL;
        if (!page)
                return TRUE;
        for (xmlNode *n = page->next; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE) {
                        g_set_error(error, MD_ERROR, MD_ERROR_UNSUPPORTED,
                                    _("Unsupported element %s at line %ld: a second page size (libvirt's per NUMA node sizes) is not supported; keep one <page> or use libvirt"),
                                    PAGE_PATH, xmlGetLineNo(n));
                        return FALSE;
                }
        return extract_page(def, page, error);
}

gboolean domain_def_extract_memory_backing(DomainDef *def, xmlNode *root, GError **error) {
        xmlNode *backing = domain_xml_child(root, "memoryBacking");

        return extract_allocation(def, backing, error) && extract_hugepages(def, backing, error);
}
