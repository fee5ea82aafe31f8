/* Unit tests of <memoryBacking><allocation>: read into the definition,
 * kept in its canonical text, and refused with a named error when its
 * values are not ones QEMU can be given. */
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

static void assert_refused(const char *backing, int code, const char *needle) {
        g_autofree char *xml = domain_with(backing);
        g_autoptr(GError) error = NULL;
        g_autoptr(DomainDef) def = domain_def_parse(xml, -1, &error);

        g_assert_null(def);
        g_assert_error(error, MD_ERROR, code);
        if (!strstr(error->message, needle))
                g_error("Message \"%s\" does not contain \"%s\"", error->message, needle);
        g_assert_nonnull(strstr(error->message, "/domain/memoryBacking/allocation"));
}

static void test_modes(void) {
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
static void test_round_trip(void) {
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

static void test_hostile(void) {
        assert_refused("<allocation mode='bogus'/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("<allocation mode=''/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("<allocation mode='Immediate'/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("<allocation mode='immediate ondemand'/>", MD_ERROR_UNSUPPORTED, "immediate ondemand");
        assert_refused("<allocation mode='immediate' threads='0'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("<allocation mode='immediate' threads='-1'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("<allocation mode='immediate' threads='1025'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("<allocation mode='immediate' threads='18446744073709551617'/>", MD_ERROR_INVALID_XML,
                       "from 1 to 1024");
        assert_refused("<allocation mode='immediate' threads='four'/>", MD_ERROR_INVALID_XML, "'four'");
        assert_refused("<allocation mode='immediate' threads='2.5'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("<allocation mode='immediate' threads='0x10'/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        assert_refused("<allocation mode='immediate' threads=''/>", MD_ERROR_INVALID_XML, "from 1 to 1024");
        /* Threads without preallocation would be a setting silently ignored. */
        assert_refused("<allocation threads='2'/>", MD_ERROR_INVALID_XML, "mode='immediate'");
        assert_refused("<allocation mode='ondemand' threads='2'/>", MD_ERROR_INVALID_XML, "mode='immediate'");
        assert_refused("<allocation mode='immediate' size='2'/>", MD_ERROR_UNSUPPORTED, "@size");
        assert_refused("<allocation mode='immediate'/><allocation mode='ondemand'/>", MD_ERROR_INVALID_XML,
                       "only once");
        assert_refused("<allocation mode='immediate'>text</allocation>", MD_ERROR_INVALID_XML, "text");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/domain-allocation/modes", test_modes);
        g_test_add_func("/domain-allocation/round-trip", test_round_trip);
        g_test_add_func("/domain-allocation/hostile", test_hostile);
        return g_test_run();
}
