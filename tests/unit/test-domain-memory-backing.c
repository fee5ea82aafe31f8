/* Unit tests of <memoryBacking>: <allocation> and <hugepages> read into the
 * definition, kept in its canonical text, and refused with a named error
 * when their values are not ones QEMU can be given (or what the QEMU driver
 * does not do: NUMA node page sizes). Whether the host has such pages is
 * Start's question. */
#include <string.h>

#include "domain-def.h"
#include "md-error.h"

/* A domain whose <memoryBacking> holds @backing. */
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

/* Refused with @code, a message that has @needle and names the element. */
static void assert_refused(const char *element, const char *backing, int code, const char *needle) {
        g_autofree char *xml = domain_with(backing);
        g_autofree char *path = g_strconcat("/domain/memoryBacking/", element, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);

        if (def)
                g_error("Accepted: %s", backing);
        g_assert_error(error, MD_ERROR, code);
        if (!strstr(error->message, needle))
                g_error("Message \"%s\" does not contain \"%s\"", error->message, needle);
        g_assert_nonnull(strstr(error->message, path));
}

static void test_allocation_modes(void) {
        g_autoptr(DomainDef) immediate = parse_ok("<allocation mode='immediate'/>");
        g_autoptr(DomainDef) threads = parse_ok("<allocation mode='immediate' threads=' 4 '/>");
        g_autoptr(DomainDef) ondemand = parse_ok("<allocation mode='ondemand'/>");
        g_autoptr(DomainDef) bare = parse_ok("<allocation/>");
        g_autoptr(DomainDef) hugepages = parse_ok("<hugepages/>");

        g_assert_true(immediate->mem_prealloc);
        g_assert_cmpuint(immediate->mem_prealloc_threads, ==, 0);
        g_assert_true(threads->mem_prealloc);
        g_assert_cmpuint(threads->mem_prealloc_threads, ==, 4);
        g_assert_false(ondemand->mem_prealloc);
        g_assert_false(bare->mem_prealloc);
        g_assert_false(hugepages->mem_prealloc);
}

/* The element stays in the text GetXMLDesc returns, and reads back to the
 * same fields; copies keep it too. */
static void test_allocation_round_trip(void) {
        g_autoptr(DomainDef) def = parse_ok("<hugepages/><allocation mode='immediate' threads='3'/>");
        g_autoptr(DomainDef) again = NULL;
        g_autoptr(DomainDef) copy = domain_def_copy(def);
        g_autoptr(GError) error = NULL;
        g_autofree char *text = domain_def_format(def);

        g_assert_nonnull(strstr(text, "  <memoryBacking>\n    <hugepages/>\n"
                                      "    <allocation mode=\"immediate\" threads=\"3\"/>\n  </memoryBacking>\n"));
        again = domain_def_parse(text, -1, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(again->xml, ==, text);
        g_assert_true(again->mem_prealloc);
        g_assert_cmpuint(again->mem_prealloc_threads, ==, 3);
        g_assert_true(copy->mem_prealloc);
        g_assert_cmpuint(copy->mem_prealloc_threads, ==, 3);
        g_assert_cmpstr(copy->xml, ==, text);
}

static void test_allocation_hostile(void) {
        assert_refused("allocation", "<allocation mode='bogus'/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("allocation", "<allocation mode=''/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("allocation", "<allocation mode='Immediate'/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("allocation", "<allocation mode='immediate ondemand'/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("allocation", "<allocation mode='immediate' threads='0'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("allocation", "<allocation mode='immediate' threads='-1'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("allocation", "<allocation mode='immediate' threads='1025'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("allocation", "<allocation mode='immediate' threads='18446744073709551617'/>", MD_ERROR_INVALID_XML,
                                     "from 1 to 1024");
        assert_refused("allocation", "<allocation mode='immediate' threads='four'/>", MD_ERROR_INVALID_XML, "'four'");
        assert_refused("allocation", "<allocation mode='immediate' threads='2.5'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("allocation", "<allocation mode='immediate' threads='0x10'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("allocation", "<allocation mode='immediate' threads=''/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        /* Threads without preallocation would be a setting silently ignored. */
        assert_refused("allocation", "<allocation threads='2'/>", MD_ERROR_INVALID_XML, "mode='immediate'");
        assert_refused("allocation", "<allocation mode='ondemand' threads='2'/>", MD_ERROR_INVALID_XML, "mode='immediate'");
        assert_refused("allocation", "<allocation mode='immediate' size='2'/>", MD_ERROR_UNSUPPORTED, "@size");
        assert_refused("allocation", "<allocation mode='immediate'/><allocation mode='ondemand'/>", MD_ERROR_INVALID_XML,
                                     "only once");
        assert_refused("allocation", "<allocation mode='immediate'>text</allocation>", MD_ERROR_INVALID_XML, "text");
}

static void test_hugepage_sizes(void) {
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
static void test_hugepage_round_trip(void) {
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

static void test_hugepage_hostile(void) {
        /* libvirt's per NUMA node sizes, and anything else it does not have. */
        assert_refused("hugepages", "<hugepages><page size='2048' nodeset='0'/></hugepages>", MD_ERROR_UNSUPPORTED, "@nodeset");
        assert_refused("hugepages", "<hugepages><page size='2048'/><page size='1048576'/></hugepages>", MD_ERROR_UNSUPPORTED,
                                    "a second page size");
        assert_refused("hugepages", "<hugepages><page size='2048'/><!-- c --><page size='2048'/></hugepages>",
                                    MD_ERROR_UNSUPPORTED, "a second page size");
        assert_refused("hugepages", "<hugepages size='2048'/>", MD_ERROR_UNSUPPORTED, "@size");
        assert_refused("hugepages", "<hugepages><page size='2048' foo='1'/></hugepages>", MD_ERROR_UNSUPPORTED, "@foo");
        assert_refused("hugepages", "<hugepages><page size='2048' xmlns:x='urn:x' x:size='1'/></hugepages>",
                                    MD_ERROR_UNSUPPORTED, "x:size");
        assert_refused("hugepages", "<hugepages><pages size='2048'/></hugepages>", MD_ERROR_UNSUPPORTED, "/pages");
        assert_refused("hugepages", "<hugepages><page size='2048'><page/></page></hugepages>", MD_ERROR_UNSUPPORTED,
                                    "/page/page");
        assert_refused("hugepages", "<hugepages>2048</hugepages>", MD_ERROR_INVALID_XML, "text");
        assert_refused("hugepages", "<hugepages><page size='2048'>x</page></hugepages>", MD_ERROR_INVALID_XML, "text");
        assert_refused("hugepages", "<hugepages/><hugepages/>", MD_ERROR_INVALID_XML, "only once");
        /* Not a size, or not one a page can have. */
        assert_refused("hugepages", "<hugepages><page/></hugepages>", MD_ERROR_INVALID_XML, "@size is missing");
        assert_refused("hugepages", "<hugepages><page unit='M'/></hugepages>", MD_ERROR_INVALID_XML, "@size is missing");
        assert_refused("hugepages", "<hugepages><page size=''/></hugepages>", MD_ERROR_INVALID_XML, "@size must be an integer");
        assert_refused("hugepages", "<hugepages><page size='two'/></hugepages>", MD_ERROR_INVALID_XML, "'two'");
        assert_refused("hugepages", "<hugepages><page size='-2048'/></hugepages>", MD_ERROR_INVALID_XML, "'-2048'");
        assert_refused("hugepages", "<hugepages><page size='2.5' unit='M'/></hugepages>", MD_ERROR_INVALID_XML, "'2.5'");
        assert_refused("hugepages", "<hugepages><page size='0x800'/></hugepages>", MD_ERROR_INVALID_XML, "'0x800'");
        assert_refused("hugepages", "<hugepages><page size='0'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("hugepages", "<hugepages><page size='3000'/></hugepages>", MD_ERROR_INVALID_XML, "not 3000 KiB");
        assert_refused("hugepages", "<hugepages><page size='2' unit='MB'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("hugepages", "<hugepages><page size='2'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("hugepages", "<hugepages><page size='1' unit='b'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("hugepages", "<hugepages><page size='32' unit='G'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("hugepages", "<hugepages><page size='1' unit='E'/></hugepages>", MD_ERROR_INVALID_XML, "power of two");
        assert_refused("hugepages", "<hugepages><page size='16' unit='E'/></hugepages>", MD_ERROR_INVALID_XML, "too large");
        assert_refused("hugepages", "<hugepages><page size='18446744073709551615'/></hugepages>", MD_ERROR_INVALID_XML,
                                    "too large");
        assert_refused("hugepages", "<hugepages><page size='18446744073709551616'/></hugepages>", MD_ERROR_INVALID_XML,
                                    "must be an integer");
        assert_refused("hugepages", "<hugepages><page size='2048' unit='pages'/></hugepages>", MD_ERROR_INVALID_XML,
                                    "/page/@unit='pages' is not a unit");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/domain-allocation/modes", test_allocation_modes);
        g_test_add_func("/domain-allocation/round-trip", test_allocation_round_trip);
        g_test_add_func("/domain-allocation/hostile", test_allocation_hostile);
        g_test_add_func("/domain-hugepages/sizes", test_hugepage_sizes);
        g_test_add_func("/domain-hugepages/round-trip", test_hugepage_round_trip);
        g_test_add_func("/domain-hugepages/hostile", test_hugepage_hostile);
        return g_test_run();
}
