/* Unit tests of <memoryBacking><hugepages>: read into the definition, kept
 * in its canonical text, and refused with a named error when it asks for
 * what the QEMU driver does not do (NUMA node sizes) or is not a page
 * size. Whether the host has such pages is Start's question. */
#include <string.h>

#include "domain-def.h"
#include "md-error.h"

static char *domain_with(const char *backing) {
        return g_strdup_printf("<domain type='qemu'>\n<name>vm1</name>\n<memory unit='MiB'>64</memory>\n"
                               "<memoryBacking>%s</memoryBacking>\n<os><type>hvm</type></os>\n</domain>",
                               backing);
}

static DomainDef *parse_ok(const char *backing) {
        g_autofree char *xml = domain_with(backing);
        g_autoptr(GError) error = NULL;
        DomainDef *def = domain_def_parse(xml, -1, &error);

        g_assert_no_error(error);
        g_assert_nonnull(def);
        return def;
}

static void assert_refused(const char *backing, int code, const char *needle) {
        g_autofree char *xml = domain_with(backing);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);

        if (def)
                g_error("Accepted: %s", backing);
        g_assert_error(error, MD_ERROR, code);
        if (!strstr(error->message, needle))
                g_error("Message \"%s\" does not contain \"%s\"", error->message, needle);
        g_assert_nonnull(strstr(error->message, "/domain/memoryBacking/hugepages"));
}

static void test_sizes(void) {
        static const struct { const char *page; guint64 kib; } cases[] = {
                { "<page size='2048'/>", 2048 },
                { "<page size='2048' unit='KiB'/>", 2048 },
                { "<page size='2048' unit='k'/>", 2048 },
                { "<page size=' 2 ' unit='M'/>", 2048 },
                { "<page size='2' unit='MiB'/>", 2048 },
                { "<page size='1' unit='G'/>", 1024 * 1024 },
                { "<page size='1' unit='GiB'/>", 1024 * 1024 },
                { "<page size='2097152' unit='b'/>", 2048 },
                { "<page size='4'/>", 4 },
                { "<page size='16' unit='GiB'/>", 16 * 1024 * 1024 },
        };
        g_autoptr(DomainDef) bare = parse_ok("<hugepages/>");
        g_autoptr(DomainDef) none = parse_ok("<allocation mode='immediate'/>");

        g_assert_true(bare->mem_hugepages);
        g_assert_cmpuint(bare->mem_hugepage_kib, ==, 0);
        g_assert_false(bare->mem_prealloc);
        g_assert_false(none->mem_hugepages);
        g_assert_cmpuint(none->mem_hugepage_kib, ==, 0);
        for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *backing = g_strdup_printf("<hugepages>%s</hugepages>", cases[i].page);
                g_autoptr(DomainDef) def = parse_ok(backing);

                g_assert_true(def->mem_hugepages);
                g_assert_cmpuint(def->mem_hugepage_kib, ==, cases[i].kib);
        }
}

/* Kept as given in the text GetXMLDesc returns; read again and copied to
 * the same fields, together with <allocation>. */
static void test_round_trip(void) {
        g_autoptr(DomainDef) def = parse_ok("<hugepages><page size='2' unit='M'/></hugepages>"
                                            "<allocation mode='immediate' threads='2'/>");
        g_autoptr(DomainDef) copy = domain_def_copy(def);
        g_autoptr(DomainDef) again = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *text = domain_def_format(def);

        g_assert_nonnull(strstr(text, "  <memoryBacking>\n    <hugepages>\n      <page size=\"2\" unit=\"M\"/>\n"
                                      "    </hugepages>\n    <allocation mode=\"immediate\" threads=\"2\"/>\n"));
        again = domain_def_parse(text, -1, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(again->xml, ==, text);
        for (DomainDef *d = again; d; d = d == again ? copy : NULL) {
                g_assert_true(d->mem_hugepages);
                g_assert_cmpuint(d->mem_hugepage_kib, ==, 2048);
                g_assert_true(d->mem_prealloc);
                g_assert_cmpuint(d->mem_prealloc_threads, ==, 2);
        }
        g_assert_cmpstr(copy->xml, ==, text);
}

static void test_hostile(void) {
        /* libvirt's per NUMA node sizes, and anything else it does not have. */
        assert_refused("<hugepages><page size='2048' nodeset='0'/></hugepages>", MD_ERROR_UNSUPPORTED, "@nodeset");
        assert_refused("<hugepages><page size='2048'/><page size='1048576'/></hugepages>", MD_ERROR_UNSUPPORTED,
                       "a second page size");
        assert_refused("<hugepages><page size='2048'/><!-- c --><page size='2048'/></hugepages>",
                       MD_ERROR_UNSUPPORTED, "a second page size");
        assert_refused("<hugepages size='2048'/>", MD_ERROR_UNSUPPORTED, "@size");
        assert_refused("<hugepages><page size='2048' foo='1'/></hugepages>", MD_ERROR_UNSUPPORTED, "@foo");
        assert_refused("<hugepages><page size='2048' xmlns:x='urn:x' x:size='1'/></hugepages>",
                       MD_ERROR_UNSUPPORTED, "x:size");
        assert_refused("<hugepages><pages size='2048'/></hugepages>", MD_ERROR_UNSUPPORTED, "/pages");
        assert_refused("<hugepages><page size='2048'><page/></page></hugepages>", MD_ERROR_UNSUPPORTED,
                       "/page/page");
        assert_refused("<hugepages>2048</hugepages>", MD_ERROR_INVALID_XML, "text");
        assert_refused("<hugepages><page size='2048'>x</page></hugepages>", MD_ERROR_INVALID_XML, "text");
        assert_refused("<hugepages/><hugepages/>", MD_ERROR_INVALID_XML, "only once");
        /* Not a size, or not one a page can have. */
        assert_refused("<hugepages><page/></hugepages>", MD_ERROR_INVALID_XML, "@size is missing");
        assert_refused("<hugepages><page unit='M'/></hugepages>", MD_ERROR_INVALID_XML, "@size is missing");
        assert_refused("<hugepages><page size=''/></hugepages>", MD_ERROR_INVALID_XML, "@size must be an integer");
        assert_refused("<hugepages><page size='two'/></hugepages>", MD_ERROR_INVALID_XML, "'two'");
        assert_refused("<hugepages><page size='-2048'/></hugepages>", MD_ERROR_INVALID_XML, "'-2048'");
        assert_refused("<hugepages><page size='2.5' unit='M'/></hugepages>", MD_ERROR_INVALID_XML, "'2.5'");
        assert_refused("<hugepages><page size='0x800'/></hugepages>", MD_ERROR_INVALID_XML, "'0x800'");
        assert_refused("<hugepages><page size='0'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("<hugepages><page size='3000'/></hugepages>", MD_ERROR_INVALID_XML, "not 3000 KiB");
        assert_refused("<hugepages><page size='2' unit='MB'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("<hugepages><page size='2'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("<hugepages><page size='1' unit='b'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("<hugepages><page size='32' unit='G'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("<hugepages><page size='1' unit='E'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("<hugepages><page size='16' unit='E'/></hugepages>", MD_ERROR_INVALID_XML, "too large");
        assert_refused("<hugepages><page size='18446744073709551615'/></hugepages>", MD_ERROR_INVALID_XML,
                       "too large");
        assert_refused("<hugepages><page size='18446744073709551616'/></hugepages>", MD_ERROR_INVALID_XML,
                       "must be an integer");
        assert_refused("<hugepages><page size='2048' unit='pages'/></hugepages>", MD_ERROR_INVALID_XML,
                       "/page/@unit='pages' is not a unit");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/domain-hugepages/sizes", test_sizes);
        g_test_add_func("/domain-hugepages/round-trip", test_round_trip);
        g_test_add_func("/domain-hugepages/hostile", test_hostile);
        return g_test_run();
}
